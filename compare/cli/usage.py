"""What every command shares: a command-line mistake is one line on stderr and exit code 2."""
from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit code 2."""

"""One writer per folder: an exclusive, non-blocking lock on the folder itself (flock on its directory handle), so
that two processes never write one run folder or one sweep at once. The kernel drops the lock when its process
ends, however it ends, so a killed writer never leaves a folder locked; no lock file is written. Where flock does
not exist (Windows), folders are not locked."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None


class FolderBusyError(ValueError):
    """Another process is writing this folder."""


@contextmanager
def exclusive(folder: Path, what: str = "run folder") -> Iterator[None]:
    """Hold the folder (created if missing) for this process; `FolderBusyError` at once if another process holds
    it."""
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusyError(f"{what} {str(folder)!r} is being written by another process: wait for it to "
                                  "finish, or choose another folder") from None
        yield
    finally:
        os.close(fd)  # closing the handle releases the lock

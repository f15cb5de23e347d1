"""The `vaebound` command line: the top of the house. Nothing else imports it."""
from .main import main

__all__ = ["main"]

"""The failures a user can meet and mend: each is reported as one line naming the file, key or
value and what to do, without a traceback (the command line prints it and exits with status 2).

Anything else that goes wrong is a bug, and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An expected failure with a message for the user."""


class ConfigError(UserError, ValueError):
    """A configuration value that the workflow cannot run with; the message names the key."""


class DataError(UserError, ValueError):
    """A data store that breaks the data contract: the message names the store, the first bad
    sample and what is wrong with it."""


class DamagedFile(UserError):
    """A file that cannot be read as what it should be (cut short, altered, or written by another
    version): the message names it and the rule that writes it anew."""


class NotFinite(UserError, FloatingPointError):
    """A loss, gradient, objective or code that became NaN or infinite: the run stops where it
    happened, keeps its last good checkpoint and writes no output."""


class DiskFull(UserError, OSError):
    """No space was left to write an output: nothing partial was left, the previous file is kept."""

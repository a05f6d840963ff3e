"""Errors a user can act on.

Every stage raises a :class:`TaalkitError` (or a subclass) for problems caused by
input or environment: the CLI prints its one-line message and exits with code 2,
the TUI shows it in a modal. Anything else is a bug and keeps its traceback.
"""


class TaalkitError(Exception):
    """A problem the user can fix; ``str(err)`` is a one-line message saying what to do."""

    exit_code = 2


class WorkspaceError(TaalkitError):
    """The workspace is missing, not a workspace, or lacks a stage's input."""


class NameTaken(WorkspaceError):
    """The workspace already holds a different artefact under this name.

    A class of its own so each face can add its way of choosing another name (the CLI's ``--name``)
    to a message that names no control itself.
    """


class InputFormatError(TaalkitError):
    """A malformed input file; the message starts with ``FILE:LINE:``."""

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        self.detail = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class ResourceError(TaalkitError):
    """Not enough memory, disk or device for the job; the message names a smaller setting."""


class Cancelled(TaalkitError):
    """The user stopped a job; whatever it wrote so far is resumable."""

"""Errors a user can act on.

Every stage raises a :class:`TaalkitError` (or a subclass) for problems caused by
input or environment: the CLI prints its one-line message and exits with code 2,
the TUI shows it in a modal. Anything else is a bug and keeps its traceback.
"""


from typing import Optional

#: What a user can do next about an error, by id. ``kit`` says *what* went wrong in words that
#: name no face (no CLI verb, no key); each face words the next step its own way: the CLI as a
#: command (``kit.cli.next_steps``), the app as a screen and key (``tui.next_steps``).
NEXT_STEPS = (
    "create_workspace",   # make a workspace first
    "import_dictionary",  # import a dictionary file
    "import_text",        # import text (pairs or the target language alone)
    "add_model",          # add the base model
    "train_tokenizer",    # train the tokenizer for the target language
    "transtokenize",      # trans-tokenize the base model
    "finetune",           # start a new fine-tuning run
    "resume",             # resume the stopped fine-tuning run
    "export",             # export the current model as a GGUF file
    "choose_gguf",        # export, or choose an existing GGUF file to load
)


class TaalkitError(Exception):
    """A problem the user can fix; ``str(err)`` is a one-line message saying what went wrong.

    ``next_step`` (one of :data:`NEXT_STEPS`, or None) is what to do about it; the message itself
    names no command or key, so both faces can add the step in their own words.
    """

    exit_code = 2
    next_step: Optional[str] = None

    def __init__(self, *args, next_step: Optional[str] = None) -> None:
        super().__init__(*args)
        if next_step is not None:
            if next_step not in NEXT_STEPS:
                raise ValueError(f"unknown next step {next_step!r}; one of {', '.join(NEXT_STEPS)}")
            self.next_step = next_step


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

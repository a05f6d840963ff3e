"""Errors become a dialog that says what went wrong and what to do next, never a crash."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from kit.errors import Cancelled, InputFormatError, ResourceError, TaalkitError, WorkspaceError

from ..next_steps import step_for

#: The packages of the training tier (``taalkit[train]``); the runtime tier has none of them.
TRAIN_TIER = {"torch", "transformers", "peft", "accelerate", "safetensors", "sentencepiece"}


def next_step(error: BaseException) -> str:
    """One sentence telling a non-expert what to try: the step kit named, else by the kind of error."""
    step = step_for(error)
    if step is not None:
        return step.words
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in TRAIN_TIER:
        return ("This step needs the training tools, which are not installed here "
                "(pip install 'taalkit[train]'). Chat, Translate and the dictionary still work.")
    if isinstance(error, InputFormatError):
        return ("Open the file at the line named above and fix it, or tick 'skip bad lines' "
                "and import again.")
    if isinstance(error, WorkspaceError):
        return "Finish the earlier step it names (see the checklist on Home, F2), then try again."
    if isinstance(error, ResourceError):
        return "Choose a smaller setting (fewer minutes, a smaller tokenizer or quantization) and run again."
    if isinstance(error, Cancelled):
        return "Nothing is lost: press the button again, or Resume, to carry on."
    if isinstance(error, TaalkitError):
        return "Fix what the message names and run the step again."
    return ("This is a bug in taalkit, not something you did. Your workspace is unchanged; "
            "please report the message above.")


class ErrorModal(ModalScreen[None]):
    """A dialog with the one-line error and the next step; Enter or Escape closes it."""

    BINDINGS = [
        Binding("escape", "dismiss_error", "Close", id="error.close"),
        Binding("enter", "dismiss_error", "Close", show=False, id="error.close_enter"),
    ]

    DEFAULT_CSS = """
    ErrorModal { align: center middle; }
    ErrorModal > Vertical {
        width: 80%; max-width: 100; height: auto; border: thick $error; background: $surface; padding: 1 2;
    }
    ErrorModal .error-title { text-style: bold; color: $error; }
    ErrorModal .error-message { margin: 1 0; }
    ErrorModal .error-next { color: $text-muted; margin-bottom: 1; }
    ErrorModal .error-buttons { height: auto; }
    ErrorModal .error-buttons Button { margin-right: 2; }
    """

    def __init__(self, title: str, error: BaseException) -> None:
        super().__init__()
        self.title_text = title
        self.error = error
        self.message = str(error) if isinstance(error, TaalkitError) else f"{type(error).__name__}: {error}"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="error-title")
            yield Static(self.message, classes="error-message", id="error-message", markup=False)
            yield Static(next_step(self.error), classes="error-next", id="error-next")
            with Horizontal(classes="error-buttons"):
                step = step_for(self.error)
                if step is not None:
                    yield Button(step.button, variant="primary", id="error-go")
                yield Button("OK", variant="error", id="error-ok")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        step = step_for(self.error) if event.button.id == "error-go" else None
        self.dismiss(None)
        if step is not None:
            self.app.switch_mode(step.mode)

    def action_dismiss_error(self) -> None:
        self.dismiss(None)

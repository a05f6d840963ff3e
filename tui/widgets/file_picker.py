"""Choose a file (or folder) by browsing or by typing its path.

People who have never used a terminal can click through folders; people who have
can paste a path. Either way the result is a :class:`Path` or None (cancelled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label


class FilePicker(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

    DEFAULT_CSS = """
    FilePicker { align: center middle; }
    FilePicker > Vertical { width: 90%; height: 90%; border: thick $accent; background: $surface; padding: 0 1; }
    FilePicker DirectoryTree { height: 1fr; }
    FilePicker #picker-buttons { height: auto; align-horizontal: right; }
    FilePicker #picker-path { width: 1fr; }
    """

    def __init__(self, title: str, start: Path | None = None, *, folders: bool = False,
                 describe: Callable[[Path], str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.start = Path(start or Path.cwd())
        self.folders = folders
        #: Says something about the chosen file (e.g. the dictionary format the kit detects).
        self.describe = describe

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="picker-title")
            yield DirectoryTree(self.start, id="picker-tree")
            yield Input(placeholder="…or type a path here and press Enter", id="picker-path")
            yield Label("", id="picker-about")
            with Horizontal(id="picker-buttons"):
                yield Button("Cancel", id="picker-cancel")
                yield Button("Choose", variant="primary", id="picker-choose")

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#picker-path", Input).value = str(event.path)
        if self.describe is not None:
            try:
                about = self.describe(Path(event.path))
            except Exception as err:  # a description is a hint; the import itself reports errors
                about = f"cannot tell: {err}"
            self.query_one("#picker-about", Label).update(about)

    @on(DirectoryTree.DirectorySelected)
    def _folder(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#picker-path", Input).value = str(event.path)

    @on(Input.Submitted, "#picker-path")
    @on(Button.Pressed, "#picker-choose")
    def _choose(self, event) -> None:
        event.stop()
        text = self.query_one("#picker-path", Input).value.strip()
        if not text:
            self.notify("Choose a file first", severity="warning")
            return
        path = Path(text).expanduser()
        if not path.exists():
            self.notify(f"{path} does not exist", severity="error")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#picker-cancel")
    def _cancel_button(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

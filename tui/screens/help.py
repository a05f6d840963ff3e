"""Help (F1): the journey in six steps and every key, read from the live bindings.

Drawn as one Rich renderable in a Static rather than Textual's Markdown widget: the Markdown
widget builds a widget per block and table cell, which made F1 take about half a second on
a small machine even with nothing running; one renderable opens at once.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

JOURNEY = (
    ("Home (F2)", "create a workspace: a folder, the model's language (en) and yours (e.g. cy)."),
    ("Dictionary (F3)", "import a dictionary file, and text if you have it (pairs of sentences or text "
                        "in your language)."),
    ("Adapt (F4)", "add the base model, train a tokenizer, trans-tokenize, then fine-tune for a few "
                   "minutes. Escape stops; Resume carries on from the checkpoint."),
    ("Export (F5)", "write the model as a GGUF file llama.cpp can run, and check it."),
    ("Chat (F6)", "talk with it. Escape stops a reply and keeps what it wrote."),
    ("Translate (F7)", "translate text or a whole file; dictionary entries used are shown beside it."),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("f1", "close", "Close", show=False, id="help.close_f1"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: 90%; border: thick $accent;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.help_text(), id="help-text")

    def help_text(self) -> Group:
        journey = Text()
        journey.append("taalkit\n", style="bold")
        journey.append("From a dictionary file to chatting in your language, one screen at a time:\n\n")
        for i, (where, what) in enumerate(JOURNEY, 1):
            journey.append(f"{i}. ")
            journey.append(where, style="bold")
            journey.append(f": {what}\n")
        journey.append("\nCtrl+P", style="bold")
        journey.append(" opens the command palette: type a few letters of any action.\n")
        return Group(journey, Text("Keys", style="bold"), self.keys_table())

    def key_rows(self) -> list[tuple[str, str, str]]:
        """(key, what it does, binding id) for every binding of the app and the screen below."""
        rows, seen = [], set()
        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        sources = [type(self.app)] + ([] if below is None else list(type(below).__mro__))
        for source in sources:
            for binding in getattr(source, "BINDINGS", None) or []:
                if not isinstance(binding, Binding):
                    continue
                if not binding.id or binding.id in seen or not binding.description:
                    continue
                seen.add(binding.id)
                rows.append((binding.key_display or binding.key, binding.description, binding.id))
        return rows

    def keys_table(self) -> Table:
        table = Table(box=None, padding=(0, 2), show_edge=False)
        for column in ("key", "does", "id (to remap)"):
            table.add_column(column)
        for row in self.key_rows():
            table.add_row(*row)
        return table

    def action_close(self) -> None:
        self.dismiss(None)

"""Help (F1): the journey in six steps and every key, read from the live bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

JOURNEY_TEXT = """\
# taalkit

From a dictionary file to chatting in your language, one screen at a time:

1. **Home (F2)**: create a workspace: a folder, the model's language (`en`) and yours (e.g. `cy`).
2. **Dictionary (F3)**: import a dictionary file, and text if you have it (pairs of sentences or text in your language).
3. **Adapt (F4)**: add the base model, train a tokenizer, trans-tokenize, then fine-tune for a few minutes.
   Escape stops; **Resume** carries on from the checkpoint.
4. **Export (F5)**: write the model as a GGUF file llama.cpp can run, and check it.
5. **Chat (F6)**: talk with it. Escape stops a reply and keeps what it wrote.
6. **Translate (F7)**: translate text or a whole file; dictionary entries used are shown beside it.

**Ctrl+P** opens the command palette: type a few letters of any action.
"""


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
            yield Markdown(JOURNEY_TEXT + "\n" + self.keys_table(), id="help-text")

    def keys_table(self) -> str:
        """Every binding of the app and the screen below, with its id (for remapping keys)."""
        rows = ["## Keys", "", "| key | does | id |", "|---|---|---|"]
        seen = set()
        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        sources = [type(self.app)] + ([] if below is None else list(type(below).__mro__))
        for source in sources:
            for binding in getattr(source, "BINDINGS", None) or []:
                if not isinstance(binding, Binding):
                    continue
                if not binding.id or binding.id in seen or not binding.description:
                    continue
                seen.add(binding.id)
                key = binding.key_display or binding.key
                rows.append(f"| `{key}` | {binding.description} | `{binding.id}` |")
        return "\n".join(rows)

    def action_close(self) -> None:
        self.dismiss(None)

"""One line under the header with every screen's key, the current screen marked.

The footer has room for a screen's own keys only (at 80 or 100 columns it cut F5–F7 off), so the
journey keys live here, always whole: ``F1 Help  F2 Home  F3 Dictionary … F7 Translate`` is 75
columns. Each entry can be clicked as well.
"""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from ..journey import JOURNEY


def journey_markup(current: str) -> str:
    parts = ["[@click=app.help][b]F1[/b] Help[/]"]
    for mode, title, key in JOURNEY:
        text = f"[b]{key.upper()}[/b] {escape(title)}"
        if mode == current:
            parts.append(f"[reverse] {text} [/reverse]")
        else:
            parts.append(f"[@click=app.switch_mode('{mode}')]{text}[/]")
    return "  ".join(parts)


class JourneyBar(Static):
    """The journey's keys; ``current`` is the mode of the screen it sits on."""

    DEFAULT_CSS = """
    JourneyBar { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    """

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(journey_markup(current), **kwargs)
        self.current = current

"""A check box that says its state in words, not only by colour ("skip bad lines: yes")."""

from __future__ import annotations

from textual.widgets import Checkbox


class SaidCheckbox(Checkbox):
    """A :class:`~textual.widgets.Checkbox` whose label ends in ": yes" or ": no"."""

    def __init__(self, label: str, value: bool = False, **kwargs) -> None:
        self.base_label = label
        super().__init__(self._said(label, value), value, **kwargs)

    @staticmethod
    def _said(label: str, value: bool) -> str:
        return f"{label}: {'yes' if value else 'no'}"

    def watch_value(self) -> None:
        super().watch_value()
        self.label = self._said(self.base_label, self.value)

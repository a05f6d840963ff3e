"""One small event type for all long work.

A stage takes ``progress: ProgressCallback | None`` and calls it with
:class:`Progress` events; the CLI renders them as a bar, the TUI as a ProgressBar
and plot, tests collect them into a list. Cancellation is a :class:`CancelToken`
the stage checks between units of work, so a stop always lands on a clean boundary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import Cancelled


@dataclass(frozen=True)
class Progress:
    stage: str
    done: float
    total: Optional[float] = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> Optional[float]:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]


def emit(callback: Optional[ProgressCallback], stage: str, done: float, total: Optional[float] = None,
         message: str = "", **metrics: Any) -> None:
    """Send a progress event if anyone listens."""
    if callback is not None:
        callback(Progress(stage, done, total, message, metrics))


class CancelToken:
    """A thread-safe stop flag. ``check()`` raises :class:`Cancelled` once set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("stopped by the user")

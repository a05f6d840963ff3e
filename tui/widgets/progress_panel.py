"""A progress bar with ETA, a stage label and the latest metrics, fed by kit Progress events.

Stages report from a thread worker; :class:`ThreadProgress` is the callback they get.
It hops each event onto the UI thread, but at most every ``interval`` seconds (plus
every stage change and the final event), so a stage that reports per dictionary
line cannot flood the event loop and freeze the screen it is reporting to.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, Static

from kit.progress import Progress


def format_metrics(metrics: dict) -> str:
    """``loss 2.31 · bpc 1.87 · 412 tok/s · ETA 3:05``: what a stage measures, in a short line."""
    parts = []
    for key, value in metrics.items():
        if key == "eta_s" and isinstance(value, (int, float)):
            parts.append(f"ETA {int(value // 60)}:{int(value % 60):02d}")
        elif key == "tokens_per_s" and isinstance(value, (int, float)):
            parts.append(f"{value:.0f} tok/s")
        elif isinstance(value, float):
            parts.append(f"{key.replace('_', ' ')} {value:.4g}")
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return " · ".join(parts)


class ProgressPanel(Vertical):
    """Where a long job shows how far it is, how long is left and what it measures."""

    DEFAULT_CSS = """
    ProgressPanel { height: auto; padding: 0 1; }
    ProgressPanel > .progress-title { text-style: bold; }
    ProgressPanel > .progress-detail { color: $text-muted; height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Label("Nothing running.", classes="progress-title")
        bar = ProgressBar(total=None, show_eta=True)
        bar.display = False  # an idle bar would pulse forever; it appears when work starts
        yield bar
        yield Static("", classes="progress-detail")

    def start(self, title: str) -> None:
        self.query_one(".progress-title", Label).update(title)
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one(".progress-detail", Static).update("starting…")

    def show(self, event: Progress) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        if event.total:
            if bar.total != event.total:
                bar.update(total=event.total)
            bar.update(progress=event.done)
        detail = " · ".join(p for p in (event.message, format_metrics(event.metrics)) if p)
        self.query_one(".progress-title", Label).update(event.stage)
        self.query_one(".progress-detail", Static).update(detail)

    def finish(self, message: str) -> None:
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=1)
        else:
            bar.update(progress=bar.total)
        self.query_one(".progress-detail", Static).update(message)

    def stopped(self, message: str) -> None:
        self.query_one(".progress-detail", Static).update(message)


class ThreadProgress:
    """A ``kit.progress.ProgressCallback`` for thread workers that forwards to the UI thread.

    ``on_event`` runs on the UI thread. Every event is also kept (``events``) so the caller
    can, e.g., plot all loss points after the job even when the screen saw only some.
    """

    def __init__(self, app, on_event: Callable[[Progress], None], interval: float = 0.1) -> None:
        self.app = app
        self.on_event = on_event
        self.interval = interval
        self._last = 0.0
        self._stage: Optional[str] = None
        self.events: list[Progress] = []

    def __call__(self, event: Progress) -> None:
        if event.metrics:
            self.events.append(event)
        now = time.monotonic()
        final = event.total is not None and event.done >= event.total
        if event.stage == self._stage and not final and now - self._last < self.interval:
            return
        self._stage = event.stage
        self._last = now
        self.app.call_from_thread(self.on_event, event)

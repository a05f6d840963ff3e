"""A progress bar with ETA, the job's name and the latest metrics, fed by kit Progress events.

A panel is always in one of a few states, and only a running job shows a bar: a job's end
(done, stopped or failed) hides it, so no ETA keeps counting and nothing keeps pulsing after
the work is over, and the title says how it ended instead of the last stage's name. Events
that arrive after the end (a late one from a child process) do not reopen it.

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

#: Metric names shown in words (the numbers stay; the names say what they measure).
METRIC_WORDS = {"loss": "training loss", "bpc": "held-out bits/char", "lr": "learning rate"}


def format_metrics(metrics: dict) -> str:
    """``training loss 2.31 · held-out bits/char 1.87 · 412 tok/s · ETA 3:05``: a short line."""
    parts = []
    for key, value in metrics.items():
        if key == "eta_s" and isinstance(value, (int, float)):
            parts.append(f"ETA {int(value // 60)}:{int(value % 60):02d}")
        elif key == "tokens_per_s" and isinstance(value, (int, float)):
            parts.append(f"{value:.0f} tok/s")
        elif isinstance(value, float):
            parts.append(f"{METRIC_WORDS.get(key, key.replace('_', ' '))} {value:.4g}")
        else:
            parts.append(f"{METRIC_WORDS.get(key, key.replace('_', ' '))} {value}")
    return " · ".join(parts)


class ProgressPanel(Vertical):
    """Where a long job shows how far it is, how long is left and what it measures."""

    DEFAULT_CSS = """
    ProgressPanel { height: auto; padding: 0 1; }
    ProgressPanel > .progress-title { text-style: bold; }
    ProgressPanel > .progress-detail { color: $text-muted; height: auto; }
    ProgressPanel.-failed > .progress-title { color: $error; }
    ProgressPanel.-stopped > .progress-title { color: $warning; }
    """

    #: idle, running, stopping, done, stopped, failed
    state = "idle"

    def compose(self) -> ComposeResult:
        yield Label("Nothing running.", classes="progress-title")
        bar = ProgressBar(total=None, show_eta=True)
        bar.display = False  # an idle bar would pulse forever; it appears when work starts
        yield bar
        yield Static("", classes="progress-detail")

    @property
    def running(self) -> bool:
        return self.state in ("running", "stopping")

    def _set_state(self, state: str) -> None:
        self.remove_class(f"-{self.state}")
        self.state = state
        self.add_class(f"-{state}")

    def start(self, title: str) -> None:
        self.job_title = title
        self._set_state("running")
        self.query_one(".progress-title", Label).update(title)
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one(".progress-detail", Static).update("starting…")

    def show(self, event: Progress) -> None:
        if self.state != "running":
            return  # stopping keeps its message; an ended job is not reopened by a late event
        bar = self.query_one(ProgressBar)
        if event.total:
            if bar.total != event.total:
                bar.update(total=event.total)
            bar.update(progress=event.done)
        step = f"{event.done:g}/{event.total:g}" if event.total else ""
        detail = " · ".join(p for p in (event.stage, step, event.message, format_metrics(event.metrics)) if p)
        self.query_one(".progress-detail", Static).update(detail)

    def stopping(self, message: str = "stopping at the next safe point…") -> None:
        """Escape was pressed: say so at once, and stop the bar's ETA from counting on."""
        if self.state != "running":
            return
        self._set_state("stopping")
        self.query_one(ProgressBar).display = False
        self.query_one(".progress-title", Label).update(f"Stopping: {self.job_title}")
        self.query_one(".progress-detail", Static).update(message)

    def _end(self, state: str, word: str, message: str) -> None:
        title = getattr(self, "job_title", "")
        self._set_state(state)
        self.query_one(ProgressBar).display = False
        self.query_one(".progress-title", Label).update(f"{word}: {title}" if title else word)
        self.query_one(".progress-detail", Static).update(message)

    def finish(self, message: str) -> None:
        self._end("done", "Done", message)

    def stopped(self, message: str) -> None:
        self._end("stopped", "Stopped", message)

    def failed(self, message: str) -> None:
        self._end("failed", "Failed", message)

    def note(self, title: str, message: str) -> None:
        """A state read from the workspace, with no job running (e.g. a run left unfinished)."""
        if self.running:
            return
        self.job_title = ""
        self._set_state("idle")
        self.query_one(ProgressBar).display = False
        self.query_one(".progress-title", Label).update(title)
        self.query_one(".progress-detail", Static).update(message)

    def reset(self) -> None:
        """Back to idle (another workspace was opened): nothing of the last one's job stays."""
        if self.running:
            return
        self.note("Nothing running.", "")


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

"""What every journey screen shares: the workspace, long jobs in threads, stop, errors.

A screen starts long work in a thread worker; the worker opens its *own*
:class:`~kit.workspace.Workspace` (SQLite connections belong to one thread) and
reports through :class:`~tui.widgets.progress_panel.ThreadProgress`. The heavy
stages (trans-tokenize, fine-tune, export) run in a child process through
:mod:`kit.jobs`, so the worker only waits on a pipe and the screen stays quick.
Escape sets the screen's :class:`~kit.progress.CancelToken` and says "stopping" at
once; the stage stops at its next check and leaves what it wrote resumable. Every
end of a job (done, stopped, failed) settles the screen's progress panel. A worker
that fails shows an :class:`~tui.widgets.error_modal.ErrorModal`; the app keeps running.

Each screen remembers which workspace it last showed: coming back to it after another
workspace was opened resets what it held (:meth:`KitScreen.workspace_changed`) before
it re-reads the new one, so nothing of the old workspace stays on screen.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Optional

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from kit.errors import Cancelled
from kit.progress import CancelToken

from ..widgets.error_modal import ErrorModal
from ..widgets.journey_bar import JourneyBar
from ..widgets.progress_panel import ProgressPanel


def loaded_model_line(ws, loaded: Optional[str] = None) -> str:
    """One line for Chat and Translate: which model answers, and whether it is loaded yet.

    ``loaded`` is the GGUF path the screen has loaded (None before the first reply).
    """
    if ws is None:
        return ""
    export = ws.current_export()
    if export is None:
        current = ws.current_model()
        what = f"{current['name']} has no exported file yet" if current else "no model yet"
        return f"Model: {what}. Export it on Export (F5) first."
    state = "loaded" if loaded and Path(loaded) == Path(export["file"]) else "loads when first used"
    return f"Model: {Path(export['path']).name} ({export.get('quant') or 'GGUF'}) · {state}"


class KitScreen(Screen):
    """Base for the journey screens (not Help)."""

    BINDINGS = [Binding("escape", "stop_job", "Stop", id="job.stop")]

    #: Shown in the header and used by the error modal's title.
    SCREEN_TITLE = ""
    #: The app mode this screen is (marked in the journey bar).
    MODE = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cancel_token: Optional[CancelToken] = None
        self._shown_root = None  # the workspace this screen's widgets were last filled from

    # -- layout helpers -------------------------------------------------------------
    def compose_header(self) -> ComposeResult:
        yield Header()
        yield JourneyBar(self.MODE, id="journey")

    def compose_footer(self) -> ComposeResult:
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = self.SCREEN_TITLE
        self.fit_height()

    def on_screen_resume(self) -> None:
        self.fit_height()
        self.reload()

    #: Below this many rows, buttons, fields and menus drop their borders (one row each instead
    #: of three), so every action still fits on an 80×24 terminal.
    COMPACT_BELOW_ROWS = 30

    def on_resize(self) -> None:
        self.fit_height()

    def fit_height(self) -> None:
        compact = self.app.size.height < self.COMPACT_BELOW_ROWS
        self.set_class(compact, "-compact")
        for widget in self.query("Button, Input, Select, Checkbox"):
            widget.compact = compact

    def reload(self) -> None:
        """Show the app's workspace: reset first when it is another one than last shown."""
        root = self.app.workspace_root
        if root != self._shown_root:
            if self._shown_root is not None:
                self.workspace_changed()
            self._shown_root = root
        self.refresh_banner()
        self.refresh_view()

    def workspace_changed(self) -> None:
        """Another workspace was opened: forget what this screen held of the old one (override).

        The base resets the progress panels; screens clear their transcripts, results and plots.
        """
        for panel in self.query(ProgressPanel):
            panel.reset()

    def refresh_banner(self) -> None:
        """The header says the screen and the open workspace (or that none is open)."""
        ws = self.app.workspace
        if ws is None:
            self.sub_title = f"{self.SCREEN_TITLE} · no workspace open: create or open one on Home (F2)"
        else:
            self.sub_title = f"{self.SCREEN_TITLE} · workspace {ws.name} ({ws.source_lang} → {ws.target_lang})"

    def refresh_view(self) -> None:
        """Re-read what this screen shows from the workspace (override)."""

    # -- workspace ------------------------------------------------------------------
    @property
    def ws(self):
        return self.app.workspace

    def require_workspace(self) -> bool:
        if self.app.workspace is None:
            self.notify("Open or create a workspace first (F2, Home).", severity="warning")
            return False
        return True

    @contextlib.contextmanager
    def thread_workspace(self) -> Iterator:
        """A Workspace for the current thread (a worker), closed when the job ends."""
        from kit.workspace import Workspace

        ws = Workspace.open(self.app.workspace_root)
        try:
            yield ws
        finally:
            ws.close()

    # -- jobs -----------------------------------------------------------------------
    def new_cancel_token(self) -> CancelToken:
        """A fresh stop flag for the job about to start.

        Made on the UI thread *before* the worker starts and passed to it, so an Escape
        pressed right after the click still reaches the job.
        """
        self.cancel_token = CancelToken()
        return self.cancel_token

    #: What Escape says at once while the stage finishes its current unit of work.
    STOPPING_MESSAGE = "stopping at the next safe point…"

    def action_stop_job(self) -> None:
        if self.cancel_token is not None and not self.cancel_token.cancelled:
            self.cancel_token.cancel()
            for panel in self.query(ProgressPanel):
                panel.stopping(self.STOPPING_MESSAGE)

    def job_running(self) -> bool:
        return any(w.is_running for w in self.workers)

    def job_failed(self, worker: Worker, error: BaseException) -> None:
        """Settle the progress panel when a job fails or is stopped (screens may add to it)."""
        for panel in self.query(ProgressPanel):
            if not panel.running:
                continue
            if isinstance(error, Cancelled):
                panel.stopped("stopped: what was written so far is kept")
            else:
                panel.failed(f"{error}")

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR:
            error = worker.error
            self.job_failed(worker, error)
            for panel in self.query(ProgressPanel):  # whatever the screen did, the panel ends settled
                if panel.running:
                    (panel.stopped if isinstance(error, Cancelled) else panel.failed)(str(error))
            if isinstance(error, Cancelled):
                self.notify(f"{worker.name}: stopped. What was written so far is kept.")
            else:
                self.app.push_screen(ErrorModal(f"{self.SCREEN_TITLE}: {worker.name} did not finish", error))
            self.refresh_view()

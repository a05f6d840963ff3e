"""What every journey screen shares: the workspace, long jobs in threads, stop, errors.

A screen starts long work in a thread worker; the worker opens its *own*
:class:`~kit.workspace.Workspace` (SQLite connections belong to one thread) and
reports through :class:`~tui.widgets.progress_panel.ThreadProgress`. Escape sets
the screen's :class:`~kit.progress.CancelToken`; the stage stops at its next
check and leaves what it wrote resumable. A worker that fails shows an
:class:`~tui.widgets.error_modal.ErrorModal`; the app keeps running.
"""

from __future__ import annotations

import contextlib
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


class KitScreen(Screen):
    """Base for the journey screens (not Help)."""

    BINDINGS = [Binding("escape", "stop_job", "Stop", id="job.stop")]

    #: Shown in the header and used by the error modal's title.
    SCREEN_TITLE = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cancel_token: Optional[CancelToken] = None

    # -- layout helpers -------------------------------------------------------------
    def compose_header(self) -> ComposeResult:
        yield Header()
        yield Static("", id="workspace-banner", classes="workspace-banner")

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.SCREEN_TITLE

    def on_screen_resume(self) -> None:
        self.refresh_banner()
        self.refresh_view()

    def refresh_banner(self) -> None:
        ws = self.app.workspace
        banner = self.query_one("#workspace-banner", Static)
        if ws is None:
            banner.update("No workspace open yet: press F2 (Home) to create or open one.")
            banner.add_class("-missing")
        else:
            banner.update(f"Workspace {ws.name} · {ws.source_lang} → {ws.target_lang}")
            banner.remove_class("-missing")

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

    def action_stop_job(self) -> None:
        if self.cancel_token is not None and not self.cancel_token.cancelled:
            self.cancel_token.cancel()
            self.notify("Stopping at the next safe point…")

    def job_failed(self, worker: Worker, error: BaseException) -> None:
        """Hook for screens to reset their widgets when a job fails (override)."""

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR:
            error = worker.error
            self.job_failed(worker, error)
            if isinstance(error, Cancelled):
                self.notify(f"{worker.name}: stopped. What was written so far is kept.")
            else:
                self.app.push_screen(ErrorModal(f"{self.SCREEN_TITLE}: {worker.name} did not finish", error))
            self.refresh_view()

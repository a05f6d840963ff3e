"""One long-lived thread that owns a loaded llama.cpp model and the workspace it reads.

Textual thread workers each run on a fresh thread, but a loaded model should be
reused between replies and an SQLite connection may only be used by the thread
that opened it. So Chat and Translate hand their work to a ``ModelThread``: the
worker waits on it (never the UI), and everything model-related stays on one thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional


class ModelThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: Optional[ThreadPoolExecutor] = None
        self.ws = None  # a Workspace opened on this thread
        self.state: dict[str, Any] = {}  # models, sessions: whatever the screen keeps here

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the model thread and return its result (blocks the calling worker)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"taalkit-{self.name}")
        return self._pool.submit(fn, *args, **kwargs).result()

    def workspace(self, root: Path):
        """The workspace at ``root``, opened on the model thread (call only from ``call``'d code)."""
        from kit.workspace import Workspace

        if self.ws is not None and self.ws.root != Path(root).resolve():
            self._drop()
        if self.ws is None:
            self.ws = Workspace.open(root)
        return self.ws

    def _drop(self) -> None:
        for value in self.state.values():
            close = getattr(value, "close", None)
            if callable(close):
                close()
        self.state.clear()
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.submit(self._drop)
            self._pool.shutdown(wait=False)
            self._pool = None

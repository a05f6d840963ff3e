"""Helpers the TUI tests share (a module with a unique name: tests/ is not a package).

Fixtures live in conftest.py beside this file; plain functions and constants live here so
test modules can import them by name.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from kit.workspace import Workspace

#: Snapshots show folder paths, so snapshot workspaces live at a path that is the same every run.
SNAP_ROOT = Path(tempfile.gettempdir()) / "taalkit-tui-snapshots"

#: Text in three scripts: Welsh circumflexes, a combining accent (e + U+0301), and Hebrew (RTL).
MIXED_SCRIPT = "Mae'r ŵyn yn y ŷd · cafe\u0301 · שלום עולם"


def add_conversation(root: Path, turns: list[tuple[str, str]], title: str = "Sgwrs gyntaf") -> int:
    """Write a conversation straight into the workspace's real database (the chat history)."""
    ws = Workspace.open(root)
    try:
        conv = ws.db["conversations"].insert(
            {"title": title, "model_path": "gguf/model.gguf", "system_prompt": "", "created_at": "2026-01-01T00:00:00+00:00"}
        ).last_pk
        for role, content in turns:
            ws.db["messages"].insert({"conversation_id": conv, "role": role, "content": content,
                                      "created_at": "2026-01-01T00:00:00+00:00"})
        return conv
    finally:
        ws.close()


async def settle(pilot) -> None:
    """Wait for every worker to end (a failed one included: the app shows it) and the screen to update."""
    from textual.worker import WorkerFailed

    with contextlib.suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()

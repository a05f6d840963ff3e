"""Fixtures for driving the real app: a workspace at a fixed path (so snapshots are stable)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from kit.workspace import Workspace

#: Snapshots show folder paths, so snapshot workspaces live at a path that is the same every run.
SNAP_ROOT = Path(tempfile.gettempdir()) / "taalkit-tui-snapshots"

#: Text in three scripts: Welsh circumflexes, a combining accent (e + U+0301), and Hebrew (RTL).
MIXED_SCRIPT = "Mae'r ŵyn yn y ŷd · cafe\u0301 · שלום עולם"


@pytest.fixture
def snap_workspace(monkeypatch) -> Path:
    """An en→cy workspace at a fixed path, made default through $TAALKIT_WORKSPACE."""
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)
    root = SNAP_ROOT / "cymraeg"
    Workspace.init(root, source="en", target="cy").close()
    monkeypatch.setenv("TAALKIT_WORKSPACE", str(root))
    yield root
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)


@pytest.fixture
def no_workspace(monkeypatch) -> Path:
    """No workspace yet: the default path points at an empty folder."""
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)
    SNAP_ROOT.mkdir(parents=True)
    monkeypatch.setenv("TAALKIT_WORKSPACE", str(SNAP_ROOT / "default"))
    yield SNAP_ROOT
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)


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


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests in a fresh event loop (Textual's run_test is async; no plugin needed)."""
    import asyncio
    import inspect

    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


async def settle(pilot) -> None:
    """Wait for every worker to end (a failed one included: the app shows it) and the screen to update."""
    import contextlib

    from textual.worker import WorkerFailed

    with contextlib.suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()

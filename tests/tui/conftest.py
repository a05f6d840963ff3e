"""Fixtures for driving the real app: a workspace at a fixed path (so snapshots are stable)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tui_helpers import SNAP_ROOT

from kit.workspace import Workspace


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

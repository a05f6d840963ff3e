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


async def key_latencies(pilot, presses: int = 6, gap: float = 0.3, timeout: float = 120.0) -> list[float]:
    """Seconds from each F1 key event until the app has drawn its answer (Help opened, or closed).

    F1 toggles Help, so pressing it again and again never starts or stops anything else. The
    key goes in the way the terminal driver delivers it, and the clock stops when the app hands
    the compositor's update for the new screen to the display (``App._display``, which a real
    terminal would be sent; headless it is dropped). ``pilot.press`` is not used for the timing
    because it also waits for the *process* to go idle (up to 2 s), which a stage in a thread of
    this process never lets happen. Shared by the latency test and ``bench/ui_latency.py``.
    """
    import asyncio
    import time

    from textual import events

    from tui.screens.help import HelpScreen

    app = pilot.app
    drawn: list[tuple[float, object]] = []
    display = app._display

    def timed_display(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None:
            drawn.append((time.perf_counter(), screen))

    app._display = timed_display
    out = []
    try:
        for _ in range(presses):
            was_help = isinstance(app.screen, HelpScreen)
            key = events.Key("f1", None)
            key.set_sender(app)
            drawn.clear()
            started = time.perf_counter()
            app._driver.send_message(key)
            while not any(isinstance(screen, HelpScreen) != was_help for _, screen in drawn):
                if time.perf_counter() - started > timeout:
                    raise AssertionError(f"F1 not answered in {timeout:.0f} s (screen {app.screen!r}, "
                                         f"app running: {app.is_running}, return code {app.return_code})")
                await asyncio.sleep(0.002)
            out.append(next(t for t, screen in drawn if isinstance(screen, HelpScreen) != was_help) - started)
            await asyncio.sleep(gap)
    finally:
        del app._display
    if isinstance(app.screen, HelpScreen):
        await pilot.press("f1")
        await pilot.pause()
    return out


def fine_tune_workspace(root: Path, demo_data: Path, model_dir: Path):
    """A workspace with the Welsh test pairs and ``model_dir`` as its base model, ready to fine-tune."""
    from kit.corpus import import_corpus

    ws = Workspace.init(root, source="en", target="cy")
    try:
        import_corpus(ws, demo_data / "cy" / "test_en_cy.tsv", kind="parallel")
        # Registered the way the models stage records a base model (role 'source').
        ws.db["models"].insert({"name": "source", "role": "source", "path": str(model_dir)})
    finally:
        ws.close()
    return root

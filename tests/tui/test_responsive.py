"""Never frozen, never stale, never lying: the app while a real stage runs, and across workspaces.

- A real fine-tune of the tiny model runs in a child process (kit.jobs) while keys are pressed:
  each is answered within a generous bound, and Escape says "stopping" at once, then the panel
  settles (no bar, no ETA, no stage label left behind).
- Opening another workspace leaves nothing of the old one on any screen.
- Every screen opens with its main field focused.
"""

from __future__ import annotations

import asyncio
import json
import os

from textual.widgets import Input, ProgressBar, Static

from kit import jobs
from kit.workspace import Workspace
from tui_helpers import add_conversation, fine_tune_workspace, key_latencies, settle
from tui.app import TaalkitApp
from tui.screens.chat import Message
from tui.widgets.error_modal import ErrorModal
from tui.widgets.loss_plot import LossPlot
from tui.widgets.progress_panel import ProgressPanel

#: Seconds a key may take while fine-tuning runs. Generous for a loaded 2-core machine (the
#: child-process app answers in ~0.1 s there; bench/ui_latency.py has the figures).
KEY_BOUND_S = 2.0


def _text(widget) -> str:
    return str(widget.render())


async def test_keys_answered_while_fine_tuning_and_stop_settles_the_panel(tmp_path, demo_data, tiny_llama_dir):
    root = fine_tune_workspace(tmp_path / "ws", demo_data, tiny_llama_dir)
    app = TaalkitApp(workspace=root)
    assert not app.stages_in_process  # the child-process path is the app's default
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#steps", Input).value = "100000"
        await pilot.click("#finetune")
        plot = screen.query_one(LossPlot)
        for _ in range(1200):  # until the child has really trained a step
            await asyncio.sleep(0.05)
            if plot.loss:
                break
        assert plot.loss, "no training step was reported"
        children = [j.process for j in list(jobs._live) if j.process is not None and j.process.poll() is None]
        assert children and all(p.pid != os.getpid() for p in children), "fine-tuning is not in a child process"

        latencies = await key_latencies(pilot, presses=6, gap=0.2)
        assert max(latencies) < KEY_BOUND_S, latencies

        panel = screen.query_one(ProgressPanel)
        await pilot.press("escape")
        # At once, before the child has stopped: the panel says so and the bar (and its ETA) is gone.
        assert panel.state == "stopping"
        assert "checkpoint" in _text(panel.query_one(".progress-detail"))
        assert not panel.query_one(ProgressBar).display
        await settle(pilot)
        assert not isinstance(app.screen, ErrorModal), "a stop is not an error"
        assert panel.state == "stopped" and not panel.query_one(ProgressBar).display
        assert _text(panel.query_one(".progress-title")) == "Stopped: Fine-tuning"
        detail = _text(panel.query_one(".progress-detail"))
        assert "Resume" in detail and "ETA" not in detail and "finetune" not in detail
        assert all(p.poll() is not None for p in children), "the child process is still running"
        ws = Workspace.open(root)
        try:
            assert [r["status"] for r in ws.db.query("select status from runs")] == ["stopped"]
        finally:
            ws.close()


def _fill_old_workspace(root) -> None:
    """A conversation, an export with its check, and a stopped run with points: things screens show."""
    add_conversation(root, [("user", "Shwmae"), ("assistant", "HEN SGWRS")])
    ws = Workspace.open(root)
    try:
        ws.db["exports"].insert({"model_id": 1, "path": "gguf/hen-Q8_0.gguf", "quant": "Q8_0", "size_bytes": 1000,
                                 "verification": json.dumps({"ok": True, "tokenization": {"identical": True,
                                                                                           "texts": 3}}),
                                 "created_at": "2026-01-01T00:00:00+00:00"})
        run = ws.db["runs"].insert({"kind": "finetune", "status": "stopped", "step": 2, "total_steps": 9,
                                    "config": "{}"}).last_pk
        ws.db["run_metrics"].insert_all([{"run_id": run, "step": s, "loss": 5.0 - s, "bits_per_char": 3.0}
                                         for s in (1, 2)])
    finally:
        ws.close()


async def test_switching_workspace_leaves_no_stale_text(tmp_path):
    old, new = tmp_path / "hen", tmp_path / "newydd"
    Workspace.init(old, source="en", target="cy").close()
    Workspace.init(new, source="en", target="br").close()
    _fill_old_workspace(old)
    app = TaalkitApp(workspace=old)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        app.screen.query_one("#conversations").index = 0
        app.screen.query_one("#conversations").action_select_cursor()
        await pilot.pause()
        assert any(m.text == "HEN SGWRS" for m in app.screen.query(Message))
        await pilot.press("f5")
        await settle(pilot)
        assert "hen-Q8_0" in _text(app.screen.query_one("#verification"))
        await pilot.press("f4")
        await settle(pilot)
        assert app.screen.query_one(LossPlot).loss
        assert "run 1 is stopped" in _text(app.screen.query_one(".progress-title"))

        app.open_workspace(new)  # what Home's Open does
        await pilot.pause()
        assert not app.screen.query_one(LossPlot).loss
        assert _text(app.screen.query_one(".progress-title")) == "Nothing running."
        assert "✔ fine-tuned" not in _text(app.screen.query_one("#adapt-status", Static))
        await pilot.press("f5")
        await settle(pilot)
        assert _text(app.screen.query_one("#verification")) == "Nothing exported yet."
        assert app.screen.query_one("#exports").row_count == 0
        await pilot.press("f6")
        await pilot.pause()
        assert not list(app.screen.query(Message)), "the old conversation is still shown"
        assert len(app.screen.query_one("#conversations")) == 0
        assert "newydd" in app.screen.sub_title


async def test_every_screen_opens_with_its_main_field_focused(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        expected = {"f2": "workspaces", "f3": "search", "f4": "add-model", "f5": "quant", "f6": "chat-input",
                    "f7": "source-text"}
        assert app.focused is not None and app.focused.id == "workspaces", app.focused  # typing is not lost
        for key, widget_id in expected.items():
            await pilot.press(key)
            await pilot.pause()
            assert app.focused is not None and app.focused.id == widget_id, (key, app.focused)


async def test_past_conversations_have_a_key(snap_workspace):
    add_conversation(snap_workspace, [("user", "Shwmae"), ("assistant", "Helo")])
    app = TaalkitApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        assert app.focused.id == "chat-input"
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.focused.id == "conversations"
        await pilot.press("enter")
        await pilot.pause()
        assert [m.text for m in app.screen.query(Message)] == ["Shwmae", "Helo"]

"""Chat with the real embedded SmolLM2 GGUF: a reply streams in; Escape stops one and keeps it."""

from __future__ import annotations

from textual.widgets import Input, Static

from kit.infer.default_model import default_model_gguf
from tests.tui.conftest import settle
from tui.app import TaalkitApp
from tui.screens.chat import ChatScreen, Message
from tui.widgets.error_modal import ErrorModal


def register_export(ws) -> None:
    """Point the workspace at the embedded model the way an export row would."""
    ws.db["exports"].insert({"path": str(default_model_gguf()), "quant": "Q4_1", "created_at": "2026-01-01"})


async def test_reply_streams_then_escape_keeps_a_partial_reply(workspace):
    register_export(workspace)
    app = TaalkitApp(workspace=workspace.root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        box = screen.query_one("#chat-input", Input)
        box.value = "Say hello in one word."
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ErrorModal), getattr(app.screen, "message", "")
        first = [m for m in screen.query(Message) if m.role == "assistant"][-1]
        assert first.text.strip() and not first.has_class("-partial")

        # Escape right after sending: the stop reaches the reply before its first token.
        screen.query_one("#chat-input", Input).value = "Now count from one to a hundred."
        await pilot.press("enter", "escape")
        await settle(pilot)
        second = [m for m in screen.query(Message) if m.role == "assistant"][-1]
        assert second is not first and second.has_class("-partial")
        assert "partial reply is kept" in str(screen.query_one("#chat-status", Static).render())
        roles = [m["role"] for m in app.workspace.db["messages"].rows_where(order_by="id")]
        assert roles.count("user") == 2 and roles.count("assistant") == 2, roles

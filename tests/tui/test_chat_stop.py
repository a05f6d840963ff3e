"""Chat with the real embedded SmolLM2 GGUF: Escape stops a reply and keeps it; the next one streams in."""

from __future__ import annotations

from textual.widgets import Input, Static

from kit.infer.default_model import default_model_gguf
from tui_helpers import settle
from tui.app import TaalkitApp
from tui.screens.chat import ChatScreen, Message
from tui.widgets.error_modal import ErrorModal


def register_export(ws) -> None:
    """Point the workspace at the embedded model the way an export row would."""
    model = ws.db["models"].insert({"name": "finetuned-1", "role": "finetuned", "path": "models/finetuned-1"}).last_pk
    ws.db["exports"].insert({"model_id": model, "path": str(default_model_gguf()), "quant": "Q4_1",
                             "created_at": "2026-01-01"})


def replies(screen) -> list[Message]:
    return [m for m in screen.query(Message) if m.role == "assistant"]


async def test_escape_keeps_a_partial_reply_then_the_next_reply_streams_in(workspace):
    register_export(workspace)
    app = TaalkitApp(workspace=workspace.root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        box = screen.query_one("#chat-input", Input)
        box.focus()

        # Stop (what Escape does) right after sending: the reply stops before its first token.
        # Calling the action directly takes key-delivery timing out of the test; the Escape
        # binding itself is tested in test_app.py.
        screen.send("Count from one to a hundred, in words.")
        token = screen.cancel_token
        screen.action_stop_job()
        assert token.cancelled
        await settle(pilot)
        assert not isinstance(app.screen, ErrorModal), getattr(app.screen, "message", "")
        stopped = replies(screen)[-1]
        assert stopped.has_class("-partial"), stopped.text
        assert "partial reply is kept" in str(screen.query_one("#chat-status", Static).render())

        # The same conversation carries on: a normal reply streams in.
        box.value = "Say hello in one word."
        await pilot.press("enter")
        await settle(pilot)
        answer = replies(screen)[-1]
        assert answer is not stopped and answer.text.strip() and not answer.has_class("-partial")
        assert str(screen.query_one("#chat-status", Static).render()) == ""

        rows = list(app.workspace.db["messages"].rows_where(order_by="id"))
        assert [r["role"] for r in rows] == ["user", "assistant", "user", "assistant"]
        assert rows[-1]["content"] == answer.text
        assert len({r["conversation_id"] for r in rows}) == 1

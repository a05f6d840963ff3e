"""Chat: talk with the exported model; replies stream in, Escape stops and keeps the partial text.

The model (a ``kit.infer.chat.ChatSession`` over llama.cpp) lives on the screen's
:class:`~tui.model_thread.ModelThread`: it is loaded once, and the session's database
connection stays on the thread that opened it. Each reply is a thread worker that waits
while the model thread streams pieces to the screen. Escape sets the reply's CancelToken;
the session stops after the current token and saves the partial reply as it is.
"""

from __future__ import annotations

from typing import Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Collapsible, Input, Label, ListItem, ListView, Static, TextArea

from kit.errors import Cancelled

from ..model_thread import ModelThread
from ..next_steps import step_for
from .base import KitScreen, loaded_model_line

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer in the user's language."


class Message(Static):
    """One turn of the conversation; the text is shown literally (no markup)."""

    def __init__(self, role: str, text: str = "") -> None:
        super().__init__(text, markup=False, classes=f"message -{role}")
        self.role = role
        self.text = text

    def append(self, piece: str) -> None:
        self.text += piece
        self.update(self.text)

    def set_text(self, text: str) -> None:
        self.text = text
        self.update(text)


class ChatScreen(KitScreen):
    SCREEN_TITLE = "Chat"
    MODE = "chat"
    AUTO_FOCUS = "#chat-input"  # typing starts where the screen's main text goes
    BINDINGS = [
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new"),
        Binding("ctrl+y", "copy_reply", "Copy reply", id="chat.copy"),
        Binding("ctrl+s", "focus_system", "System prompt", id="chat.system"),
        Binding("ctrl+l", "focus_history", "Past chats", id="chat.history"),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model = ModelThread("chat")
        self._conversation_id: Optional[int] = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="chat-body"):
            with Vertical(id="chat-history"):
                yield Label("Conversations", classes="section-title")
                yield ListView(id="conversations")
                yield Button("New chat", id="new-chat")
            with Vertical(id="chat-main"):
                yield Static("", id="chat-model", classes="hint")
                with Collapsible(title="System prompt", collapsed=True, id="system-box"):
                    yield TextArea(DEFAULT_SYSTEM_PROMPT, id="system-prompt", soft_wrap=True)
                yield VerticalScroll(id="messages")
                yield Static("", id="chat-status", classes="hint")
                with Horizontal(classes="form-row", id="chat-input-row"):
                    yield Input(placeholder="Type a message and press Enter", id="chat-input")
                    yield Button("Send", variant="primary", id="send")
                    yield Button("Stop", variant="error", id="stop-reply")
                    yield Button("Copy", id="copy")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#messages", VerticalScroll).anchor()

    def on_unmount(self) -> None:
        self.model.shutdown()

    def workspace_changed(self) -> None:
        """Another workspace: its conversations, not this one's; its model, not this one's."""
        super().workspace_changed()
        self.query_one("#messages", VerticalScroll).remove_children()
        self._conversation_id = None
        self.query_one("#chat-status", Static).update("")
        self.query_one("#chat-model", Static).update("")

    # -- view -------------------------------------------------------------------------
    def refresh_view(self) -> None:
        history = self.query_one("#conversations", ListView)
        history.clear()
        ws = self.ws
        status = self.query_one("#chat-status", Static)
        if ws is None:
            status.update("")
            return
        self.query_one("#chat-model", Static).update(loaded_model_line(ws, self.model.state.get("path")))
        for conv in ws.db["conversations"].rows_where(order_by="id desc", limit=50):
            item = ListItem(Label(conv["title"] or f"conversation {conv['id']}", markup=False))
            item.conversation_id = conv["id"]
            history.append(item)

    @on(ListView.Selected, "#conversations")
    def _conversation_selected(self, event: ListView.Selected) -> None:
        conv_id = getattr(event.item, "conversation_id", None)
        if conv_id is None or self.ws is None:
            return
        self._conversation_id = conv_id
        messages = self.query_one("#messages", VerticalScroll)
        messages.remove_children()
        for msg in self.ws.db["messages"].rows_where("conversation_id = ?", [conv_id], order_by="id"):
            if msg["role"] != "system":
                messages.mount(Message(msg["role"], msg["content"]))

    # -- actions ----------------------------------------------------------------------
    def action_new_conversation(self) -> None:
        self.query_one("#messages", VerticalScroll).remove_children()
        self._conversation_id = None  # the next message starts a fresh session
        self.query_one("#chat-input", Input).focus()

    def action_copy_reply(self) -> None:
        replies = [m for m in self.query(Message) if m.role == "assistant"]
        if not replies:
            self.notify("No reply to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(replies[-1].text)
        self.notify("Reply copied to the clipboard.")

    def action_focus_history(self) -> None:
        """The past conversations: arrows choose one, Enter opens it."""
        history = self.query_one("#conversations", ListView)
        if not len(history):
            self.notify("No past conversations in this workspace yet.")
            return
        if history.index is None:
            history.index = 0  # the newest, highlighted, so Enter opens it
        history.focus()

    def action_focus_system(self) -> None:
        box = self.query_one("#system-box", Collapsible)
        box.collapsed = False
        self.query_one("#system-prompt", TextArea).focus()

    @on(Button.Pressed, "#new-chat")
    def _new_pressed(self) -> None:
        self.action_new_conversation()

    @on(Button.Pressed, "#copy")
    def _copy_pressed(self) -> None:
        self.action_copy_reply()

    @on(Button.Pressed, "#stop-reply")
    def _stop_pressed(self) -> None:
        self.action_stop_job()

    @on(Input.Submitted, "#chat-input")
    @on(Button.Pressed, "#send")
    def _send(self) -> None:
        box = self.query_one("#chat-input", Input)
        text = box.value.strip()
        if not text or not self.require_workspace():
            return
        box.value = ""
        self.send(text)

    def send(self, text: str) -> None:
        """Show the user's message, then stream the reply into a new message below it."""
        messages = self.query_one("#messages", VerticalScroll)
        messages.mount(Message("user", text))
        reply = Message("assistant", "")
        messages.mount(reply)
        system = self.query_one("#system-prompt", TextArea).text
        self.query_one("#chat-status", Static).update("thinking… (Esc stops)")
        self.reply_worker(text, system, reply, self.new_cancel_token())

    # -- the model thread -------------------------------------------------------------
    def _session(self, system: str):
        """Runs on the model thread: the chat session, reopened when the model, prompt or chat changes."""
        from kit.infer.chat import ChatSession
        from kit.infer.default_model import resolve_model

        ws = self.model.workspace(self.app.workspace_root)
        model_path = resolve_model(ws)
        key = (str(model_path), system, self._conversation_id)
        session = self.model.state.get("session")
        if session is not None and self.model.state.get("key") == key:
            return session
        self.model.state.pop("session", None)
        session = ChatSession.open(model_path, ws=ws, system_prompt=system, conversation_id=self._conversation_id)
        self.model.state.update(session=session, key=key, path=str(model_path))
        return session

    def _stream(self, text: str, system: str, reply: Message, cancel) -> tuple[bool, Optional[int]]:
        """Runs on the model thread: send ``text`` and stream the reply's pieces to the screen."""
        session = self._session(system)
        answer = session.send(text, cancel=cancel)
        for piece in answer:
            self.app.call_from_thread(reply.append, piece)
        self.app.call_from_thread(reply.set_text, answer.text)
        return answer.stopped, session.conversation_id

    @work(thread=True, exclusive=True, exit_on_error=False, name="reply", group="chat")
    def reply_worker(self, text: str, system: str, reply: Message, cancel) -> None:
        stopped, conversation_id = self.model.call(self._stream, text, system, reply, cancel)
        self.app.call_from_thread(self._reply_done, reply, stopped, conversation_id)

    def _reply_done(self, reply: Message, stopped: bool, conversation_id: Optional[int]) -> None:
        status = self.query_one("#chat-status", Static)
        status.update("stopped: the partial reply is kept" if stopped else "")
        if stopped:
            reply.add_class("-partial")
        if self._conversation_id is None and conversation_id is not None:
            self._conversation_id = conversation_id
            key = self.model.state.get("key")
            if key:  # the session now belongs to this conversation: keep using it
                self.model.state["key"] = (key[0], key[1], conversation_id)
        self.refresh_view()

    def job_failed(self, worker, error) -> None:
        if not isinstance(error, Cancelled):
            step = step_for(error)
            self.query_one("#chat-status", Static).update(f"no reply: {error}." + (f" {step.words}" if step else ""))

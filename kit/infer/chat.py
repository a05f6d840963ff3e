"""A chat with a GGUF model: streamed replies that can be stopped, a saved history, a context window.

The TUI and ``taalkit chat`` both drive :class:`ChatSession`::

    session = ChatSession(llm, ws=ws, system_prompt="Be brief.")
    reply = session.send("Shwmae?")
    for piece in reply:            # text pieces as the model produces them
        show(piece)                # reply.stop() or cancel.cancel() from another thread stops it
    reply.text, reply.tokens_per_s, reply.notice

A stop (the stop flag, or closing the iterator) keeps the partial reply in the history and
the database. When the conversation outgrows the model's context, the oldest turns are
left out of the prompt (``reply.notice`` says so) instead of llama.cpp failing mid-reply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Optional

from ..progress import CancelToken
from . import conversations as store
from .engine import ChatTemplate, StreamStats, load_llama, prompt_ids, stream_tokens

# Room left in the context for the reply when a conversation is trimmed.
DEFAULT_MAX_TOKENS = 512


@dataclass
class Turn:
    role: str
    content: str


class Reply:
    """One streamed reply: iterate it for text pieces; its fields fill in as it runs."""

    def __init__(self, session: "ChatSession", prompt: str, max_tokens: int, notice: str,
                 cancel: Optional[CancelToken]) -> None:
        self.session = session
        self.prompt = prompt  # exactly the text sent to llama.cpp
        self.notice = notice  # "" or what was left out to fit the context
        self.cancel = cancel or CancelToken()
        self.stats = StreamStats()
        self.finished = False
        self._max_tokens = max_tokens
        self._gen: Optional[Iterator[str]] = None

    def __iter__(self) -> Iterator[str]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    def _run(self) -> Iterator[str]:
        try:
            yield from stream_tokens(self.session.llm, self.prompt, max_tokens=self._max_tokens,
                                     stats=self.stats, temperature=self.session.temperature,
                                     cancel=self.cancel, seed=self.session.seed)
        finally:
            self._finish()

    def stop(self) -> None:
        """Stop after the current token (safe from another thread); the partial text is kept."""
        self.cancel.cancel()

    def close(self) -> None:
        """End the reply now, keeping what was produced."""
        if self._gen is not None:
            self._gen.close()
        self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if not self.stats.finish_reason:
            self.stats.finish_reason = "stopped"
        self.session._record_reply(self)

    @property
    def text(self) -> str:
        return self.stats.text.strip() if self.finished else self.stats.text

    @property
    def stopped(self) -> bool:
        return self.stats.finish_reason == "stopped"

    @property
    def tokens_per_s(self) -> float:
        return self.stats.tokens_per_s


class ChatSession:
    """A conversation with one loaded model, optionally saved in a workspace."""

    def __init__(self, llm, *, ws=None, system_prompt: Optional[str] = None, model_path: str = "",
                 temperature: float = 0.7, max_tokens: int = DEFAULT_MAX_TOKENS, seed: Optional[int] = None,
                 conversation_id: Optional[int] = None) -> None:
        self.llm = llm
        self.ws = ws
        self.template = ChatTemplate.from_llama(llm)
        self.system_prompt = system_prompt or ""
        self.model_path = model_path or getattr(llm, "model_path", "")
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.turns: list[Turn] = []
        self.conversation_id = conversation_id
        if ws is not None and conversation_id is not None:
            conv = store.conversation(ws, conversation_id)
            self.system_prompt = system_prompt if system_prompt is not None else conv["system_prompt"] or ""
            self.turns = [Turn(m["role"], m["content"]) for m in conv["messages"]]

    @classmethod
    def open(cls, model_path: os.PathLike | str, *, ws=None, n_ctx: int = 2048, n_threads: Optional[int] = None,
             **kwargs) -> "ChatSession":
        """Load ``model_path`` with CPU defaults and start a session on it."""
        llm = load_llama(model_path, n_ctx=n_ctx, n_threads=n_threads)
        rel = ws.relative(model_path) if ws is not None else str(model_path)
        return cls(llm, ws=ws, model_path=rel, **kwargs)

    # -- the conversation -----------------------------------------------------------
    def send(self, text: str, *, max_tokens: Optional[int] = None, cancel: Optional[CancelToken] = None) -> Reply:
        """Add the user's message and return the model's reply as a stream (nothing runs until iterated)."""
        self.turns.append(Turn("user", text))
        self._save("user", text)
        budget = max_tokens or self.max_tokens
        prompt, notice, budget = self._fit_prompt(budget)
        return Reply(self, prompt, budget, notice, cancel)

    def messages(self, turns: Optional[list[Turn]] = None) -> list[dict]:
        out = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return out + [{"role": t.role, "content": t.content} for t in (self.turns if turns is None else turns)]

    def _count(self, prompt: str) -> int:
        return len(prompt_ids(self.llm, prompt))  # as llama.cpp will be given it

    def _fit_prompt(self, budget: int) -> tuple[str, str, int]:
        """The prompt that fits ``n_ctx`` with room for the reply: drop oldest turns, then shorten.

        Returns (prompt, notice, max_tokens). The newest user message is always kept; if even it
        does not fit, its beginning is cut and the reply budget shrinks to what remains.
        """
        n_ctx = self.llm.n_ctx()
        budget = max(16, min(budget, n_ctx // 2))
        turns = list(self.turns)
        dropped = 0
        prompt = self.template.render(self.messages(turns))
        while self._count(prompt) + budget > n_ctx and len(turns) > 1:
            turns.pop(0)
            dropped += 1
            while len(turns) > 1 and turns[0].role != "user":
                turns.pop(0)
                dropped += 1
            prompt = self.template.render(self.messages(turns))
        notice = f"left out the {dropped} oldest message(s) to fit the model's {n_ctx}-token context" if dropped else ""
        used = self._count(prompt)
        if used + budget > n_ctx:
            last = turns[-1]
            ids = self.llm.tokenize(last.content.encode("utf-8"), add_bos=False, special=False)
            over = used + budget - n_ctx
            keep = max(1, len(ids) - over)
            cut = self.llm.detokenize(ids[-keep:]).decode("utf-8", errors="ignore")
            turns[-1] = Turn(last.role, cut)
            prompt = self.template.render(self.messages(turns))
            used = self._count(prompt)
            notice = (notice + "; " if notice else "") + \
                f"your message was too long for the context: only its last {keep} tokens were used"
            budget = max(1, min(budget, n_ctx - used))
        return prompt, notice, budget

    def _record_reply(self, reply: Reply) -> None:
        text = reply.stats.text.strip()
        self.turns.append(Turn("assistant", text))
        self._save("assistant", text, reply.stats.tokens_per_s or None)

    def _save(self, role: str, content: str, tokens_per_s: Optional[float] = None) -> None:
        if self.ws is None:
            return
        if self.conversation_id is None:
            self.conversation_id = store.start_conversation(
                self.ws, model_path=str(self.model_path), system_prompt=self.system_prompt)
        store.add_message(self.ws, self.conversation_id, role, content, tokens_per_s)

    def reset(self) -> None:
        """Start a new conversation with the same model and system prompt."""
        self.turns = []
        self.conversation_id = None

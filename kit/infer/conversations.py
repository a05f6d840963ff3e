"""Conversations and system prompts kept in the workspace database, and their export.

A chat is worth keeping: the community checks what the model said, shares good
answers, and reuses the system prompts that worked. Tables (kit.db, m001):
``system_prompts(name, text, updated_at)``, ``conversations(id, title, model_path,
system_prompt, created_at)``, ``messages(id, conversation_id, role, content, created_at, tokens_per_s)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError
from ..fsutil import atomic_path
from ..workspace import now

DEFAULT_SYSTEM_PROMPTS = {
    "assistant": "You are a helpful assistant. Answer briefly and clearly.",
}


# -- system prompts -------------------------------------------------------------------
def save_system_prompt(ws, name: str, text: str) -> None:
    """Create or overwrite the system prompt called ``name``."""
    name = (name or "").strip()
    if not name:
        raise TaalkitError("a system prompt needs a name")
    ws.db["system_prompts"].upsert({"name": name, "text": text, "updated_at": now()}, pk="name")


def system_prompts(ws) -> dict[str, str]:
    """All saved system prompts by name (the defaults first, overridable by saved ones)."""
    prompts = dict(DEFAULT_SYSTEM_PROMPTS)
    for name, text in ws.db.execute("select name, text from system_prompts order by name"):
        prompts[name] = text
    return prompts


def get_system_prompt(ws, name: str) -> str:
    prompts = system_prompts(ws)
    if name not in prompts:
        raise TaalkitError(f"no system prompt called {name!r}; saved ones: {', '.join(sorted(prompts))}")
    return prompts[name]


def delete_system_prompt(ws, name: str) -> bool:
    return bool(ws.db.execute("delete from system_prompts where name = ?", [name]).rowcount)


# -- conversations --------------------------------------------------------------------
def start_conversation(ws, *, model_path: os.PathLike | str, system_prompt: str, title: str = "") -> int:
    """A new conversation row, its ``model_path`` stored relative to the workspace (``ws.model_dir`` resolves it).

    A relative ``model_path`` is taken as already relative to the workspace; an absolute one
    inside it is made relative (the workspace can be moved or bundled), one outside stays absolute.
    """
    model_path = str(model_path or "")
    if model_path and Path(model_path).is_absolute():
        model_path = ws.relative(model_path)
    table = ws.db["conversations"]
    table.insert({"title": title, "model_path": model_path, "system_prompt": system_prompt,
                  "created_at": now()})
    return table.last_pk


def add_message(ws, conversation_id: int, role: str, content: str,
                tokens_per_s: Optional[float] = None) -> int:
    table = ws.db["messages"]
    table.insert({"conversation_id": conversation_id, "role": role, "content": content,
                  "created_at": now(), "tokens_per_s": tokens_per_s})
    if role == "user":
        # The first user line names the conversation in lists.
        ws.db.execute("update conversations set title = ? where id = ? and (title is null or title = '')",
                      [content.strip().splitlines()[0][:60] if content.strip() else "", conversation_id])
    return table.last_pk


def list_conversations(ws) -> list[dict]:
    rows = ws.db.execute(
        "select c.id, c.title, c.model_path, c.created_at, count(m.id) from conversations c "
        "left join messages m on m.conversation_id = c.id group by c.id order by c.id desc"
    ).fetchall()
    return [dict(zip(("id", "title", "model_path", "created_at", "messages"), r)) for r in rows]


def conversation(ws, conversation_id: int) -> dict:
    """One conversation with its messages in order."""
    row = ws.db.execute("select id, title, model_path, system_prompt, created_at from conversations "
                        "where id = ?", [conversation_id]).fetchone()
    if row is None:
        raise TaalkitError(f"no conversation {conversation_id} in this workspace")
    conv = dict(zip(("id", "title", "model_path", "system_prompt", "created_at"), row))
    conv["messages"] = [
        dict(zip(("role", "content", "created_at", "tokens_per_s"), r))
        for r in ws.db.execute("select role, content, created_at, tokens_per_s from messages "
                               "where conversation_id = ? order by id", [conversation_id])
    ]
    return conv


def delete_conversation(ws, conversation_id: int) -> None:
    ws.db.execute("delete from messages where conversation_id = ?", [conversation_id])
    ws.db.execute("delete from conversations where id = ?", [conversation_id])


def conversation_markdown(conv: dict) -> str:
    lines = [f"# {conv['title'] or 'Conversation'}", "",
             f"- model: `{conv['model_path']}`", f"- started: {conv['created_at']}", ""]
    if conv.get("system_prompt"):
        lines += ["**System:** " + conv["system_prompt"], ""]
    for m in conv["messages"]:
        who = {"user": "You", "assistant": "Model", "system": "System"}.get(m["role"], m["role"])
        speed = f" _({m['tokens_per_s']:.1f} tokens/s)_" if m.get("tokens_per_s") else ""
        lines += [f"**{who}:**{speed}", "", m["content"], ""]
    return "\n".join(lines)


def export_conversation(ws, conversation_id: int, path: os.PathLike | str, fmt: Optional[str] = None) -> Path:
    """Write a conversation as Markdown (``.md``) or JSON (``.json``), whole or not at all."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "md").lower()
    conv = conversation(ws, conversation_id)
    if fmt in ("md", "markdown"):
        text = conversation_markdown(conv)
    elif fmt == "json":
        text = json.dumps(conv, ensure_ascii=False, indent=2)
    else:
        raise TaalkitError(f"unknown export format {fmt!r}; use md or json")
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path

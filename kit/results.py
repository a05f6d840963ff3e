"""Typed results of the heavy stages, read from the workspace that records them.

Queries here always read to the end (``list``): a half-read SQLite cursor keeps its read
snapshot open, and the app's connection would then not see what a child process wrote since.

The stages return their database rows (dicts whose JSON columns each caller used to decode
and guess at: ``ok`` or ``passed``, three names for held-out bits per character). These
dataclasses are the one reading of those rows, for both faces: the app gets them from
:mod:`kit.jobs` after a stage ran in a child process (the database is how the child's
result reaches the parent), the CLI or a script can build them from the row a stage
returned. Each names its fields the way a reader of the app would ask for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

#: The statuses ``kit.finetune`` writes to ``runs.status``; nothing else is ever stored.
RUN_STATUSES = ("running", "stopped", "failed", "finished")


def _json(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


@dataclass(frozen=True)
class ModelResult:
    """A model a stage recorded (added base model, trans-tokenized, fine-tuned)."""

    id: int
    name: str
    role: str
    path: str
    parameters: Optional[int] = None
    method: Optional[str] = None

    @classmethod
    def from_row(cls, row: dict) -> "ModelResult":
        return cls(id=int(row["id"]), name=str(row["name"]), role=str(row.get("role") or ""),
                   path=str(row.get("path") or ""), parameters=row.get("parameters"), method=row.get("method"))

    @classmethod
    def latest(cls, ws, *roles: str) -> Optional["ModelResult"]:
        row = ws.latest_model(*roles)
        return None if row is None else cls.from_row(row)


@dataclass(frozen=True)
class FinetuneResult:
    """A finished fine-tuning run and the model it saved."""

    model: ModelResult
    run_id: int
    steps: int
    bpc_start: Optional[float]
    bpc_end: Optional[float]
    tokens_per_s: Optional[float] = None

    @classmethod
    def from_row(cls, row: dict) -> "FinetuneResult":
        """From the ``models`` row ``kit.finetune.finetune`` returns (its ``extra`` holds the run summary)."""
        extra = _json(row.get("extra"))
        return cls(model=ModelResult.from_row(row), run_id=int(extra.get("run_id") or 0),
                   steps=int(extra.get("steps") or 0), bpc_start=extra.get("bpc_start"),
                   bpc_end=extra.get("bpc_end"), tokens_per_s=extra.get("tokens_per_s"))

    @classmethod
    def latest(cls, ws) -> Optional["FinetuneResult"]:
        row = ws.latest_model("finetuned")
        return None if row is None else cls.from_row(row)


@dataclass(frozen=True)
class RunPoint:
    """One recorded step of a fine-tuning run: ``loss`` (training) or ``bits_per_char`` (held-out), or both."""

    step: int
    loss: Optional[float]
    bits_per_char: Optional[float]


@dataclass(frozen=True)
class RunState:
    """Where the newest fine-tuning run stands (what Adapt shows before anything runs)."""

    id: int
    status: str  # one of RUN_STATUSES
    step: int
    total_steps: Optional[int]

    @property
    def resumable(self) -> bool:
        return self.status != "finished"

    def points(self, ws) -> list["RunPoint"]:
        """Every metric row the run recorded, in step order (training loss and held-out bits per char)."""
        return [RunPoint(int(r["step"]), r["loss"], r["bits_per_char"])
                for r in ws.db.query("select step, loss, bits_per_char from run_metrics where run_id = ? "
                                     "order by step", [self.id])]

    @classmethod
    def latest(cls, ws) -> Optional["RunState"]:
        rows = list(ws.db.query("select * from runs where kind = 'finetune' order by id desc limit 1"))
        if not rows:
            return None
        row = rows[0]
        return cls(id=int(row["id"]), status=str(row["status"]), step=int(row.get("step") or 0),
                   total_steps=row.get("total_steps"))


@dataclass(frozen=True)
class ExportResult:
    """A GGUF file written by ``kit.gguf.export_model`` and what llama.cpp's checks said."""

    id: int
    path: str  # relative to the workspace
    quant: str
    size_bytes: int
    verification: dict = field(default_factory=dict)

    @property
    def verified(self) -> Optional[bool]:
        """True: llama.cpp agrees with the model; False: it does not; None: not checked."""
        ok = self.verification.get("ok")
        return None if ok is None else bool(ok)

    @property
    def chats(self) -> Optional[bool]:
        """Whether the model answered the check's chat prompt properly (None: not tried). A file can be
        a faithful copy (``verified``) of a model that does not chat yet (too little fine-tuning)."""
        ok = (self.verification.get("chat") or {}).get("ok")
        return None if ok is None else bool(ok)

    @property
    def chat_problems(self) -> list[str]:
        return [str(p) for p in (self.verification.get("chat") or {}).get("problems") or []]

    @classmethod
    def from_row(cls, row: dict) -> "ExportResult":
        return cls(id=int(row.get("id") or 0), path=str(row["path"]), quant=str(row.get("quant") or ""),
                   size_bytes=int(row.get("size_bytes") or 0), verification=_json(row.get("verification")))

    @classmethod
    def latest(cls, ws) -> Optional["ExportResult"]:
        rows = list(ws.db["exports"].rows_where(order_by="id desc", limit=1))
        return cls.from_row(rows[0]) if rows else None

    @classmethod
    def recent(cls, ws, limit: int = 20) -> list["ExportResult"]:
        return [cls.from_row(r) for r in ws.db["exports"].rows_where(order_by="id desc", limit=limit)]

"""A workspace is one language adaptation: a folder with ``taalkit.db`` and what the stages write.

Layout (see docs/ARCHITECTURE.md)::

    WS/taalkit.db       the SQLite database (schema in kit.db)
    WS/models/          source/ (the base model as safetensors), transtok-<method>/, finetuned-<id>/
    WS/tokenizer/       the target-language tokenizer(s)
    WS/runs/            fine-tuning runs with their checkpoints
    WS/gguf/            exported GGUF files
    WS/exports/         bundles, translation outputs, conversation exports
    WS/logs/
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import sqlite_utils

from . import __version__
from .db import connect
from .errors import WorkspaceError

DB_NAME = "taalkit.db"
SUBDIRS = ("models", "tokenizer", "runs", "gguf", "exports", "logs")


def default_workspace_path() -> Path:
    """The per-user workspace used when no ``-w`` is given (``$TAALKIT_WORKSPACE`` overrides)."""
    env = os.environ.get("TAALKIT_WORKSPACE")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("taalkit", appauthor=False)) / "default"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Workspace:
    root: Path
    db: sqlite_utils.Database

    # -- creation -----------------------------------------------------------------
    @classmethod
    def init(cls, root: os.PathLike | str, source: str, target: str, name: Optional[str] = None) -> "Workspace":
        """Create a workspace (or reopen one made for the same language pair)."""
        root = Path(root).expanduser().resolve()
        for code, what in ((source, "source"), (target, "target")):
            if not code or not code.replace("-", "").replace("_", "").isalnum():
                raise WorkspaceError(f"{what} language must be a code like 'en' or 'cy', got {code!r}")
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"{root} exists and is not a folder")
        if (root / DB_NAME).exists():
            ws = cls.open(root)
            if (ws.source_lang, ws.target_lang) != (source, target):
                raise WorkspaceError(
                    f"{root} is already a workspace for {ws.source_lang}→{ws.target_lang}; "
                    f"choose another folder for {source}→{target}"
                )
            return ws
        if root.exists() and any(root.iterdir()):
            raise WorkspaceError(f"{root} is not empty and not a workspace; choose an empty or new folder")
        root.mkdir(parents=True, exist_ok=True)
        ws = cls(root, connect(root / DB_NAME, create=True))
        ws._ensure_dirs()
        ws.set_meta(source_lang=source, target_lang=target, name=name or root.name,
                    created_at=now(), created_by=f"taalkit {__version__}")
        return ws

    @classmethod
    def open(cls, root: os.PathLike | str) -> "Workspace":
        root = Path(root).expanduser().resolve()
        if not (root / DB_NAME).exists():
            raise WorkspaceError(
                f"{root} is not a taalkit workspace (no {DB_NAME}); create one with "
                f"'taalkit init {root} --source en --target xx'"
            )
        ws = cls(root, connect(root / DB_NAME))
        if not ws.db.read_only:  # a workspace on a read-only medium is read as it is
            ws._ensure_dirs()
        return ws

    def _ensure_dirs(self) -> None:
        for sub in SUBDIRS:
            (self.root / sub).mkdir(exist_ok=True)

    # -- metadata -----------------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("select value from workspace_meta where key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, **values: Any) -> None:
        self.db["workspace_meta"].upsert_all(
            [{"key": k, "value": json.dumps(v)} for k, v in values.items()], pk="key"
        )

    @property
    def source_lang(self) -> str:
        return self.meta("source_lang")

    @property
    def target_lang(self) -> str:
        return self.meta("target_lang")

    @property
    def name(self) -> str:
        return self.meta("name", self.root.name)

    # -- paths --------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def tokenizer_dir(self) -> Path:
        return self.root / "tokenizer"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def gguf_dir(self) -> Path:
        return self.root / "gguf"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def close(self) -> None:
        self.db.close()

    # -- pipeline status ----------------------------------------------------------
    def checklist(self) -> dict[str, bool]:
        """Where this workspace stands in the pipeline, for the Home screen and ``status``."""
        def has(table: str, where: str = "1=1") -> bool:
            return bool(self.db.execute(f"select count(*) from [{table}] where {where}").fetchone()[0])

        return {
            "dictionary": has("entries"),
            "text": has("segments"),
            "source model": has("models", "role = 'source'"),
            "tokenizer": has("tokenizers"),
            "trans-tokenized": has("models", "role = 'transtok'"),
            "fine-tuned": has("models", "role = 'finetuned'"),
            "exported": has("exports"),
        }

    # -- models -------------------------------------------------------------------
    def latest_model(self, *roles: str) -> Optional[dict]:
        """The newest model row with one of ``roles`` (in preference order), or None.

        Newest means most recently made: a stage that remakes a model updates its row in place
        (same id, new ``created_at``), so the order is ``created_at``, then ``id``.

        ``models.path`` is stored relative to the workspace root so a workspace can be moved
        or bundled; ``model_dir(row)`` turns it into a path.
        """
        for role in roles or ("finetuned", "transtok", "source"):
            row = self.db.execute(
                "select * from models where role = ? order by created_at desc, id desc limit 1", [role]
            ).fetchone()
            if row:
                cols = [c[0] for c in self.db.execute("select * from models limit 0").description]
                return dict(zip(cols, row))
        return None

    def model_dir(self, row: dict) -> Path:
        path = Path(row["path"])
        return path if path.is_absolute() else self.root / path

    def relative(self, path: os.PathLike | str) -> str:
        """Store paths inside the workspace relative to it (portable bundles)."""
        path = Path(path).resolve()
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

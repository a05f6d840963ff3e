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
from typing import Any, Optional, Sequence

import sqlite_utils

from . import __version__
from .db import connect
from .errors import WorkspaceError

DB_NAME = "taalkit.db"
SUBDIRS = ("models", "tokenizer", "runs", "gguf", "exports", "logs")
#: Initialisations made to be compared with, never to continue from (kit.transtok's baselines).
BASELINE_METHODS = ("fvt", "mean", "random")


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
            raise WorkspaceError(f"{root} is not a taalkit workspace (no {DB_NAME})", next_step="create_workspace")
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
    # Every "which model / tokenizer / export" question is answered here, so the verbs, the app and
    # the stages agree on it.
    def _models(self, where: str = "1=1", args: Sequence = ()) -> list[dict]:
        return list(self.db.query(f"select * from models where {where} "
                                  "order by created_at desc, id desc", list(args)))

    def models(self) -> list[dict]:
        """Every model row, in the order they were added."""
        return list(self.db.query("select * from models order by id"))

    def latest_model(self, *roles: str) -> Optional[dict]:
        """The newest model row with one of ``roles`` (in preference order), or None.

        Newest means most recently made: a stage that remakes a model updates its row in place
        (same id, new ``created_at``), so the order is ``created_at``, then ``id``. This is the
        plain "newest of a kind" (what a stage just wrote); *which model the verbs work on* is
        :meth:`current_model`, which baselines never become.

        ``models.path`` is stored relative to the workspace root so a workspace can be moved
        or bundled; ``model_dir(row)`` turns it into a path.
        """
        for role in roles or ("finetuned", "transtok", "source"):
            rows = self._models("role = ?", [role])
            if rows:
                return rows[0]
        return None

    def model_named(self, name: str) -> Optional[dict]:
        """The model called exactly ``name``, or None."""
        rows = self._models("name = ?", [str(name)])
        return rows[0] if rows else None

    def model_by_id(self, model_id) -> Optional[dict]:
        """The model with id ``model_id``, or None (also for ``None``)."""
        rows = self._models("id = ?", [int(model_id)]) if model_id is not None else []
        return rows[0] if rows else None

    def model_by_name(self, name: str | int) -> Optional[dict]:
        """The model called ``name`` (or with that id), or None."""
        row = self.model_named(str(name))
        if row is None and str(name).isdigit():
            row = self.model_by_id(int(name))
        return row

    def model(self, ref: "str | int | dict | None" = None, *, missing: Optional[str] = None) -> dict:
        """The model ``ref`` names; every stage and face resolves its ``model=`` argument here.

        ``ref`` is a row (returned as it is), an id, or a name (a name made of digits is tried as a
        name first, then as an id); ``None`` is :meth:`current_model`. Raises
        :class:`~kit.errors.WorkspaceError` when there is no such model (``missing`` words the
        message for ``ref=None``).
        """
        if isinstance(ref, dict):
            return ref
        if ref is None:
            row = self.current_model()
            if row is None:
                raise WorkspaceError(missing or "the workspace has no model yet", next_step="add_model")
            return row
        row = self.model_by_id(ref) if isinstance(ref, int) else self.model_by_name(ref)
        if row is None:
            names = [r["name"] for r in self.models()]
            raise WorkspaceError(f"no model {ref!r} in this workspace; known: {', '.join(names) or 'none'}")
        return row

    def parent(self, row: dict) -> Optional[dict]:
        """The model ``row`` was made from, or None."""
        return self.model_by_id(row.get("parent_id"))

    def is_baseline(self, row: dict) -> bool:
        """A comparison model: a baseline initialisation (fvt, mean, random) or anything made from one."""
        seen: set = set()
        while row is not None and row["id"] not in seen:
            if (row.get("method") or "") in BASELINE_METHODS:
                return True
            seen.add(row["id"])
            row = self.parent(row)
        return False

    def current_model(self) -> Optional[dict]:
        """The one model the verbs work on (fine-tune, export, eval, translate, chat), or None.

        ``taalkit use NAME`` chooses it. Until then, and after it, it follows the main line: the
        newest model made *from* the chosen one after the choice (fine-tuning the current model makes
        its successor current), else the choice itself. With no choice at all it is the newest model
        of the main line (fine-tuned, else trans-tokenized, else source). Baselines and models made
        from them are never picked automatically, so comparing initialisations never moves it.
        """
        choice = self.meta("current_model")
        row = self.model_by_id(choice.get("id")) if isinstance(choice, dict) else None
        if row is None or row["name"] != choice.get("name"):
            row = None
            for role in ("finetuned", "transtok", "source"):
                row = next((r for r in self._models("role = ?", [role]) if not self.is_baseline(r)), None)
                if row is not None:
                    break
            return row
        # Made after the choice: a new row (id above the newest at that time), or one remade later.
        since, last_id, seen = choice.get("at") or "", choice.get("max_id") or 0, {row["id"]}
        while True:  # the newest child made after the choice, and its newest child, …
            child = next((c for c in self._models("parent_id = ? and (id > ? or created_at > ?)",
                                                  [row["id"], last_id, since])
                          if c["id"] not in seen and not self.is_baseline(c)), None)
            if child is None:
                return row
            seen.add(child["id"])
            row = child

    def use_model(self, name: str | int) -> dict:
        """Make model ``name`` the current one (an explicit choice; baselines allowed)."""
        row = self.model(str(name))
        last = self.db.execute("select max(id) from models").fetchone()[0]
        self.set_meta(current_model={"id": row["id"], "name": row["name"], "at": now(), "max_id": last})
        return row

    def current_model_choice(self) -> str:
        """Why the current model is current, in words (for ``status`` and the verbs' first line)."""
        choice = self.meta("current_model")
        row = self.current_model()
        if row is None:
            return "no model yet"
        if isinstance(choice, dict) and row["name"] == choice.get("name"):
            return "chosen with 'taalkit use'"
        if isinstance(choice, dict) and self.model_by_id(choice.get("id")) is not None:
            return f"made from {choice['name']}, chosen with 'taalkit use'"
        return "the newest of the main line; 'taalkit use NAME' chooses another"

    def latest_export(self, model: Optional[dict] = None, quant: Optional[str] = None) -> Optional[dict]:
        """The newest ``exports`` row (of ``model``, in ``quant``, when given), with ``file`` = its
        absolute path."""
        where, args = ["1=1"], []
        if model is not None:
            where, args = where + ["model_id = ?"], args + [model["id"]]
        if quant is not None:
            where, args = where + ["quant = ?"], args + [quant]
        rows = list(self.db.query(f"select * from exports where {' and '.join(where)} "
                                  "order by created_at desc, id desc limit 1", args))
        if not rows or not rows[0].get("path"):
            return None
        row = rows[0]
        row["file"] = self.path_of(row)
        return row

    def export_by_id(self, export_id: int) -> Optional[dict]:
        """The ``exports`` row with id ``export_id`` (``file`` = its absolute path), or None."""
        rows = list(self.db.query("select * from exports where id = ?", [int(export_id)]))
        if not rows:
            return None
        rows[0]["file"] = self.path_of(rows[0])
        return rows[0]

    def export_at(self, path: os.PathLike | str) -> Optional[dict]:
        """The ``exports`` row of the GGUF file at ``path`` (stored relative or absolute), or None."""
        path = Path(path)
        rows = list(self.db.query("select * from exports where path in (?, ?) order by created_at desc, id desc "
                                  "limit 1", [self.relative(path), str(path.resolve())]))
        if not rows:
            return None
        rows[0]["file"] = self.path_of(rows[0])
        return rows[0]

    def current_export(self) -> Optional[dict]:
        """The newest export of the current model (what eval, translate and chat load), or None."""
        model = self.current_model()
        return self.latest_export(model) if model is not None else None

    def latest_tokenizer(self) -> Optional[dict]:
        """The newest trained tokenizer row, or None."""
        rows = list(self.db.query("select * from tokenizers order by created_at desc, id desc limit 1"))
        return rows[0] if rows else None

    def tokenizer(self, ref: "str | dict | None" = None, *, missing: Optional[str] = None) -> dict:
        """The tokenizer ``ref`` names (a row, or a name); ``None`` is :meth:`latest_tokenizer`.

        Raises :class:`~kit.errors.WorkspaceError` when there is none (``missing`` words the message
        for ``ref=None``).
        """
        if isinstance(ref, dict):
            return ref
        if ref is None:
            row = self.latest_tokenizer()
            if row is None:
                raise WorkspaceError(missing or "the workspace has no trained tokenizer yet", next_step="train_tokenizer")
            return row
        rows = list(self.db.query("select * from tokenizers where name = ? order by created_at desc, id desc",
                                  [str(ref)]))
        if not rows:
            known = [r["name"] for r in self.db.query("select name from tokenizers order by id")]
            raise WorkspaceError(f"no tokenizer {ref!r} in the workspace; known: {', '.join(known) or 'none'}")
        return rows[0]

    def path_of(self, row: dict) -> Path:
        """The file or folder a row's stored ``path`` names (models, tokenizers, exports, runs)."""
        path = Path(row["path"])
        return path if path.is_absolute() else self.root / path

    def model_dir(self, row: dict) -> Path:
        """The folder of a ``models`` row (:meth:`path_of`)."""
        return self.path_of(row)

    def relative(self, path: os.PathLike | str) -> str:
        """Store paths inside the workspace relative to it (portable bundles)."""
        path = Path(path).resolve()
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

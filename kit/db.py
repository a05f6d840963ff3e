"""The workspace database: one SQLite file, schema changed only through recorded migrations.

Migrations are applied in order by sqlite-utils' ``Migrations`` and recorded in
``_sqlite_migrations``, so a workspace made by an older kit opens in a newer one.
Never edit a migration that has shipped: append a new function at the end.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("taalkit")


@migrations()
def m001_core(db: sqlite_utils.Database) -> None:
    db["workspace_meta"].create({"key": str, "value": str}, pk="key")

    # Provenance of each imported dictionary file (one row per file and direction).
    db["dictionaries"].create(
        {
            "id": int, "name": str, "path": str, "format": str, "sha256": str,
            "headword_lang": str, "translation_lang": str, "direction": str,
            "licence": str, "url": str, "description": str, "entry_count": int,
            "imported_at": str,
        },
        pk="id",
    )
    db["dictionaries"].create_index(["sha256", "direction"], unique=True)

    # One row per (headword, translation, sense); text is NFC, the *_orig columns keep the file's form.
    db["entries"].create(
        {
            "id": int, "dictionary_id": int, "headword": str, "translation": str,
            "headword_orig": str, "translation_orig": str, "pos": str, "sense": int,
            "headword_lang": str, "translation_lang": str, "line": int, "extra": str,
        },
        pk="id",
        foreign_keys=[("dictionary_id", "dictionaries", "id")],
    )
    db["entries"].create_index(["headword"])
    db["entries"].create_index(["translation"])
    db["entries"].create_index(
        ["dictionary_id", "headword", "translation", "pos", "sense"], unique=True
    )
    db["entries"].enable_fts(["headword", "translation"], create_triggers=True, tokenize="unicode61 remove_diacritics 0")

    # Text corpora: parallel segment pairs and monolingual target-language text.
    db["corpora"].create(
        {
            "id": int, "name": str, "path": str, "kind": str, "format": str, "sha256": str,
            "source_lang": str, "target_lang": str, "licence": str, "segment_count": int,
            "imported_at": str,
        },
        pk="id",
    )
    db["corpora"].create_index(["sha256", "kind"], unique=True)
    db["segments"].create(
        {
            "id": int, "corpus_id": int, "kind": str, "source_text": str, "target_text": str,
            "split": str, "line": int,
        },
        pk="id",
        foreign_keys=[("corpus_id", "corpora", "id")],
    )
    db["segments"].create_index(["corpus_id"])
    db["segments"].create_index(["split"])

    db["models"].create(
        {
            "id": int, "name": str, "role": str, "path": str, "architecture": str,
            "parameters": int, "vocab_size": int, "hidden_size": int, "tied": int,
            "chat_template": str, "licence": str, "sha256": str, "source_path": str,
            "parent_id": int, "method": str, "created_at": str, "extra": str,
        },
        pk="id",
    )
    db["models"].create_index(["name"], unique=True)

    db["tokenizers"].create(
        {
            "id": int, "name": str, "path": str, "algo": str, "vocab_size": int,
            "seed": int, "sha256": str, "trained_on": str, "created_at": str, "extra": str,
        },
        pk="id",
    )
    db["tokenizers"].create_index(["name"], unique=True)

    db["mappings"].create(
        {
            "id": int, "source_model_id": int, "tokenizer_id": int, "method": str,
            "path": str, "stats": str, "created_at": str,
        },
        pk="id",
    )

    db["runs"].create(
        {
            "id": int, "kind": str, "model_id": int, "status": str, "config": str,
            "path": str, "step": int, "total_steps": int, "output_model_id": int,
            "started_at": str, "finished_at": str, "summary": str,
        },
        pk="id",
    )
    db["run_metrics"].create(
        {
            "run_id": int, "step": int, "loss": float, "bits_per_char": float,
            "tokens_per_s": float, "lr": float, "elapsed_s": float, "split": str,
        },
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["run_metrics"].create_index(["run_id", "step"])

    db["exports"].create(
        {
            "id": int, "model_id": int, "path": str, "quant": str, "size_bytes": int,
            "sha256": str, "verification": str, "created_at": str,
        },
        pk="id",
    )

    db["system_prompts"].create({"name": str, "text": str, "updated_at": str}, pk="name")
    db["conversations"].create(
        {"id": int, "title": str, "model_path": str, "system_prompt": str, "created_at": str},
        pk="id",
    )
    db["messages"].create(
        {"id": int, "conversation_id": int, "role": str, "content": str, "created_at": str,
         "tokens_per_s": float},
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
    )
    db["evaluations"].create(
        {
            "id": int, "model": str, "system": str, "test_file": str, "direction": str,
            "metric": str, "value": float, "glossary": int, "details": str, "created_at": str,
        },
        pk="id",
    )


def save_by_key(db: sqlite_utils.Database, table: str, row: dict, key: str = "name") -> int:
    """Insert ``row`` into ``table``, or update in place the row whose ``key`` column matches; return its id.

    Re-running a stage that makes the same artefact (a model called ``transtok-fvt``, a tokenizer,
    the file ``gguf/x-Q8_0.gguf``) must keep the row's id, so that rows pointing at it
    (``models.parent_id``, ``exports.model_id``, ``runs.model_id``, ``mappings.source_model_id`` …)
    still resolve. Columns missing from ``row`` keep their stored values. Should an older kit have
    left several rows with that key, the newest one is updated.
    """
    row = {k: v for k, v in row.items() if k != "id"}
    found = db.execute(f"select id from [{table}] where [{key}] = ? order by id desc limit 1", [row[key]]).fetchone()
    if found is None:
        return db[table].insert(row).last_pk
    db[table].update(found[0], row)
    return found[0]


def connect(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) a workspace database and bring its schema up to date."""
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA busy_timeout = 10000")
    migrations.apply(db)
    return db

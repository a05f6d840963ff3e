"""The workspace database: one SQLite file, schema changed only through recorded migrations.

Migrations are applied in order by sqlite-utils' ``Migrations`` and recorded in
``_sqlite_migrations``, so a workspace made by an older kit opens in a newer one.
Never edit a migration that has shipped: append a new function at the end.

:func:`connect` is also the workspace's gatekeeper, because a ``taalkit.db`` can come from
anywhere (a USB stick, a bundle, another program that chose the same name):

* a file that is not SQLite, or an SQLite file without taalkit's migration record, is refused
  before anything is written to it;
* a schema newer than this kit knows (``PRAGMA user_version`` above :data:`SCHEMA_VERSION`, or a
  migration name it does not know) is refused; an older one is migrated, each step in a
  transaction, and :attr:`Database.schema_note` says so; a table missing a column the schema
  defines (renamed by hand) is refused with its name;
* a database the process cannot write (a read-only mount, a shared folder) opens read-only, so
  reading verbs work, and writes fail with :class:`ReadOnlyWorkspace`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Optional

import sqlite_utils
from sqlite_utils import Migrations

from .errors import WorkspaceError

log = logging.getLogger("taalkit")

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


@migrations()
def m002_dictionary_mapping(db: sqlite_utils.Database) -> None:
    # How a dictionary file was read (JSON: column roles, the languages of its two columns, reversed),
    # so importing the same file with another mapping can replace it instead of being skipped.
    if "mapping" not in db["dictionaries"].columns_dict:  # idempotent, like m001's creates
        db["dictionaries"].add_column("mapping", str)


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


#: SQLite's result code for a file that is not a database (its first 16 bytes are not the magic header).
SQLITE_NOTADB = getattr(sqlite3, "SQLITE_NOTADB", 26)
MIGRATIONS_TABLE = Migrations.migrations_table


def _known() -> list[str]:
    return [m.name for m in migrations._migrations]


#: The schema this kit writes: the number of migrations it knows, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = len(_known())


class ReadOnlyWorkspace(WorkspaceError):
    """The workspace database cannot be written here (read-only folder or medium)."""


class Database(sqlite_utils.Database):
    """sqlite-utils' database with what :func:`connect` found out about the file."""

    read_only: bool = False
    schema_note: str = ""  # "" or a sentence saying the schema was (or could not be) upgraded


def connect(path: Path | str, *, create: bool = False) -> Database:
    """Open a workspace database, check it is taalkit's and bring its schema up to date.

    ``create`` allows an empty or missing file (``taalkit init``); opening an existing workspace
    never turns someone else's SQLite file into a workspace.
    """
    path = Path(path)
    exists = path.exists() and path.stat().st_size > 0
    if not exists and not create:
        raise WorkspaceError(f"{path}: the database is empty", next_step="create_workspace")
    read_only = exists and not _writable(path)
    # SQLite itself checks the file's magic header (SQLITE_NOTADB) before it writes anything. The
    # header must not be read with Python's open(): closing that descriptor drops every POSIX lock
    # this process holds on the file, among them the WAL read lock of a connection another thread
    # keeps open. A child process that then closes its own connection believes it is the last one,
    # checkpoints, deletes taalkit.db-wal and -shm, and this process goes on with a stale index of a
    # WAL that no longer exists: "database disk image is malformed" (the app after a child-process
    # fine-tune; https://www.sqlite.org/howtocorrupt.html 2.2, tests/test_db_locks.py).
    conn = None
    try:
        conn = _open(path, read_only)
        db = Database(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError as err:
        if conn is not None:
            conn.close()
        if getattr(err, "sqlite_errorcode", None) == SQLITE_NOTADB or "not a database" in str(err):
            raise WorkspaceError(f"{path}: not a taalkit database (not an SQLite file); "
                                 "move it away or choose another workspace folder") from None
        raise WorkspaceError(f"{path}: not a usable SQLite database ({err}); "
                             "move it away or restore it from a copy") from None
    db.read_only = read_only
    current = len(_known())  # SCHEMA_VERSION, counted again in case a migration was appended since import
    user_tables = {t for t in tables if not t.startswith("sqlite_")}
    applied = _applied(db) if MIGRATIONS_TABLE in tables else []
    if user_tables and not applied:
        shown = ", ".join(sorted(user_tables)[:5]) + (", …" if len(user_tables) > 5 else "")
        db.close()
        raise WorkspaceError(f"{path}: an SQLite database made by another program (tables: {shown}), "
                             "not a taalkit workspace; taalkit leaves it untouched")
    unknown = [name for name in applied if name not in _known()]
    if version > current or unknown:
        db.close()
        newer = max(version, len(applied))
        raise WorkspaceError(f"{path}: made by a newer taalkit (schema {newer} > {current}); "
                             "update taalkit to open this workspace")
    conn.execute("PRAGMA foreign_keys = ON")
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
    pending = [m for m in _known() if m not in applied]
    if pending and read_only:
        db.schema_note = (f"{path}: schema {len(applied)} is older than this kit's {current} and the "
                          "workspace is read-only, so it was not upgraded")
    elif pending:
        if applied:
            db.schema_note = f"{path}: upgraded the workspace schema {len(applied)} → {current}"
        try:
            migrations.apply(db)  # each step and its record in one transaction (sqlite-utils)
        except sqlite3.Error as err:
            done = len(_applied(db))
            db.close()
            raise WorkspaceError(f"{path}: upgrading the schema failed after step {done} of {current} ({err}); "
                                 "the failed step was rolled back, nothing else changed") from None
    if not read_only and version != current:
        conn.execute(f"PRAGMA user_version = {current}")
    _check_columns(db, path)
    return db


def _writable(path: Path) -> bool:
    """Whether this process can write the database and make its journal beside it.

    ``os.access`` answers for the real user and the file system (a read-only mount says no even
    to root); a folder that refuses new files would make SQLite's WAL files impossible.
    """
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _open(path: Path, read_only: bool) -> sqlite3.Connection:
    if not read_only:  # settings that write (WAL) wait until the file is known to be ours
        conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn
    uri = "file:" + _quote(path.resolve()) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database on a read-only medium has no -shm to share: nobody can be writing it
        # there, so reading it as immutable is exact.
        conn.close()
        conn = sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _quote(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path))


def _applied(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute(
        f"select name from [{MIGRATIONS_TABLE}] where migration_set = ? order by rowid", [migrations.name])]


_EXPECTED: Optional[dict[str, set[str]]] = None


def _expected_columns() -> dict[str, set[str]]:
    """Table → columns of the schema this kit's migrations make (built once, in memory)."""
    global _EXPECTED
    if _EXPECTED is None:
        mem = sqlite_utils.Database(memory=True)
        migrations.apply(mem)  # the shipped migrations: a column a later one drops is not required
        _EXPECTED = {t.name: {c.name for c in t.columns} for t in mem.tables
                     if not t.name.startswith("entries_fts") and t.name != MIGRATIONS_TABLE}
        mem.close()
    return _EXPECTED


def _check_columns(db: sqlite_utils.Database, path: Path) -> None:
    """Refuse a schema someone changed by hand (a renamed column would crash a verb much later)."""
    for table, want in _expected_columns().items():
        have = {r[1] for r in db.execute(f"PRAGMA table_info([{table}])")}
        if not have:
            raise WorkspaceError(f"{path}: the table {table} is missing; the database was changed outside "
                                 "taalkit; restore it from a copy")
        missing = sorted(want - have)
        if missing:
            raise WorkspaceError(f"{path}: table {table} has no column {', '.join(missing)} (renamed outside "
                                 "taalkit?); restore the database from a copy")


# -- one writer at a time ------------------------------------------------------------------------

#: How long a second writer waits for the first before giving up (``$TAALKIT_WRITE_WAIT`` seconds).
DEFAULT_WRITE_WAIT_S = 600.0


def _owner_file(db: sqlite_utils.Database) -> Optional[Path]:
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2] + ".writer") if row and row[2] else None


def begin_write(db: sqlite_utils.Database) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write with a visible message.

    SQLite's busy timeout alone waits silently and then raises ``database is locked``; here the
    wait is announced once (naming the other process from the ``taalkit.db.writer`` file it
    leaves while it writes) and ends with a :class:`WorkspaceError` after
    ``$TAALKIT_WRITE_WAIT`` seconds.
    """
    if getattr(db, "read_only", False):
        raise ReadOnlyWorkspace(f"{_db_name(db)} is read-only here (a read-only folder or medium); "
                                "copy the workspace to a writable folder to change it")
    limit = float(os.environ.get("TAALKIT_WRITE_WAIT", DEFAULT_WRITE_WAIT_S))
    conn = db.conn
    conn.execute("PRAGMA busy_timeout = 0")
    started = time.monotonic()
    announced = False
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                waited = time.monotonic() - started
                other = _other_writer(db)
                if waited >= limit:
                    raise WorkspaceError(
                        f"{_db_name(db)} is still being written by another taalkit process{other} after "
                        f"{waited:.0f} s; try again when it has finished") from None
                if not announced:
                    log.warning("waiting for another taalkit process%s to finish writing %s…",
                                other, _db_name(db))
                    announced = True
                time.sleep(0.1)
    finally:
        conn.execute("PRAGMA busy_timeout = 10000")
    owner = _owner_file(db)
    if owner is not None:
        try:
            owner.write_text(f"{os.getpid()}\n", encoding="utf-8")
        except OSError:
            pass


def end_write(db: sqlite_utils.Database) -> None:
    """Remove the owner note :func:`begin_write` left (the transaction itself is already over)."""
    owner = _owner_file(db)
    if owner is not None:
        try:
            if owner.read_text(encoding="utf-8").strip() == str(os.getpid()):
                owner.unlink()
        except OSError:
            pass


def _other_writer(db: sqlite_utils.Database) -> str:
    owner = _owner_file(db)
    try:
        pid = int(owner.read_text(encoding="utf-8").split()[0]) if owner else 0
    except (OSError, ValueError, IndexError):
        return ""
    return f" (pid {pid})" if pid and pid != os.getpid() else ""


def _db_name(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "the workspace database"


# -- paths stored in the database ----------------------------------------------------------------

#: Columns that hold a path the kit later reads or writes (relative to the workspace).
PATH_COLUMNS = (("models", "path"), ("models", "source_path"), ("exports", "path"), ("tokenizers", "path"),
                ("mappings", "path"), ("runs", "path"), ("conversations", "model_path"))


def inside(root: Path, stored: str, where: str) -> Path:
    """``stored`` (from a row) as a path under ``root``; refuse one that points elsewhere.

    A database travels (bundles, copies); a row saying ``/etc/passwd`` or ``../../x`` must not
    make a verb read or overwrite a file outside the workspace.
    """
    root = Path(root).resolve()
    path = (root / stored).resolve()
    if path != root and root not in path.parents:
        raise WorkspaceError(f"{where}: the path {stored!r} points outside the workspace {root}; refusing it")
    return path


def check_paths(db: sqlite_utils.Database, root: Path, label: str) -> None:
    """Every non-empty path column of every row resolves inside ``root`` (see :func:`inside`)."""
    for table, column in PATH_COLUMNS:
        if not db[table].exists() or column not in db[table].columns_dict:
            continue
        for rowid, value in db.execute(f"select rowid, [{column}] from [{table}] where [{column}] != ''"):
            if value is not None:
                inside(root, str(value), f"{label}: {table} row {rowid} ({column})")


def user_message(err: sqlite3.Error) -> Optional[str]:
    """A one-line message for SQLite errors a user causes (a busy or read-only workspace), else None.

    Most writes go through :func:`begin_write`, which says this itself; this covers the single-row
    writes sqlite-utils makes on its own, so a face can print it instead of a traceback.
    """
    text = str(err)
    if "readonly" in text or "read-only" in text:
        return ("the workspace database is read-only here (a read-only folder or medium); "
                "copy the workspace to a writable folder to change it")
    if "locked" in text or "busy" in text:
        return "another taalkit process is writing to this workspace; try again when it has finished"
    if "not a database" in text or "malformed" in text:
        return f"the workspace database is damaged ({text}); restore it from a copy"
    return None

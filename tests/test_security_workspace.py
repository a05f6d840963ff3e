"""Odd workspaces: two writers, a read-only medium, schemas from other kits, files from other programs.

All real: real SQLite files, real ``taalkit`` processes, a real read-only mount (a private
mount namespace, when root) or real file permissions (when not root).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kit.db import SCHEMA_VERSION
from kit.errors import WorkspaceError
from kit.workspace import Workspace

TAALKIT = [sys.executable, "-m", "kit.cli"]


def _run(*args, env=None, timeout=120, prefix=()):
    return subprocess.run([*prefix, *TAALKIT, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).resolve().parents[1])


def _one_line_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-1000:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _sql(db: Path, *statements: str) -> None:
    """Change a database the way another program would, closing it (so the WAL is checkpointed)."""
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def ws_dir(tmp_path):
    ws = Workspace.init(tmp_path / "ws", source="en", target="cy")
    (tmp_path / "a.tsv").write_text("cat\tcath\nhouse\ttŷ\n", encoding="utf-8")
    (tmp_path / "b.tsv").write_text("water\tdŵr\n", encoding="utf-8")
    from kit.dictionary import import_files

    import_files(ws, [tmp_path / "a.tsv"])
    ws.close()
    return tmp_path / "ws"


# -- 3. a second writer ----------------------------------------------------------------------------

_HOLDER = """
import sys
from kit.workspace import Workspace
from kit.textio.transaction import transaction
ws = Workspace.open(sys.argv[1])
with transaction(ws.db):
    ws.db.execute("insert into workspace_meta (key, value) values ('held', '1')")
    print("holding", flush=True)
    sys.stdin.readline()  # until the test says so
print("released", flush=True)
"""


def _holder(ws_dir):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ws_dir)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_second_writer_waits_naming_the_first_then_fails_in_one_line(ws_dir, tmp_path):
    holder = _holder(ws_dir)
    try:
        result = _run("-w", ws_dir, "dict", "import", tmp_path / "b.tsv", env={"TAALKIT_WRITE_WAIT": "1"})
    finally:
        holder.communicate("go\n", timeout=60)
    assert f"waiting for another taalkit process (pid {holder.pid})" in result.stderr
    assert "still being written" in _one_line_error(result)
    ws = Workspace.open(ws_dir)
    assert ws.db.execute("select count(*) from entries").fetchone()[0] == 2  # b.tsv not half-imported
    ws.close()


def test_second_writer_goes_on_when_the_first_finishes(ws_dir, tmp_path):
    holder = _holder(ws_dir)
    proc = subprocess.Popen([*TAALKIT, "-w", str(ws_dir), "dict", "import", str(tmp_path / "b.tsv")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TAALKIT_WRITE_WAIT": "300"})
    try:
        line = proc.stderr.readline()
        while line and "waiting for another" not in line:
            line = proc.stderr.readline()
        assert f"(pid {holder.pid})" in line
        holder.communicate("go\n", timeout=60)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "1 entries" in out
    ws = Workspace.open(ws_dir)
    assert ws.db.execute("select count(*) from entries").fetchone()[0] == 3
    assert ws.meta("held") == 1
    ws.close()


# -- 4. a read-only workspace ---------------------------------------------------------------------


def _read_only_prefix(folder: Path):
    """Run commands with ``folder`` read-only: a real ro bind mount as root, permissions otherwise."""
    if os.geteuid() != 0:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        return ()
    if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("root without mount namespaces: cannot make a real read-only folder")
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
    return ("unshare", "-m", "sh", "-c", script, str(folder))


def test_read_verbs_work_and_write_verbs_say_why_on_a_read_only_workspace(ws_dir, tmp_path):
    ro = tmp_path / "stick"
    shutil.copytree(ws_dir, ro)
    before = hashlib.sha256((ro / "taalkit.db").read_bytes()).hexdigest()
    prefix = _read_only_prefix(ro)
    try:
        status = _run("-w", ro, "status", prefix=prefix)
        assert status.returncode == 0, status.stderr[-2000:]
        assert "[x] dictionary" in status.stdout
        search = _run("-w", ro, "dict", "search", "cat", prefix=prefix)
        assert search.returncode == 0, search.stderr[-2000:]
        assert "cath" in search.stdout
        write = _run("-w", ro, "dict", "import", tmp_path / "b.tsv", prefix=prefix)
        assert "read-only" in _one_line_error(write)
    finally:
        for p in [ro, *ro.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    assert hashlib.sha256((ro / "taalkit.db").read_bytes()).hexdigest() == before


# -- 5. schema versions ---------------------------------------------------------------------------


def test_a_newer_schema_is_refused_and_left_alone(ws_dir):
    db = ws_dir / "taalkit.db"
    _sql(db, "PRAGMA user_version = 7")
    before = db.read_bytes()
    line = _one_line_error(_run("-w", ws_dir, "status"))
    assert f"made by a newer taalkit (schema 7 > {SCHEMA_VERSION})" in line
    assert db.read_bytes() == before


def test_an_unknown_migration_is_a_newer_schema(ws_dir):
    _sql(ws_dir / "taalkit.db", "insert into _sqlite_migrations (migration_set, name, applied_at) "
         "values ('taalkit', 'm999_from_the_future', '2030-01-01')")
    line = _one_line_error(_run("-w", ws_dir, "dict", "search", "cat"))
    assert f"made by a newer taalkit (schema {SCHEMA_VERSION + 1} > {SCHEMA_VERSION})" in line


def test_a_renamed_column_is_named_not_a_crash(ws_dir):
    _sql(ws_dir / "taalkit.db", "alter table entries rename column translation to vertaling")
    line = _one_line_error(_run("-w", ws_dir, "dict", "search", "cat"))
    assert "table entries has no column translation" in line


_NEWER_KIT = """
import sys
from kit import db
@db.migrations()
def m002_test(d):
    d.execute("create table h14_new (x text)")
    if sys.argv[2] == "fail":
        d.execute("insert into h14_new values ('half')")
        raise __import__("sqlite3").OperationalError("disk I/O error (simulated by this test's migration)")
from kit.workspace import Workspace
ws = Workspace.open(sys.argv[1])
print(ws.db.schema_note)
print(ws.db.execute("pragma user_version").fetchone()[0])
"""


def test_an_older_schema_is_migrated_in_a_transaction_and_said(ws_dir):
    db = ws_dir / "taalkit.db"
    failed = subprocess.run([sys.executable, "-c", _NEWER_KIT, str(ws_dir), "fail"], capture_output=True, text=True)
    assert failed.returncode != 0 and f"upgrading the schema failed after step {SCHEMA_VERSION} of {SCHEMA_VERSION + 1}" in failed.stderr
    with sqlite3.connect(db) as conn:
        assert not conn.execute("select name from sqlite_master where name = 'h14_new'").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ok = subprocess.run([sys.executable, "-c", _NEWER_KIT, str(ws_dir), "ok"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    note, version = ok.stdout.splitlines()
    assert f"upgraded the workspace schema {SCHEMA_VERSION} → {SCHEMA_VERSION + 1}" in note and version == str(SCHEMA_VERSION + 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute("select name from sqlite_master where name = 'h14_new'").fetchall()


# -- 6./7. a garbage file, another program's SQLite file --------------------------------------------


def test_a_garbage_taalkit_db_is_one_line(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "taalkit.db").write_bytes(b"this is not sqlite\n" * 200)
    line = _one_line_error(_run("-w", tmp_path / "w", "status"))
    assert "not a taalkit database" in line


def test_another_programs_sqlite_file_is_recognised_and_untouched(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    db = folder / "taalkit.db"
    _sql(db, "create table photos (id integer primary key, file text)", "insert into photos (file) values ('a.jpg')")
    before = db.read_bytes()
    for verb in (("status",), ("dict", "search", "x"), ("dict", "stats")):
        line = _one_line_error(_run("-w", folder, *verb))
        assert "made by another program (tables: photos)" in line
    assert db.read_bytes() == before
    with pytest.raises(WorkspaceError, match="another program"):
        Workspace.open(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["taalkit.db"]

"""The app's way of using a workspace: one long-lived connection, short ones on worker threads, and
stages that write from child processes (kit.jobs). All real SQLite files and real processes.

The bug this guards against: ``kit.db.connect`` used to read the file's magic header with Python's
``open()``. Closing that descriptor dropped every POSIX lock the process held on ``taalkit.db``,
among them the WAL read lock of the app's open connection; the child's last ``close()`` then took
itself for the only user, checkpointed and deleted ``-wal`` and ``-shm``, and the app's next open
read a stale WAL index: "database disk image is malformed" (issue 15, the child-process fine-tune).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import kit
from kit.errors import WorkspaceError
from kit.workspace import Workspace

#: The children import the same kit as this process.
KIT_ROOT = Path(kit.__file__).resolve().parents[1]

#: What a stage does in its child process: open the workspace, write many rows in transactions, close.
CHILD = """
import sys
from kit.workspace import Workspace
ws = Workspace.open(sys.argv[1])
run = ws.db["runs"].insert({"kind": "finetune", "status": "running", "step": 0, "config": "{}"}).last_pk
for step in range(int(sys.argv[2])):
    with ws.db.conn:
        ws.db["run_metrics"].insert({"run_id": run, "step": step, "loss": 1.0, "split": "train"})
ws.db["runs"].update(run, {"status": "finished"})
ws.close()
"""


def _child(root: Path, rows: int) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(KIT_ROOT), os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), str(rows)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _on_a_thread(fn):
    """``fn()`` on a fresh thread (a Textual worker), its result or its exception back here."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # handed back to the test
            out["error"] = err

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in out:
        raise out["error"]
    return out["value"]


def _count(root: Path) -> int:
    ws = Workspace.open(root)
    try:
        return ws.db.execute("select count(*) from run_metrics").fetchone()[0]
    finally:
        ws.close()


def test_child_process_writes_while_the_app_keeps_its_connection(tmp_path):
    root = tmp_path / "ws"
    Workspace.init(root, source="en", target="cy").close()
    ui = Workspace.open(root)  # the app's connection on its UI thread, open the whole time
    try:
        assert ui.db.execute("pragma journal_mode").fetchone()[0] == "wal"
        expected = 0
        for _ in range(4):  # the journey: trans-tokenize, fine-tune, resume, export
            _on_a_thread(lambda: _count(root))  # a worker opens and closes its own workspace
            _child(root, 200)
            expected += 200
            try:
                assert _on_a_thread(lambda: _count(root)) == expected  # the worker reads the child's result
            except WorkspaceError as err:
                pytest.fail(f"reopening after the child wrote: {err}")
            assert ui.db.execute("select count(*) from run_metrics").fetchone()[0] == expected
        # The app's connection still writes, and the file is whole afterwards.
        ui.set_meta(last_check="ok")
    finally:
        ui.close()
    check = Workspace.open(root)
    try:
        assert check.db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert check.meta("last_check") == "ok"
    finally:
        check.close()


def test_reopening_keeps_the_wal_of_a_connection_still_open(tmp_path):
    """A second open in the same process must not cost the first its locks: with the first still
    open, a closing child is not the last user, so the WAL and its index stay where they are."""
    root = tmp_path / "ws"
    Workspace.init(root, source="en", target="cy").close()
    ui = Workspace.open(root)
    try:
        _count(root)
        _child(root, 50)
        assert (root / "taalkit.db-wal").exists() and (root / "taalkit.db-shm").exists(), \
            "the child deleted the WAL while this process still had the database open"
    finally:
        ui.close()


def test_a_file_that_is_not_sqlite_is_still_refused_in_one_line(tmp_path):
    (tmp_path / "taalkit.db").write_bytes(b"this is not sqlite\n" * 200)
    before = (tmp_path / "taalkit.db").read_bytes()
    with pytest.raises(WorkspaceError, match="not a taalkit database \\(not an SQLite file\\)"):
        Workspace.open(tmp_path)
    assert (tmp_path / "taalkit.db").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taalkit.db"]

"""Hostile bundles: zip bombs, forged manifests, tampered weights, paths that leave the workspace.

Every bundle here is a real zip made by ``taalkit bundle`` from a real workspace and then
changed the way an attacker (or a broken USB stick) would change it; opening runs the real
``taalkit open`` in a real process where the point is what the user sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from kit.bundle import bundle, open_bundle
from kit.errors import TaalkitError
from kit.workspace import Workspace, now

TAALKIT = [sys.executable, "-m", "kit.cli"]
GGUF = "gguf/m-F16.gguf"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A workspace with a dictionary and an export row, its bundle, and a key pair."""
    from kit.dictionary import import_files
    from kit.signing import keygen

    root = tmp_path_factory.mktemp("hostile")
    ws = Workspace.init(root / "ws", source="en", target="cy")
    (root / "en_cy.tsv").write_text("cat\tcath\nhouse\ttŷ\n", encoding="utf-8")
    import_files(ws, [root / "en_cy.tsv"])
    # The bundle carries bytes, not a model: GGUF contents do not matter to these checks.
    (ws.root / GGUF).write_bytes(b"GGUF" + os.urandom(200_000))
    mid = ws.db["models"].insert({"name": "m", "role": "finetuned", "path": "models/m", "created_at": now()}).last_pk
    ws.db["exports"].insert({"model_id": mid, "path": GGUF, "quant": "F16", "size_bytes": 200_004,
                             "created_at": now()})
    secret, public, fpr = keygen(root / "maker.key")
    plain = root / "plain.zip"
    signed = root / "signed.zip"
    bundle(ws, plain)
    bundle(ws, signed, sign_key=secret)
    ws.close()
    return {"root": root, "plain": plain, "signed": signed, "secret": secret, "public": public, "fpr": fpr}


def _members(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rewrite(out: Path, members: dict[str, bytes], *, recompute: bool = True, deflate=()) -> Path:
    """Write ``members`` as a zip; ``recompute`` makes bundle.json's checksums match (a forger's step)."""
    members = dict(members)
    if recompute:
        manifest = json.loads(members["bundle.json"])
        for name in manifest["files"]:
            manifest["files"][name] = {"size": len(members[name]), "sha256": hashlib.sha256(members[name]).hexdigest()}
        members["bundle.json"] = json.dumps(manifest, indent=2).encode()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED)
    return out


def _run(*args, env=None, preexec_fn=None, timeout=120):
    return subprocess.run([*TAALKIT, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)


def _one_line_error(result):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.parent.glob(f".{dest.name}.*") if p.exists()]


# -- 1. zip bombs and interrupted opens -----------------------------------------------------------


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))


def test_zip_bomb_entry_larger_than_its_manifest_size_is_refused_before_writing(made, tmp_path):
    members = _members(made["plain"])
    bomb = _rewrite(tmp_path / "bomb.zip", {**members, GGUF: b"\0" * (64 << 20)}, recompute=False, deflate=(GGUF,))
    assert bomb.stat().st_size < 2 << 20  # ~64 MB of zeros in well under 2 MB
    dest = tmp_path / "field"
    # A writer of more than 8 MB is killed by the kernel (SIGXFSZ): the old open wrote all 64 MB.
    result = _run("open", bomb, "--to", dest, preexec_fn=_limit_file_size)
    line = _one_line_error(result)
    assert GGUF in line and "checksum" not in line
    assert not dest.exists() and not _leftovers(dest)


def test_zip_bomb_with_a_consistent_forged_manifest_is_refused_by_its_ratio(made, tmp_path):
    members = _members(made["plain"])
    bomb = _rewrite(tmp_path / "bomb2.zip", {**members, GGUF: b"\0" * (64 << 20)}, deflate=(GGUF,))
    dest = tmp_path / "field"
    result = _run("open", bomb, "--to", dest, preexec_fn=_limit_file_size)
    line = _one_line_error(result)
    assert "zip bomb" in line and GGUF in line
    assert not dest.exists() and not _leftovers(dest)


_CHILD = """
import sys, time
from pathlib import Path
from kit.bundle import open_bundle
def progress(event):
    if "gguf" in (event.message or ""):
        Path(sys.argv[3]).write_text("unpacking")
        time.sleep(600)
open_bundle(sys.argv[1], sys.argv[2], progress=progress)
"""


def test_kill_9_during_open_leaves_a_temp_folder_that_the_next_open_sweeps(made, tmp_path):
    dest = tmp_path / "field"
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(made["plain"]), str(dest), str(marker)])
    try:
        for _ in range(600):
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the child never started unpacking"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    assert _leftovers(dest), "kill -9 should leave the half-unpacked temp folder"
    ws = open_bundle(made["plain"], dest)
    ws.close()
    assert not _leftovers(dest)


# -- 2. signatures and paths that leave the workspace --------------------------------------------


def test_keygen_sign_and_trust_through_the_cli(made, tmp_path):
    key = tmp_path / "k"
    out = _run("keygen", key)
    assert out.returncode == 0 and "fingerprint ed25519:" in out.stdout
    assert oct((tmp_path / "k").stat().st_mode & 0o777) == "0o600"
    ok = _run("open", made["signed"], "--to", tmp_path / "a", "--trust", made["public"])
    assert ok.returncode == 0, ok.stderr
    assert f"signed by {made['fpr']}: the key you trust" in ok.stdout
    unchecked = _run("open", made["signed"], "--to", tmp_path / "b")
    assert unchecked.returncode == 0 and f"signed by {made['fpr']} (not checked" in unchecked.stdout
    unsigned = _run("open", made["plain"], "--to", tmp_path / "c")
    assert unsigned.returncode == 0 and "not signed" in unsigned.stdout
    wrong = _run("open", made["signed"], "--to", tmp_path / "d", "--trust", f"{key}.pub")
    assert "not by the trusted key" in _one_line_error(wrong)
    assert not (tmp_path / "d").exists()


def test_tampered_gguf_with_recomputed_manifest_is_refused(made, tmp_path):
    members = _members(made["signed"])
    evil = bytearray(members[GGUF])
    evil[100:104] = b"EVIL"
    forged = _rewrite(tmp_path / "forged.zip", {**members, GGUF: bytes(evil)})
    with pytest.raises(TaalkitError, match="signature does not match"):
        open_bundle(forged, tmp_path / "x")
    # Stripping the signature does not help a receiver who asks for one.
    stripped = _rewrite(tmp_path / "stripped.zip",
                        {n: d for n, d in _members(forged).items() if n != "bundle.sig"}, recompute=False)
    line = _one_line_error(_run("open", stripped, "--to", tmp_path / "y", "--trust", made["public"]))
    assert "not signed" in line
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.parametrize("table,column,value", [
    ("exports", "path", "/etc/passwd"),
    ("exports", "path", "../../../etc/passwd"),
    ("models", "path", "/home"),
])
def test_bundled_db_paths_outside_the_workspace_are_refused(made, tmp_path, table, column, value):
    members = _members(made["plain"])
    db_file = tmp_path / "t.db"
    db_file.write_bytes(members["taalkit.db"])
    with sqlite3.connect(db_file) as conn:
        conn.execute(f"update {table} set {column} = ?", [value])
    forged = _rewrite(tmp_path / "paths.zip", {**members, "taalkit.db": db_file.read_bytes()})
    line = _one_line_error(_run("open", forged, "--to", tmp_path / "field"))
    assert f"{table} row 1 ({column})" in line and "outside the workspace" in line
    assert not (tmp_path / "field").exists()


# -- 6. manifests with wrong types, a folder and a file of one name -------------------------------


@pytest.mark.parametrize("change,expect", [
    (lambda m: m["files"]["taalkit.db"].update(size="12"), "whole number"),
    (lambda m: m["files"]["taalkit.db"].update(sha256=12), "64 hex digits"),
    (lambda m: m.update(format="1"), "'format' should be a number"),
    (lambda m: m["files"].update({"gguf": m["files"][GGUF]}), "clashes"),
])
def test_malformed_manifest_is_one_line(made, tmp_path, change, expect):
    members = _members(made["plain"])
    if "gguf" not in members:
        members["gguf"] = members[GGUF]
    manifest = json.loads(members["bundle.json"])
    change(manifest)
    members["bundle.json"] = json.dumps(manifest).encode()
    forged = _rewrite(tmp_path / "m.zip", members, recompute=False)
    line = _one_line_error(_run("open", forged, "--to", tmp_path / "field"))
    assert expect in line
    assert not (tmp_path / "field").exists()

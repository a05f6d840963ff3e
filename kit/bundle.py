"""Carry an adapted model to another laptop: one zip with the exported GGUF and the dictionary.

The workbench laptop has the whole workspace (source model, runs, checkpoints: gigabytes);
the laptop in the field needs only what the runtime tier reads: the newest exported GGUF and
a small database with the dictionary (for glossary prompts and look-ups) and the export's
provenance. ``bundle`` writes exactly that; ``open_bundle`` unpacks it into a new workspace
that ``taalkit chat``/``translate``/``dict`` use as they are, with no torch.

The zip carries ``bundle.json``: format version, languages, and size + SHA-256 of every file,
checked on opening, so a truncated copy from a USB stick is refused instead of half-working.
``bundle.sig`` (optional, :mod:`kit.signing`) is an ed25519 signature over ``bundle.json``, so a
receiver who holds the maker's public key knows nothing was changed on the way.

A bundle is also a file from a stranger, so opening it trusts nothing in it: every entry is
unpacked with a running byte count bounded by the manifest's size and the zip header's, an
entry that inflates more than :data:`MAX_RATIO` times is refused before a byte is written, the
manifest's types and paths are checked, and every path in the bundled database must stay
inside the new workspace. See docs/SECURITY.md. Runtime tier: no torch, no transformers.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Optional

from . import __version__
from .errors import TaalkitError, WorkspaceError
from .fsutil import atomic_path, human_bytes, require_free_disk, sha256_file
from .progress import CancelToken, ProgressCallback, emit
from .workspace import DB_NAME, Workspace, now

MANIFEST = "bundle.json"
SIGNATURE = "bundle.sig"
FORMAT = 1
#: No real GGUF (stored) or VACUUMed database (deflated text) inflates anywhere near this much.
MAX_RATIO = 200
#: bundle.json and bundle.sig are a few KB; anything larger is not ours.
MAX_MANIFEST_BYTES = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OPEN_MARK = ".taalkit-open"  # pid of the process unpacking into a temp folder
_STALE_S = 3600
STAGE = "bundle"
# What the runtime reads; everything else in the database stays on the workbench.
KEPT_TABLES = ("workspace_meta", "dictionaries", "entries", "models", "exports", "system_prompts")
_CHUNK = 1 << 20


def bundle(ws: Workspace, out_zip: os.PathLike | str, *, export_id: Optional[int] = None,
           sign_key: Optional[os.PathLike | str] = None,
           progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Write ``out_zip`` with the newest export (or ``export_id``) and the dictionary; return the manifest.

    ``sign_key`` (a secret key file from ``taalkit keygen``) adds ``bundle.sig``; the manifest
    returned then carries ``signed_by`` (the key's fingerprint).
    """
    signature = None
    if sign_key is not None:
        from .signing import sign

        sign(b"", sign_key)  # a wrong or missing key file fails before minutes of copying
    out_zip = Path(out_zip)
    if out_zip.suffix.lower() != ".zip":
        raise TaalkitError(f"{out_zip}: the bundle file name must end in .zip")
    export = _pick_export(ws, export_id)
    gguf = ws.path_of(export)
    if not gguf.is_file():
        raise WorkspaceError(f"the export {gguf} is missing on disk; run 'taalkit export' again")
    gguf_name = f"gguf/{gguf.name}"
    require_free_disk(out_zip.parent if out_zip.parent.exists() else Path.cwd(),
                      gguf.stat().st_size + ws.db_path.stat().st_size, "the bundle")

    with tempfile.TemporaryDirectory(prefix="taalkit-bundle-") as tmp:
        emit(progress, STAGE, 0, 3, "copying the dictionary database")
        slim = Path(tmp) / DB_NAME
        _slim_database(ws, slim, export["id"], gguf_name)
        if cancel is not None:
            cancel.check()
        files = {DB_NAME: slim, gguf_name: gguf}
        manifest = {
            "format": FORMAT, "created_by": f"taalkit {__version__}", "created_at": now(),
            "name": ws.name, "source_lang": ws.source_lang, "target_lang": ws.target_lang,
            "export": {"quant": export["quant"], "path": gguf_name, "sha256": export.get("sha256")},
            "entries": ws.db.execute("select count(*) from entries").fetchone()[0],
            "files": {},
        }
        emit(progress, STAGE, 1, 3, "checksumming")
        for name, path in files.items():
            manifest["files"][name] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
        emit(progress, STAGE, 2, 3, f"writing {out_zip.name}")
        with atomic_path(out_zip) as tmp_zip:
            with zipfile.ZipFile(tmp_zip, "w") as zf:
                manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
                zf.writestr(MANIFEST, manifest_bytes)
                if sign_key is not None:
                    from .signing import sign

                    signature = sign(manifest_bytes, sign_key)
                    zf.writestr(SIGNATURE, json.dumps(signature, indent=2))
                # GGUF weights do not deflate; storing them keeps bundling and opening fast.
                zf.write(slim, DB_NAME, compress_type=zipfile.ZIP_DEFLATED)
                _write_streamed(zf, gguf, gguf_name, progress, cancel)
    manifest["zip"] = str(out_zip)
    manifest["zip_bytes"] = out_zip.stat().st_size
    if signature is not None:
        import base64

        from .signing import fingerprint

        manifest["signed_by"] = fingerprint(base64.b64decode(signature["public_key"]))
    emit(progress, STAGE, 3, 3, f"wrote {out_zip} ({human_bytes(manifest['zip_bytes'])})")
    return manifest


def open_bundle(zip_path: os.PathLike | str, dest: os.PathLike | str, *,
                trust: Optional[os.PathLike | str] = None,
                progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Workspace:
    """Unpack a bundle into the new workspace ``dest`` (a missing or empty folder) and open it.

    Nothing appears at ``dest`` unless every file arrived whole (sizes and SHA-256 match) and
    the bundled database is a taalkit one whose paths stay inside ``dest``. ``trust`` (a public
    key file) requires a valid signature by that key. The workspace returned carries
    ``signature``: ``{"signed": bool, "signed_by": fingerprint or None, "trusted": bool}``.
    """
    zip_path, dest = Path(zip_path), Path(dest).expanduser()
    if not zip_path.is_file():
        raise TaalkitError(f"{zip_path}: no such bundle file")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise WorkspaceError(f"{dest} exists and is not an empty folder; choose a new folder with --to")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise TaalkitError(f"{zip_path}: not a zip file (or the copy is truncated: {err})") from None
    with zf:
        manifest, raw = _read_manifest_bytes(zf, zip_path)
        signature = _check_signature(zf, zip_path, raw, trust)
        files = manifest["files"]
        infos = {name: zf.getinfo(name) for name in files}
        require_free_disk(dest.parent if dest.parent.exists() else Path.cwd(),
                          sum(min(info["size"], infos[name].file_size) for name, info in files.items()),
                          "the unpacked bundle")
        sweep_stale_opens(dest)
        with atomic_path(dest) as tmp:
            tmp.mkdir()
            (tmp / _OPEN_MARK).write_text(f"{os.getpid()}\n", encoding="utf-8")
            for i, (name, info) in enumerate(files.items()):
                emit(progress, "open bundle", i, len(files), f"unpacking {name}")
                target = tmp / PurePosixPath(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                _unpack(zf, infos[name], info["size"], target, zip_path, cancel)
                if sha256_file(target) != info["sha256"]:
                    raise TaalkitError(f"{zip_path}: {name} is damaged (checksum mismatch); copy the bundle again")
            (tmp / _OPEN_MARK).unlink()
            # Opening runs the migrations: a bundle from an older kit works in a newer one.
            ws = Workspace.open(tmp)
            try:
                from .db import check_paths

                check_paths(ws.db, tmp, f"{zip_path}: {DB_NAME}")
            finally:
                ws.close()
    emit(progress, "open bundle", len(files), len(files), f"workspace ready at {dest}")
    ws = Workspace.open(dest)
    ws.signature = signature
    return ws


def read_manifest(zip_path: os.PathLike | str) -> dict:
    """The bundle's ``bundle.json`` (languages, export, file checksums) without unpacking it."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return _read_manifest(zf, Path(zip_path))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise TaalkitError(f"{zip_path}: not a zip file (or the copy is truncated: {err})") from None


def sweep_stale_opens(dest: os.PathLike | str) -> list[Path]:
    """Remove temp folders an interrupted ``open`` into ``dest`` left (``.DEST.*.tmp``); return them.

    A folder is stale when the process named in its mark is gone (``kill -9``, a power cut), or,
    with no mark, when it is over an hour old. A folder another live ``open`` is filling stays.
    """
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    removed = []
    for tmp in dest.parent.glob(f".{dest.name}.*.tmp"):
        if not tmp.is_dir() or tmp.is_symlink():
            continue
        mark = tmp / _OPEN_MARK
        try:
            pid = int(mark.read_text(encoding="utf-8").split()[0])
            stale = not _alive(pid)
        except (OSError, ValueError, IndexError):
            stale = time.time() - tmp.stat().st_mtime > _STALE_S
        if stale:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unpack(zf: zipfile.ZipFile, zinfo: zipfile.ZipInfo, size: int, target: Path, zip_path: Path, cancel) -> None:
    """Copy one entry, never writing more than the manifest and the zip header both allow."""
    name = zinfo.filename
    if zinfo.file_size != size:
        raise TaalkitError(f"{zip_path}: {name} is {zinfo.file_size} bytes in the zip but {size} in "
                           f"{MANIFEST}; the bundle is damaged or forged")
    if zinfo.compress_type != zipfile.ZIP_STORED and size > MAX_RATIO * max(zinfo.compress_size, 1024):
        raise TaalkitError(f"{zip_path}: {name} would inflate {size / max(zinfo.compress_size, 1):.0f} times "
                           f"(a zip bomb?); refusing to unpack it")
    written = 0
    try:
        with zf.open(zinfo) as src, open(target, "wb") as out:
            while block := src.read(min(_CHUNK, size - written + 1)):
                written += len(block)
                if written > size:
                    raise TaalkitError(f"{zip_path}: {name} holds more than the {size} bytes its header and "
                                       f"{MANIFEST} promise; refusing it")
                if cancel is not None:
                    cancel.check()
                out.write(block)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, zlib.error) as err:
        raise TaalkitError(f"{zip_path}: {name} could not be read ({err}); copy the bundle again") from None
    if written != size:
        raise TaalkitError(f"{zip_path}: {name} is damaged ({written} of {size} bytes); copy the bundle again")


def _check_signature(zf: zipfile.ZipFile, zip_path: Path, manifest_bytes: bytes, trust) -> dict:
    from .signing import fingerprint, public_key_of, verify

    wanted = fingerprint(public_key_of(trust)) if trust is not None else None
    if SIGNATURE not in zf.namelist():
        if wanted:
            raise TaalkitError(f"{zip_path}: the bundle is not signed, but --trust asks for a signature by "
                               f"{wanted}; refusing it")
        return {"signed": False, "signed_by": None, "trusted": False}
    raw = _read_small(zf, SIGNATURE, zip_path)
    try:
        record = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        record = None
    signer = verify(manifest_bytes, record, str(zip_path))
    if wanted and signer != wanted:
        raise TaalkitError(f"{zip_path}: signed by {signer}, not by the trusted key {wanted}; refusing it")
    return {"signed": True, "signed_by": signer, "trusted": bool(wanted)}


# -- helpers -------------------------------------------------------------------------------


def _pick_export(ws: Workspace, export_id: Optional[int]) -> dict:
    if export_id is None:
        row = ws.latest_export()
        if row is None:
            raise WorkspaceError("this workspace has no exported model to bundle; run 'taalkit export' first")
        return row
    row = ws.export_by_id(export_id)
    if row is None:
        raise WorkspaceError(f"there is no export with id {export_id}")
    return row


def _slim_database(ws: Workspace, out: Path, export_id: int, gguf_name: str) -> None:
    """A consistent copy of the workspace database keeping only what the runtime reads."""
    src = sqlite3.connect(ws.db_path)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)  # a consistent snapshot even while another process writes
    finally:
        src.close()
    try:
        tables = [r[0] for r in dst.execute(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' "
            "and name not like '%_fts%' and name != '_sqlite_migrations'")]
        dst.execute("PRAGMA foreign_keys = OFF")
        for table in tables:
            if table not in KEPT_TABLES:
                dst.execute(f"delete from [{table}]")
        dst.execute("delete from exports where id != ?", [export_id])
        dst.execute("update exports set path = ?, verification = ? where id = ?",
                    [gguf_name, _bundled_verification(ws, dst, export_id, gguf_name), export_id])
        # Keep the exported model's row (its card) but not paths to folders that are not in the bundle.
        model_id = dst.execute("select model_id from exports where id = ?", [export_id]).fetchone()[0]
        dst.execute("delete from models where id is not ?", [model_id])
        dst.execute("update models set path = '', source_path = NULL")
        dst.commit()
        dst.execute("PRAGMA journal_mode = DELETE")
        dst.execute("VACUUM")
    finally:
        dst.close()


def _bundled_verification(ws: Workspace, db: sqlite3.Connection, export_id: int, gguf_name: str) -> Optional[str]:
    """The export's verification report naming the GGUF where the bundle puts it.

    Rows written before reports were stored relative to the workspace hold absolute paths of the
    workbench laptop; the F16 reference stays behind, named relative to the workspace when inside it.
    """
    raw = db.execute("select verification from exports where id = ?", [export_id]).fetchone()[0]
    try:
        report = json.loads(raw) if raw else None
    except ValueError:
        return raw
    if not isinstance(report, dict):
        return raw
    if report.get("path"):
        report["path"] = gguf_name
    ref = report.get("reference")
    if isinstance(ref, dict) and ref.get("path") and Path(ref["path"]).is_absolute():
        ref["path"] = ws.relative(ref["path"])
    return json.dumps(report, ensure_ascii=False)


def _write_streamed(zf: zipfile.ZipFile, path: Path, name: str, progress, cancel) -> None:
    size = path.stat().st_size
    done = 0
    info = zipfile.ZipInfo.from_file(path, name)
    info.compress_type = zipfile.ZIP_STORED
    with open(path, "rb") as src, zf.open(info, "w", force_zip64=size > 2**31) as out:
        while block := src.read(_CHUNK):
            if cancel is not None:
                cancel.check()
            out.write(block)
            done += len(block)
            emit(progress, STAGE, 2 + done / max(1, size), 3, f"writing {name}")


def _read_small(zf: zipfile.ZipFile, name: str, zip_path: Path) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_MANIFEST_BYTES:
        raise TaalkitError(f"{zip_path}: {name} is {info.file_size} bytes, not a taalkit bundle's")
    try:
        with zf.open(info) as f:
            return f.read(MAX_MANIFEST_BYTES + 1)[:MAX_MANIFEST_BYTES]
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, zlib.error) as err:
        raise TaalkitError(f"{zip_path}: {name} could not be read ({err}); copy the bundle again") from None


def _read_manifest(zf: zipfile.ZipFile, zip_path: Path) -> dict:
    return _read_manifest_bytes(zf, zip_path)[0]


def _read_manifest_bytes(zf: zipfile.ZipFile, zip_path: Path) -> tuple[dict, bytes]:
    """The checked manifest and its exact bytes (what a signature covers)."""
    if MANIFEST not in zf.namelist():
        raise TaalkitError(f"{zip_path}: not a taalkit bundle (no {MANIFEST}); make one with 'taalkit bundle'")
    raw = _read_small(zf, MANIFEST, zip_path)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise TaalkitError(f"{zip_path}: {MANIFEST} is not valid JSON; copy the bundle again") from None
    bad = f"{zip_path}: {MANIFEST} is malformed"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        raise TaalkitError(f"{zip_path}: {MANIFEST} lists no files; copy the bundle again")
    fmt = manifest.get("format", 0)
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise TaalkitError(f"{bad}: 'format' should be a number, found {type(fmt).__name__}")
    if fmt > FORMAT:
        raise TaalkitError(f"{zip_path}: made by a newer taalkit ({manifest.get('created_by')}); update taalkit")
    names = set(zf.namelist())
    seen: set[str] = set()
    for name in manifest["files"]:  # paths first: an escaping name is the attack, whatever else is wrong
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name or not parts or ":" in name \
                or name in (MANIFEST, SIGNATURE) or parts[0] == _OPEN_MARK:
            raise TaalkitError(f"{zip_path}: refusing unsafe path {name!r} in the bundle")
    for name, info in manifest["files"].items():
        parts = PurePosixPath(name).parts
        if name not in names:
            raise TaalkitError(f"{zip_path}: {name} is missing from the bundle; copy it again")
        if not isinstance(info, dict) or not {"size", "sha256"} <= set(info):
            raise TaalkitError(f"{zip_path}: {MANIFEST} has no checksum for {name}")
        size, sha = info["size"], info["sha256"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise TaalkitError(f"{bad}: the size of {name} should be a whole number of bytes, found {size!r}")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise TaalkitError(f"{bad}: the sha256 of {name} should be 64 hex digits, found {str(sha)[:70]!r}")
        key = "/".join(parts).casefold()
        prefixes = {"/".join(parts[:i]).casefold() for i in range(1, len(parts))}
        if key in seen or prefixes & seen or any(s.startswith(key + "/") for s in seen):
            raise TaalkitError(f"{bad}: {name} clashes with another entry (a file and a folder of one name, "
                               "or two names differing only in case)")
        seen.add(key)
    if DB_NAME not in manifest["files"]:
        raise TaalkitError(f"{zip_path}: the bundle has no {DB_NAME}")
    return manifest, raw


__all__ = ["bundle", "open_bundle", "read_manifest", "sweep_stale_opens"]

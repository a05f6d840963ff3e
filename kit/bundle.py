"""Carry an adapted model to another laptop: one zip with the exported GGUF and the dictionary.

The workbench laptop has the whole workspace (source model, runs, checkpoints: gigabytes);
the laptop in the field needs only what the runtime tier reads: the newest exported GGUF and
a small database with the dictionary (for glossary prompts and look-ups) and the export's
provenance. ``bundle`` writes exactly that; ``open_bundle`` unpacks it into a new workspace
that ``taalkit chat``/``translate``/``dict`` use as they are, with no torch.

The zip carries ``bundle.json``: format version, languages, and size + SHA-256 of every file,
checked on opening, so a truncated copy from a USB stick is refused instead of half-working.
Runtime tier: no torch, no transformers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional

from . import __version__
from .errors import TaalkitError, WorkspaceError
from .fsutil import atomic_path, human_bytes, require_free_disk, sha256_file
from .progress import CancelToken, ProgressCallback, emit
from .workspace import DB_NAME, Workspace, now

MANIFEST = "bundle.json"
FORMAT = 1
STAGE = "bundle"
# What the runtime reads; everything else in the database stays on the workbench.
KEPT_TABLES = ("workspace_meta", "dictionaries", "entries", "models", "exports", "system_prompts")
_CHUNK = 1 << 20


def bundle(ws: Workspace, out_zip: os.PathLike | str, *, export_id: Optional[int] = None,
           progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Write ``out_zip`` with the newest export (or ``export_id``) and the dictionary; return the manifest."""
    out_zip = Path(out_zip)
    if out_zip.suffix.lower() != ".zip":
        raise TaalkitError(f"{out_zip}: the bundle file name must end in .zip")
    export = _pick_export(ws, export_id)
    gguf = ws.model_dir({"path": export["path"]})
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
                zf.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
                # GGUF weights do not deflate; storing them keeps bundling and opening fast.
                zf.write(slim, DB_NAME, compress_type=zipfile.ZIP_DEFLATED)
                _write_streamed(zf, gguf, gguf_name, progress, cancel)
    manifest["zip"] = str(out_zip)
    manifest["zip_bytes"] = out_zip.stat().st_size
    emit(progress, STAGE, 3, 3, f"wrote {out_zip} ({human_bytes(manifest['zip_bytes'])})")
    return manifest


def open_bundle(zip_path: os.PathLike | str, dest: os.PathLike | str, *,
                progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Workspace:
    """Unpack a bundle into the new workspace ``dest`` (a missing or empty folder) and open it.

    Nothing appears at ``dest`` unless every file arrived whole (sizes and SHA-256 match).
    """
    zip_path, dest = Path(zip_path), Path(dest).expanduser()
    if not zip_path.is_file():
        raise TaalkitError(f"{zip_path}: no such bundle file")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise WorkspaceError(f"{dest} exists and is not an empty folder; choose a new folder with --to")
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise TaalkitError(f"{zip_path}: not a zip file (or the copy is truncated)") from None
    with zf:
        manifest = _read_manifest(zf, zip_path)
        files = manifest["files"]
        require_free_disk(dest.parent if dest.parent.exists() else Path.cwd(),
                          sum(f["size"] for f in files.values()), "the unpacked bundle")
        with atomic_path(dest) as tmp:
            tmp.mkdir()
            for i, (name, info) in enumerate(files.items()):
                emit(progress, "open bundle", i, len(files), f"unpacking {name}")
                target = tmp / PurePosixPath(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(name) as src, open(target, "wb") as out:
                        while block := src.read(_CHUNK):
                            if cancel is not None:
                                cancel.check()
                            out.write(block)
                except (zipfile.BadZipFile, EOFError, OSError) as err:
                    raise TaalkitError(f"{zip_path}: {name} could not be read ({err}); copy the bundle again") from None
                if target.stat().st_size != info["size"] or sha256_file(target) != info["sha256"]:
                    raise TaalkitError(f"{zip_path}: {name} is damaged (checksum mismatch); copy the bundle again")
            # Opening runs the migrations: a bundle from an older kit works in a newer one.
            Workspace.open(tmp).close()
    emit(progress, "open bundle", len(files), len(files), f"workspace ready at {dest}")
    return Workspace.open(dest)


def read_manifest(zip_path: os.PathLike | str) -> dict:
    """The bundle's ``bundle.json`` (languages, export, file checksums) without unpacking it."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return _read_manifest(zf, Path(zip_path))
    except zipfile.BadZipFile:
        raise TaalkitError(f"{zip_path}: not a zip file (or the copy is truncated)") from None


# -- helpers -------------------------------------------------------------------------------


def _pick_export(ws: Workspace, export_id: Optional[int]) -> dict:
    if export_id is None:
        rows = list(ws.db.query("select * from exports order by created_at desc, id desc limit 1"))
        if not rows:
            raise WorkspaceError("this workspace has no exported model to bundle; run 'taalkit export' first")
        return rows[0]
    rows = list(ws.db.query("select * from exports where id = ?", [export_id]))
    if not rows:
        raise WorkspaceError(f"there is no export with id {export_id}")
    return rows[0]


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


def _read_manifest(zf: zipfile.ZipFile, zip_path: Path) -> dict:
    try:
        manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
    except KeyError:
        raise TaalkitError(f"{zip_path}: not a taalkit bundle (no {MANIFEST}); make one with 'taalkit bundle'") from None
    except (ValueError, UnicodeDecodeError):
        raise TaalkitError(f"{zip_path}: {MANIFEST} is not valid JSON; copy the bundle again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise TaalkitError(f"{zip_path}: {MANIFEST} lists no files; copy the bundle again")
    if manifest.get("format", 0) > FORMAT:
        raise TaalkitError(f"{zip_path}: made by a newer taalkit ({manifest.get('created_by')}); update taalkit")
    names = set(zf.namelist())
    for name, info in manifest["files"].items():
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name or not parts:
            raise TaalkitError(f"{zip_path}: refusing unsafe path {name!r} in the bundle")
        if name not in names:
            raise TaalkitError(f"{zip_path}: {name} is missing from the bundle; copy it again")
        if not isinstance(info, dict) or not {"size", "sha256"} <= set(info):
            raise TaalkitError(f"{zip_path}: {MANIFEST} has no checksum for {name}")
    if DB_NAME not in manifest["files"]:
        raise TaalkitError(f"{zip_path}: the bundle has no {DB_NAME}")
    return manifest


__all__ = ["bundle", "open_bundle", "read_manifest"]

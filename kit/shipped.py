"""The data that ships with taalkit's source: ``data/<lang>/`` (dictionaries, train and test text for
Welsh, Frisian and Afrikaans; see data/README.md).

A wheel does not carry it: ``$TAALKIT_DATA`` names the folder, else a checkout's ``data/`` (beside
the ``kit`` package) or ``./data`` is used. ``taalkit demo`` runs on it, and ``taalkit eval`` takes
its test set when none is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .errors import TaalkitError


def data_root() -> Path:
    """The shipped demo data: ``$TAALKIT_DATA`` or the repository's ``data/`` folder."""
    env = os.environ.get("TAALKIT_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parent.parent / "data", Path.cwd() / "data"]
    for path in candidates:
        if (path / "cy").is_dir():
            return path
    raise TaalkitError("the demo data folder is missing; run the demo from a taalkit checkout "
                       "or set TAALKIT_DATA to the folder holding cy/, fy/ and af/")


def test_file(source_lang: str, target_lang: str) -> Optional[Path]:
    """The shipped test set ``<target>/test_<source>_<target>.tsv`` for a language pair, or None."""
    try:
        root = data_root()
    except TaalkitError:
        return None
    candidate = root / target_lang / f"test_{source_lang}_{target_lang}.tsv"
    return candidate if candidate.is_file() else None

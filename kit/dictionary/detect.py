"""Which reader a file needs: by name first, then by looking at its first bytes.

Users should not have to know what "dictd" or "TEI" means; ``--format`` exists for the rare
file whose name and content disagree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

from ..errors import TaalkitError
from ..textio.records import Source
from ..textio.files import check_input_file, count_lines

#: format name → what it is (shown by ``--help``)
FORMATS = {
    "dictd": "FreeDict dictd (.index + .dict.dz)",
    "tei": "FreeDict TEI XML (.tei)",
    "tsv": "tab-separated source<TAB>target[<TAB>pos]",
    "csv": "comma-separated source,target[,pos]",
    "apertium-dix": "Apertium bilingual dictionary XML (.dix)",
    "apertium-tsv": "Apertium bidix printed as TSV: src<TAB>tgt<TAB>src_tags<TAB>tgt_tags",
    "po": "gettext .po catalogue (parallel segments)",
    "mo": "gettext compiled .mo catalogue (parallel segments)",
    "tmx": "TMX translation memory (parallel segments)",
}
PARALLEL_FORMATS = {"po", "mo", "tmx"}
MO_MAGIC = (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")


def detect_format(path: os.PathLike | str) -> str:
    """Guess the format of ``path``; a one-line error when no reader fits."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".index", ".dict.dz", ".dict")):
        return "dictd"
    suffix = path.suffix.lower()
    by_suffix = {".tei": "tei", ".dix": "apertium-dix", ".tmx": "tmx", ".po": "po", ".pot": "po", ".mo": "mo",
                 ".csv": "csv"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    check_input_file(path, binary_ok=True)
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] in MO_MAGIC:
        return "mo"
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff").lstrip()
    if text.startswith("<"):
        low = text[:4096].lower()
        if "<tei" in low:
            return "tei"
        if "<tmx" in low:
            return "tmx"
        if "<dictionary" in low:
            return "apertium-dix"
        raise TaalkitError(f"{path}: XML file of unknown kind (expected TEI, TMX or an Apertium .dix); "
                           "use --format")
    if 'msgid "' in text and 'msgstr "' in text:
        return "po"
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    cells = first.split("\t")
    if len(cells) == 4 and cells[2].startswith("<") and cells[3].startswith("<"):
        return "apertium-tsv"
    if "\t" in first:
        return "tsv"
    if "," in first and suffix not in (".tsv", ".tab"):
        return "csv"
    return "tsv"


def open_source(ws, path: os.PathLike | str, *, format: Optional[str] = None, kind: Optional[str] = None,
                columns: Optional[Sequence[str] | str] = None) -> Source:
    """Check the file and return its reader's :class:`Source` (records are read lazily)."""
    source = _open_source(ws, Path(path), format=format, kind=kind, columns=columns)
    if source.total_lines is None and source.format != "mo":
        source.total_lines = count_lines(source.path)
    return source


def _open_source(ws, path: Path, *, format: Optional[str], kind: Optional[str],
                 columns: Optional[Sequence[str] | str]) -> Source:
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise TaalkitError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if kind not in (None, "dictionary", "parallel", "mono"):
        raise TaalkitError(f"kind must be dictionary, parallel or mono, got {kind!r}")
    src, tgt = ws.source_lang, ws.target_lang
    if fmt == "dictd":
        from . import dictd

        return dictd.read(path, src, tgt)
    check_input_file(path, binary_ok=fmt == "mo")
    if kind in ("parallel", "mono") and fmt in ("tsv", "csv", "apertium-tsv"):
        from ..textio.segments import read_tabular
        from .tabular import parse_columns

        if kind == "mono":
            idx = None if columns is None else (parse_columns(columns).index("target"),)
            return read_tabular(path, "mono", src, tgt, columns=idx)
        cols = parse_columns(columns)
        return read_tabular(path, "parallel", src, tgt, columns=(cols.index("source"), cols.index("target")))
    if fmt in PARALLEL_FORMATS and kind not in (None, "parallel"):
        raise TaalkitError(f"{path}: {fmt} files hold parallel segments, not a {kind} dictionary")
    if fmt in ("tsv", "csv"):
        from . import tabular

        return tabular.read(path, src, tgt, delimiter="\t" if fmt == "tsv" else ",", columns=columns)
    if fmt == "tei":
        from . import tei

        return tei.read(path, src, tgt)
    if fmt in ("apertium-dix", "apertium-tsv"):
        from . import apertium

        return apertium.read_dix(path, src, tgt) if fmt == "apertium-dix" else apertium.read_tsv(path, src, tgt)
    if fmt in ("po", "mo"):
        from ..textio import gettext

        return gettext.read_po(path, src, tgt) if fmt == "po" else gettext.read_mo(path, src, tgt)
    from ..textio import tmx

    return tmx.read(path, src, tgt)

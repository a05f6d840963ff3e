"""Dictionary import: many file formats in, one clean searchable SQLite table out.

One module per format (``dictd``, ``tei``, ``tabular``, ``apertium``, ``gettext``, ``tmx``)
turns a file into a :class:`~kit.dictionary.records.Source` of records; ``detect`` picks the
reader; ``store`` writes everything in one transaction; ``search`` answers look-ups.

The functions below are imported eagerly on purpose: the submodule ``search`` and the
function ``search`` share a name, and binding the function here first keeps
``from kit.dictionary import search`` the function however the submodule was imported.
"""

from __future__ import annotations

from .detect import FORMATS, detect_format
from ..textio.records import Entry, Reject, Segment, Source
from .search import search, stats
from .store import ImportResult, export_tsv, import_files

__all__ = ["FORMATS", "Entry", "ImportResult", "Reject", "Segment", "Source", "detect_format", "export_tsv",
           "import_files", "search", "stats"]

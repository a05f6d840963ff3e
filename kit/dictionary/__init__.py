"""Dictionary import: many file formats in, one clean searchable SQLite table out.

One module per dictionary format (``dictd``, ``tei``, ``tabular``, ``apertium``) turns a file into a
:class:`~kit.textio.records.Source` of records (the bilingual formats ``.po``/``.mo``/TMX and the file
checks are kit.textio's, shared with kit.corpus); ``detect`` picks the reader; ``store`` writes
everything in one transaction (a parallel or mono file goes to kit.corpus, the floor below);
``search`` answers look-ups; ``pairs`` is what later stages read (translation pairs, words).

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

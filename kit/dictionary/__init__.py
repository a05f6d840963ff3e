"""Dictionary import: many file formats in, one clean searchable SQLite table out.

One module per format (``dictd``, ``tei``, ``tabular``, ``apertium``, ``gettext``, ``tmx``)
turns a file into a :class:`~kit.dictionary.records.Source` of records; ``detect`` picks the
reader; ``store`` writes everything in one transaction; ``search`` answers look-ups.
"""

from __future__ import annotations

from .records import Entry, Reject, Segment, Source

__all__ = ["Entry", "Reject", "Segment", "Source", "detect_format", "import_files", "search", "stats"]


def import_files(*args, **kwargs):
    """See :func:`kit.dictionary.store.import_files`."""
    from .store import import_files as _import_files

    return _import_files(*args, **kwargs)


def search(*args, **kwargs):
    """See :func:`kit.dictionary.search.search`."""
    from .search import search as _search

    return _search(*args, **kwargs)


def stats(*args, **kwargs):
    """See :func:`kit.dictionary.search.stats`."""
    from .search import stats as _stats

    return _stats(*args, **kwargs)


def detect_format(path):
    """See :func:`kit.dictionary.detect.detect_format`."""
    from .detect import detect_format as _detect_format

    return _detect_format(path)

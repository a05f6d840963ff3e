"""Reading the files people bring, and writing what they hold all-or-nothing.

Shared by :mod:`kit.dictionary` and :mod:`kit.corpus`, which are siblings: neither imports the
other's internals, both read through here.

- :mod:`.files` — opening a user's file safely (size, binary junk, encoding, endless lines).
- :mod:`.records` — what readers yield: ``Entry``, ``Segment``, ``Reject``, a ``Source`` of them.
- :mod:`.segments` — a TSV of pairs or a file of lines as segments.
- :mod:`.gettext`, :mod:`.tmx`, :mod:`.xmlstream` — the bilingual formats (``.po``/``.mo``, TMX)
  and the streaming XML reader TEI, Apertium and TMX share.
- :mod:`.transaction` — one SQLite transaction around a whole import.
"""

"""Property: whatever a TSV holds comes back out of the database unchanged (TSV → DB → TSV)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from kit.dictionary.store import export_tsv, import_files
from kit.workspace import Workspace

# Cells: any text without the TSV's own separators; at least one visible character.
cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\t\n\r\x00"),
    min_size=1, max_size=12,
).filter(lambda s: s.strip())
pos = st.one_of(st.none(), st.sampled_from(["n", "v", "adj", "n, s, f"]))
rows = st.lists(st.tuples(cell, cell, pos), min_size=1, max_size=25)


def _header_like(row) -> bool:
    from kit.dictionary.tabular import _is_header

    return _is_header([c for c in row if c])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_tsv_db_tsv_round_trip(rows):
    if _header_like(rows[0]):  # a first row that reads as a header is, by design, a header
        rows = [("x", "y", None)] + rows
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "in.tsv"
        src.write_text("".join("\t".join([h, t] + ([p] if p else [])) + "\n" for h, t, p in rows), encoding="utf-8")
        ws = Workspace.init(tmp / "ws", "en", "cy")
        try:
            import_files(ws, [src])
            out = tmp / "out.tsv"
            export_tsv(ws, out)
        finally:
            ws.close()
        expected, seen = [], set()
        import unicodedata

        for h, t, p in rows:  # exact duplicates (after NFC) are dropped, the first one kept
            key = (" ".join(unicodedata.normalize("NFC", h).split()),
                   " ".join(unicodedata.normalize("NFC", t).split()), p)
            if key not in seen:
                seen.add(key)
                expected.append("\t".join([h, t] + ([p] if p else [])))
        assert out.read_text(encoding="utf-8").split("\n")[:-1] == expected

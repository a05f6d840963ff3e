"""How fast the dictionary importers are, next to a plain sqlite-utils insert of the same rows.

Run from the repository root::

    .venv/bin/python bench/import_speed.py            # 3 repeats, best time of each
    .venv/bin/python bench/import_speed.py --repeat 5

Each importer runs end to end on a fresh workspace: read the file(s), decode, parse, normalise
to NFC, deduplicate, insert with ``executemany`` in one transaction (FTS5 kept by triggers),
commit. The baseline is ``db["entries"].insert_all(rows)`` of the very rows the importer stored,
already parsed, into an identical fresh workspace: the database work alone, with no parsing.
Target: every importer reaches at least 50% of the baseline's rows per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kit.dictionary.store import export_tsv, import_files  # noqa: E402
from kit.workspace import Workspace  # noqa: E402

DICTD = [REPO / "data/cy/dictd/freedict-cym-eng.index", REPO / "data/cy/dictd/freedict-eng-cym.index"]
COLUMNS = ("dictionary_id", "headword", "translation", "headword_orig", "translation_orig", "pos", "sense",
           "headword_lang", "translation_lang", "line", "extra")


def fresh(tmp: Path, name: str) -> Workspace:
    return Workspace.init(tmp / name, "en", "cy")


def time_importer(tmp: Path, files: list[Path], tag: str, repeat: int, **options) -> tuple[float, int]:
    times, count = [], 0
    for i in range(repeat):
        ws = fresh(tmp, f"{tag}-{i}")
        start = time.perf_counter()
        results = import_files(ws, files, **options)
        times.append(time.perf_counter() - start)
        count = sum(r.count for r in results)
        ws.close()
    return min(times), count


def stored_rows(tmp: Path, files: list[Path], **options) -> list[dict]:
    ws = fresh(tmp, "rows")
    import_files(ws, files, **options)
    cols = ", ".join(COLUMNS)
    rows = [dict(zip(COLUMNS, r)) for r in ws.db.execute(f"select {cols} from entries order by id")]
    dicts = ws.db.execute("select id from dictionaries").fetchall()
    ws.close()
    return rows, [d[0] for d in dicts]


def time_baseline(tmp: Path, rows: list[dict], dictionary_ids: list[int], tag: str, repeat: int) -> float:
    times = []
    for i in range(repeat):
        ws = fresh(tmp, f"{tag}-base-{i}")
        for d in dictionary_ids:  # the foreign key needs its dictionaries rows
            ws.db.execute("insert into dictionaries (id, name) values (?, ?)", [d, "baseline"])
        ws.db.conn.commit()
        start = time.perf_counter()
        ws.db["entries"].insert_all(rows, batch_size=5000)
        times.append(time.perf_counter() - start)
        assert ws.db.execute("select count(*) from entries_fts").fetchone()[0] == len(rows)
        ws.close()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The TSV case: the same Welsh dictionary written out as a 25k-row TSV.
        ws = fresh(tmp, "export")
        import_files(ws, DICTD)
        tsv = tmp / "cym-eng.tsv"
        export_tsv(ws, tsv)
        ws.close()

        cases = [("dictd (cy↔en FreeDict)", DICTD, {}), ("tsv (same entries)", [tsv], {})]
        print(f"{'importer':<24} {'rows':>7} {'importer rows/s':>16} {'sqlite-utils rows/s':>20} {'ratio':>7}")
        ok = True
        for label, files, options in cases:
            seconds, count = time_importer(tmp, files, label[:4], args.repeat, **options)
            rows, ids = stored_rows(tmp, files, **options)
            base = time_baseline(tmp, rows, ids, label[:4], args.repeat)
            ratio = (count / seconds) / (len(rows) / base)
            ok &= ratio >= 0.5
            print(f"{label:<24} {count:>7} {count / seconds:>16,.0f} {len(rows) / base:>20,.0f} {ratio:>6.0%}")
        print(f"best of {args.repeat}; target: importer >= 50% of the sqlite-utils rate -> "
              f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()

"""Every importer, fed byte-level mutations of the shipped dictionaries and corpora.

The property (issue 14): an import either succeeds completely, or fails with a one-line
:class:`TaalkitError` that names the file (and its line, where the format has lines), and then
the database is exactly as before: the same row count in every table and a clean
``PRAGMA integrity_check``. Anything else (a Python exception, a half-written import) is a bug.

Seeds are small slices of the real files so each example imports in milliseconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.corpus import import_corpus
from kit.dictionary import import_files
from kit.errors import InputFormatError, TaalkitError
from kit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
DATA, TESTS = REPO / "data", REPO / "tests" / "data"
EXAMPLES = int(__import__("os").environ.get("TAALKIT_FUZZ_EXAMPLES", "40"))

SPECIAL = [b"\t", b"\n", b"\r\n", b"\x00", b"\xff", b"\xc3", b'"', b"\\", b"<", b">", b"&", b"&#0;", b"]]>",
           b"\\x", b"\\777", b"\xef\xbb\xbf", b"\t\t\t", b"msgstr ", b"<entry>", b"</tu>"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.sampled_from(SPECIAL)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 40)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, at, arg in ops:
        at = at % (len(buf) + 1)
        if op == "flip" and buf:
            buf[min(at, len(buf) - 1)] ^= arg
        elif op == "insert":
            buf[at:at] = arg
        elif op == "delete":
            del buf[at:at + arg]
        elif op == "truncate":
            del buf[at:]
    return bytes(buf)


def _head(path: Path, lines: int) -> bytes:
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(lines))


def _mo_seed() -> bytes:
    """tests/data/cy.mo: cy.po compiled by GNU msgfmt once and shipped, so every machine fuzzes a real
    .mo without needing gettext installed (`msgfmt -o tests/data/cy.mo tests/data/cy.po` remakes it)."""
    return (TESTS / "cy.mo").read_bytes()


# name → (file name to write, seed bytes, how to import)
CASES = {
    "tsv": ("en_fy.tsv", lambda: _head(DATA / "fy" / "glossary_en_fy.tsv", 30), "dict"),
    "csv": ("en_fy.csv", lambda: _head(DATA / "fy" / "glossary_en_fy.tsv", 30).replace(b"\t", b","), "dict"),
    "apertium-tsv": ("afr-nld.bidix.tsv", lambda: _head(DATA / "af" / "afr-nld.bidix.tsv", 30), "dict"),
    "apertium-dix": ("apertium-afr-nld.afr-nld.dix", lambda: (TESTS / "apertium-afr-nld.afr-nld.dix").read_bytes(),
                     "dict"),
    "tei": ("freedict-cym-eng.tei", lambda: (TESTS / "freedict-cym-eng.tei").read_bytes(), "dict"),
    "tmx": ("sample.tmx", lambda: (TESTS / "sample.tmx").read_bytes(), "dict"),
    "po": ("cy.po", lambda: (TESTS / "cy.po").read_bytes(), "dict"),
    "mo": ("cy.mo", _mo_seed, "dict"),
    "dictd": ("freedict-cym-eng.index", lambda: _head(DATA / "cy" / "dictd" / "freedict-cym-eng.index", 30), "dictd"),
    "corpus-parallel": ("train_en_cy.tsv", lambda: _head(DATA / "cy" / "train_en_cy.tsv", 30), "parallel"),
    "corpus-mono": ("wordlist_fy.txt", lambda: _head(DATA / "fy" / "wordlist_fy_tesseract.txt", 40), "mono"),
}


def _state(ws) -> tuple[dict, str]:
    tables = [r[0] for r in ws.db.execute("select name from sqlite_master where type = 'table'")]
    counts = {t: ws.db.execute(f"select count(*) from [{t}]").fetchone()[0] for t in tables}
    return counts, ws.db.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("case", sorted(CASES))
def test_mutated_files_import_whole_or_fail_cleanly(case, fuzz_root):
    name, seed_of, how = CASES[case]
    seed = seed_of()
    folder = fuzz_root / case
    folder.mkdir()
    ws = Workspace.init(folder / "ws", source="en", target="cy")
    target = folder / name
    if how == "dictd":
        shutil.copy(DATA / "cy" / "dictd" / "freedict-cym-eng.dict.dz", folder / "freedict-cym-eng.dict.dz")
    outcomes = {"imported": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(mutation, min_size=1, max_size=4))
    def check(ops):
        target.write_bytes(mutate(seed, ops))
        before = _state(ws)
        try:
            if how in ("parallel", "mono"):
                import_corpus(ws, target, how)
            else:
                import_files(ws, [target])
        except TaalkitError as err:
            message = str(err)
            assert "\n" not in message.strip(), message
            assert message.startswith(str(folder)), f"the error does not name the file: {message}"
            if isinstance(err, InputFormatError) and case != "mo":
                assert err.line, f"no line number: {message}"
            assert _state(ws) == before, f"a refused import changed the database: {message}"
            outcomes["refused"] += 1
            return
        counts, integrity = _state(ws)
        assert integrity == "ok"
        stored = ws.db.execute("select count(*) from entries").fetchone()[0] + \
            ws.db.execute("select count(*) from segments").fetchone()[0]
        recorded = ws.db.execute("select coalesce(sum(entry_count), 0) from dictionaries").fetchone()[0] + \
            ws.db.execute("select coalesce(sum(segment_count), 0) from corpora").fetchone()[0]
        assert stored == recorded, "an import stored a different number of rows than it recorded"
        outcomes["imported"] += 1

    try:
        check()
    finally:
        ws.close()
    assert sum(outcomes.values()) >= EXAMPLES // 2, outcomes

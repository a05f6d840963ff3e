"""One marked section of bench/RESULTS.md, rewritten in place by the bench that owns it.

Why: benches whose rows accumulate over several runs (translation_quality, hydra) keep their table
between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` so a new report replaces only their own
section, and a run's ``NOTES.md`` (what a reader needs to know about it) goes in above the table.
bench/run_all.py skips files whose names start with ``_``.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def run_notes(root: Path) -> str:
    """``<root>/NOTES.md`` followed by a blank line, or nothing."""
    notes_file = root / "NOTES.md"
    return notes_file.read_text(encoding="utf-8").strip() + "\n\n" if notes_file.exists() else ""


def write_section(name: str, body: str, results: Path = RESULTS) -> None:
    """Put ``body`` between NAME's markers in ``results`` (appended, with them, the first time)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body.rstrip()}\n{end}\n"
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text, encoding="utf-8")

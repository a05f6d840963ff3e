"""The app says kit's numbers in words a teacher understands (issue 15, point 7): the dictionary's
coverage as a share of the words, the held-out split as text kept aside, check boxes that say yes or
no, the translated file's name. Real imports into a real workspace.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from tui_helpers import settle
from tui.app import TaalkitApp
from tui.screens.translate import output_name
from tui.widgets.checkbox import SaidCheckbox

DATA = Path(__file__).resolve().parents[2] / "data" / "cy"


async def test_dictionary_numbers_are_said_in_words(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        screen.import_dictionary_file(DATA / "dictd" / "freedict-cym-eng.index")
        await settle(pilot)
        screen.import_corpus_file(DATA / "test_en_cy.tsv")
        await settle(pilot)
        done = str(screen.query_one(".progress-detail", Static).render())
        assert "sentence pairs imported" in done and "kept aside to test the model" in done, done
        stats = str(screen.query_one("#dictionary-stats", Static).render())
        assert "dictionary entries" in stats and "sentence pairs" in stats, stats
        assert "% of the words in your text" in stats, stats
        assert "coverage" not in stats and "train" not in stats and "heldout" not in stats, stats

        box = screen.query_one("#skip-bad", SaidCheckbox)
        assert str(box.label) == "skip bad lines: no"
        box.value = True
        await pilot.pause()
        assert str(box.label) == "skip bad lines: yes"


def test_a_translated_file_is_named_in_words():
    assert output_name(Path("lines.txt"), "cy", "cymraeg-Q4_0", True) == "lines.cy.cymraeg-Q4_0.txt"
    assert output_name(Path("lines.tsv"), "cy", "m", False) == "lines.cy.m.without-dictionary.tsv"


async def test_export_says_when_the_file_is_right_but_the_model_does_not_chat_yet(snap_workspace):
    """The check's verdict is two things: the file matches the model (llama.cpp), and the model chats."""
    import json

    from kit.workspace import Workspace

    ws = Workspace.open(snap_workspace)
    try:
        model = ws.db["models"].insert({"name": "finetuned-1", "role": "finetuned", "path": "models/x",
                                        "created_at": "2026-01-01T00:00:00+00:00"}).last_pk
        verification = {"ok": True, "tokenization": {"identical": True, "texts": 46},
                        "chat": {"ok": False, "problems": ["does not end (no end-of-turn token within the "
                                                           "length limit)"]},
                        "reply": "You are a helpful a helpful a helpful"}
        ws.db["exports"].insert({"model_id": model, "path": "gguf/finetuned-1-Q4_0.gguf", "quant": "Q4_0",
                                 "size_bytes": 62_000_000, "verification": json.dumps(verification),
                                 "created_at": "2026-01-01T00:00:00+00:00"})
    finally:
        ws.close()
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await settle(pilot)
        text = str(app.screen.query_one("#verification", Static).render())
        assert "✔ Passed" in text and "Does not chat properly yet" in text and "does not end" in text, text

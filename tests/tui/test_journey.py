"""The whole journey, driven like a user would: a tiny real model and the demo Welsh dictionary.

import dictionary + text → add base model → train tokenizer → trans-tokenize → fine-tune a
few steps → export GGUF → chat: a reply appears. Every step is a click or a key on the real
app; every stage is the real kit code (tiny model, real llama.cpp).
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select

from tui_helpers import settle
from tui.app import TaalkitApp
from tui.screens.chat import ChatScreen, Message
from tui.widgets.error_modal import ErrorModal
from tui.widgets.file_picker import FilePicker


async def pick(pilot, path: Path) -> None:
    """Answer the file picker that is open by typing the path and pressing Enter."""
    assert isinstance(pilot.app.screen, FilePicker), f"expected the file picker, got {pilot.app.screen}"
    box = pilot.app.screen.query_one("#picker-path", Input)
    box.value = str(path)
    box.focus()
    await pilot.press("enter")
    await pilot.pause()


async def done(pilot, step: str) -> None:
    await settle(pilot)
    if isinstance(pilot.app.screen, ErrorModal):
        raise AssertionError(f"{step}: {pilot.app.screen.message}")


async def test_dictionary_to_chat(tmp_path, demo_data, tiny_llama_dir):
    import torch

    torch.set_num_threads(1)
    app = TaalkitApp(workspace=tmp_path / "cymraeg", start_dir=demo_data)
    async with app.run_test(size=(100, 30)) as pilot:
        # Home: create the workspace.
        app.screen.query_one("#new-path", Input).value = str(tmp_path / "cymraeg")
        app.screen.query_one("#new-target", Input).value = "cy"
        await pilot.click("#create")
        await pilot.pause()
        assert app.workspace is not None

        # Dictionary: the FreeDict Welsh→English dictionary, then parallel text.
        await pilot.press("f3")
        await pilot.click("#import-dictionary")
        await pick(pilot, demo_data / "cy" / "dictd" / "freedict-cym-eng.index")
        await done(pilot, "import dictionary")
        await pilot.click("#import-corpus")
        await pick(pilot, demo_data / "cy" / "test_en_cy.tsv")
        await done(pilot, "import text")
        app.screen.query_one("#search", Input).value = "dŵr"
        await pilot.pause()
        entries = app.screen.query_one("#entries")
        assert entries.row_count > 0
        assert [str(c) for c in entries.get_row_at(0)[:2]] == ["dŵr", "water"]

        # Adapt: base model from a folder, tokenizer, trans-tokenize, fine-tune 3 steps.
        await pilot.press("f4")
        await pilot.pause()
        app.screen.query_one("#model-choice", Select).value = "folder"
        await pilot.pause()
        await pick(pilot, tiny_llama_dir)
        await pilot.click("#add-model")
        await done(pilot, "add model")
        app.screen.query_one("#vocab-size", Input).value = "400"
        await pilot.click("#train-tokenizer")
        await done(pilot, "train tokenizer")
        await pilot.click("#transtokenize")
        await done(pilot, "trans-tokenize")
        app.screen.query_one("#steps", Input).value = "3"
        await pilot.click("#finetune")
        await done(pilot, "fine-tune")
        assert app.workspace.checklist()["fine-tuned"]
        assert app.screen.query_one("#loss-plot").loss, "the loss plot got no points"

        # Export: the default quantization, verified by llama.cpp.
        await pilot.press("f5")
        await pilot.pause()
        await pilot.click("#export")
        await done(pilot, "export")
        assert app.workspace.checklist()["exported"]
        # The shown and stored report name the GGUF relative to the workspace (it can be moved).
        stored = app.workspace.db.execute("select path, verification from exports").fetchone()
        assert str(app.workspace.root) not in stored[1] and '"path": "%s"' % stored[0] in stored[1]
        assert str(app.workspace.root) not in str(app.screen.query_one("#verification").render())

        # Chat: a reply streams in.
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        app.screen.query_one("#chat-input", Input).value = "Shwmae! Sut wyt ti?"
        app.screen.query_one("#chat-input", Input).focus()
        await pilot.press("enter")
        await done(pilot, "chat")
        replies = [m for m in app.screen.query(Message) if m.role == "assistant"]
        assert len(replies) == 1 and replies[0].text.strip(), "no reply text appeared"
        saved = list(app.workspace.db["messages"].rows_where("role = 'assistant'"))
        assert saved and saved[-1]["content"] == replies[0].text
        conv = list(app.workspace.db["conversations"].rows_where(order_by="id desc"))[0]
        assert conv["model_path"] == stored[0]  # the export, named relative to the workspace
        await pilot.press("ctrl+y")
        assert app.clipboard == replies[0].text

        # Translate: the dictionary entries given to the model are listed beside the output.
        await pilot.press("f7")
        await pilot.pause()
        app.screen.query_one("#source-text").text = "The water is cold."
        await pilot.press("ctrl+t")
        await done(pilot, "translate")
        used = app.screen.query_one("#glossary")
        rows = [tuple(str(c) for c in used.get_row_at(i)) for i in range(used.row_count)]
        assert ("cold", "oer") in rows, rows

        # A whole file, line by line with progress, written into the workspace's exports.
        lines = tmp_path / "lines.txt"
        lines.write_text("Good morning.\nThe bread is fresh.\n", encoding="utf-8")
        await pilot.click("#translate-file")
        await pick(pilot, lines)
        await done(pilot, "translate file")
        outs = list(app.workspace.exports_dir.glob("lines.cy.*.txt"))
        # Named after the model (a new model starts afresh) and, without the dictionary, saying so.
        assert len(outs) == 1 and "glossary" not in outs[0].name and "without-dictionary" not in outs[0].name, outs
        out = outs[0]
        assert out.exists() and len(out.read_text(encoding="utf-8").splitlines()) == 2
        assert str(out) in str(app.screen.query_one(".progress-detail").render())

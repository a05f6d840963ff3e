"""Translation through llama.cpp with the real SmolLM2 GGUF: glossary in the prompt, files that resume."""

from __future__ import annotations


import pytest

from kit.errors import Cancelled, InputFormatError, TaalkitError, WorkspaceError
from kit.infer.default_model import default_model_gguf, latest_export_gguf, resolve_model
from kit.infer.translate import Translator, clean_output, degenerate, stuck_in_loop, translate, translate_file
from kit.infer.wordbyword import record_prompt
from kit.progress import CancelToken


@pytest.fixture
def llm(smollm2_llm):
    return smollm2_llm


@pytest.fixture
def ws(workspace, add_dictionary):
    add_dictionary(workspace, [("file", "ffeil", "en", "cy", "n"), ("open", "agor", "en", "cy", "v"),
                               ("ffeil", "file", "cy", "en", "n")])
    return workspace


def test_glossary_entries_are_in_the_prompt_sent(ws, llm):
    translator = Translator(ws, llm=llm, draft=False)
    result = translator.translate("Open the file.", to="cy", max_tokens=8)
    assert [e.line() for e in result.glossary_entries] == ["open = agor (v)", "file = ffeil (n)"]
    assert "open = agor (v)\nfile = ffeil (n)" in result.prompt
    assert "<|im_start|>user\nTranslate to Welsh: Open the file.<|im_end|>" in result.prompt
    assert result.prompt.endswith("<|im_start|>assistant\n")
    assert (result.source_lang, result.target_lang) == ("en", "cy")
    bare = translator.translate("Open the file.", to="cy", glossary=False, max_tokens=8)
    assert bare.glossary_entries == [] and "Dictionary" not in bare.prompt and "agor" not in bare.prompt
    # Without a glossary the prompt is exactly the turn kit.finetune trains on (default system prompt).
    assert bare.prompt == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                           "Face<|im_end|>\n<|im_start|>user\nTranslate to Welsh: Open the file.<|im_end|>\n"
                           "<|im_start|>assistant\n")


def test_the_draft_goes_into_the_request_as_the_fine_tune_recorded(ws, llm):
    result = Translator(ws, llm=llm).translate("Open the file.", to="cy", glossary=False, max_tokens=8)
    assert result.draft == "Agor the ffeil."
    assert "<|im_start|>user\nTranslate to Welsh: Open the file.\nWord by word: Agor the ffeil.<|im_end|>" \
        in result.prompt
    record_prompt(ws, draft=False)  # a model fine-tuned without drafts is asked without one
    plain = Translator(ws, llm=llm).translate("Open the file.", to="cy", glossary=False, max_tokens=8)
    assert plain.draft == "" and "Word by word" not in plain.prompt


def test_a_degenerate_answer_falls_back_to_the_draft(ws, llm):
    # Two tokens cannot hold a translation of this line: the answer is far shorter than the draft.
    translator = Translator(ws, llm=llm)
    text = "Open the file, open the file, open the file."
    result = translator.translate(text, to="cy", glossary=False, max_tokens=2)
    assert result.fell_back and result.text == result.draft == "Agor the ffeil, agor the ffeil, agor the ffeil."
    assert "draft is given instead" in result.notes[-1] and result.raw != result.text
    kept = Translator(ws, llm=llm, fallback=False).translate(text, to="cy", glossary=False, max_tokens=2)
    assert not kept.fell_back and kept.text == kept.raw


def test_degenerate_judges_without_a_reference():
    draft = "Mae'r neges hon yn cynnwys llofnod"
    assert degenerate("", draft, "x") == "empty"
    assert degenerate("Recipient: Recipient: Recipient: Recipient: Recipient:", draft, "x") == "looping"
    assert degenerate("This message", draft, "This message") == "the source text copied"
    assert degenerate("Mae", draft, "x") == "far from the draft's length"
    assert degenerate("Mae'r neges hon yn cynnwys llofnod digidol", draft, "x") == ""


def test_guard_processors_ban_repeats_and_an_echoed_start():
    import numpy as np

    from kit.infer.engine import BanFirst, NoRepeatNGram

    guard = NoRepeatNGram(3)
    prompt = np.array([5, 6, 7, 5, 6])  # the prompt may repeat itself: not the answer's business
    assert np.isfinite(guard(prompt, np.zeros(10))).all()
    scores = guard(np.array([5, 6, 7, 5, 6, 1, 2, 3, 1, 2]), np.zeros(10))
    assert scores[3] == -np.inf and np.isfinite(np.delete(scores, 3)).all()  # "1 2 3" again is banned
    from kit.infer.engine import DraftBias

    bias = DraftBias([7, 7, 8], 2.0)
    first = bias(np.array([1, 2]), np.zeros(10))
    assert first[7] == first[8] == 2.0 and first[:7].sum() == 0
    after = bias(np.array([1, 2, 7, 8]), np.zeros(10))  # one 7 and the 8 used: only a 7 is still helped
    assert after[7] == 2.0 and after[8] == 0.0
    assert bias(np.array([1, 2, 7, 8, 7]), np.zeros(10)).sum() == 0
    ban = BanFirst([4, 9])
    first = ban(np.array([1, 2]), np.zeros(10))
    assert first[4] == first[9] == -np.inf and np.isfinite(first[:4]).all()
    assert np.isfinite(ban(np.array([1, 2, 4]), np.zeros(10))).all()  # only the first token


def test_other_direction_and_bad_direction(ws, llm):
    result = translate(ws, "Agor y ffeil.", to="en", translator=Translator(ws, llm=llm))
    assert "Translate to English: Agor y ffeil." in result.prompt and "ffeil = file (n)" in result.prompt
    assert result.text and "\n" not in result.text
    with pytest.raises(TaalkitError, match="--to fr is neither"):
        translate(ws, "Bonjour", to="fr", translator=Translator(ws, llm=llm))
    with pytest.raises(TaalkitError, match="empty"):
        translate(ws, "  ", to="cy", translator=Translator(ws, llm=llm))


def test_file_translation_stops_and_resumes_where_it_ended(ws, llm, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Open the file.\nThe file.\n\nOpen it.\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    translator = Translator(ws, llm=llm)
    cancel = CancelToken()
    events = []

    def progress(event):
        events.append(event)
        if event.done == 2:
            cancel.cancel()  # stop after the second line, as Ctrl-C would

    with pytest.raises(Cancelled):
        translate_file(ws, src, out, to="cy", progress=progress, cancel=cancel, translator=translator)
    first_two = out.read_text(encoding="utf-8").splitlines()
    assert len(first_two) == 2
    with open(out, "a", encoding="utf-8") as f:
        f.write("half a line from a cras")  # a crash in the middle of writing line 3
    events.clear()
    result = translate_file(ws, src, out, to="cy", progress=events.append, translator=translator)
    assert result == {"total": 4, "resumed_from": 2, "translated": 2}
    done = out.read_text(encoding="utf-8").splitlines()
    assert len(done) == 4 and done[:2] == first_two and done[2] == "" and "cras" not in done[3]
    assert events[0].message == "resuming at line 3" and events[-1].done == 4
    # Run again: nothing left to do, nothing changes.
    assert translate_file(ws, src, out, to="cy", translator=translator)["translated"] == 0


def test_tsv_file_keeps_the_source_beside_the_translation(ws, llm, tmp_path):
    src = tmp_path / "pairs.tsv"
    src.write_text("Open the file.\tAgor y ffeil.\n", encoding="utf-8")
    out = tmp_path / "out.tsv"
    translate_file(ws, src, out, to="cy", translator=Translator(ws, llm=llm))
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert line.split("\t")[0] == "Open the file." and len(line.split("\t")) == 2
    other = tmp_path / "other.tsv"
    other.write_text("Close the door.\tCau'r drws.\n", encoding="utf-8")
    with pytest.raises(TaalkitError, match="belongs to another input"):
        translate_file(ws, other, out, to="cy", translator=Translator(ws, llm=llm))


def test_bad_input_file_names_the_line(ws, llm, tmp_path):
    src = tmp_path / "bad.txt"
    src.write_bytes(b"fine\n\xff\xfe broken\n")
    with pytest.raises(InputFormatError, match=r"bad.txt:2: expected UTF-8 text, found byte 0x"):
        translate_file(ws, src, tmp_path / "out.txt", to="cy", translator=Translator(ws, llm=llm))
    assert not (tmp_path / "out.txt").exists()


def test_output_cleaning():
    assert clean_output("Welsh:\nAgor y ffeil\nMore", single_line=True) == "Agor y ffeil"
    assert clean_output("Translation: Agor y ffeil<|im_end|>", single_line=True) == "Agor y ffeil"
    assert clean_output("line one\nline two\n", single_line=False) == "line one\nline two"
    assert clean_output("Translate to English: In the box", single_line=True) == "In the box"
    assert clean_output("Word by word: Agor y ffeil", single_line=True) == "Agor y ffeil"
    assert stuck_in_loop("Mwaflaflaflafl") and not stuck_in_loop("Agor y ffeil...")


def test_which_model(ws, tmp_path):
    with pytest.raises(WorkspaceError, match="no exported model"):
        resolve_model(ws)
    gguf = ws.gguf_dir / "cy-q4.gguf"
    gguf.symlink_to(default_model_gguf())  # an "export" without copying 90 MB
    ws.db["exports"].insert({"model_id": 1, "path": "gguf/cy-q4.gguf", "quant": "Q4_1"})
    assert latest_export_gguf(ws) is None  # an export of no model of this workspace is never loaded
    ws.db["models"].insert({"id": 1, "name": "finetuned-1", "role": "finetuned", "path": "models/finetuned-1"})
    assert latest_export_gguf(ws) == gguf and resolve_model(ws) == gguf  # the current model's export
    assert resolve_model(ws, default_model_gguf()) == default_model_gguf()
    with pytest.raises(TaalkitError, match="no such GGUF"):
        resolve_model(ws, tmp_path / "nope.gguf")


def test_translate_verb_for_files(ws, tmp_path):
    from click.testing import CliRunner

    from kit.cli import main

    src = tmp_path / "in.txt"
    src.write_text("Open the file.\nThe file.\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    base = ["-w", str(ws.root), "translate", "--model", str(default_model_gguf())]
    result = CliRunner().invoke(main, base + ["--file", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "translated 2 of 2 lines" in result.stderr and len(out.read_text(encoding="utf-8").splitlines()) == 2
    result = CliRunner().invoke(main, base + ["--file", str(src)])
    assert result.exit_code == 2 and "--file needs --out" in result.stderr

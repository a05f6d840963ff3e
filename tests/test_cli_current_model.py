"""Issue 18, points 2, 5, 6, 7, 9: the real verbs on a real workspace with tiny real models.

One current model that only `taalkit use` (or continuing the main line) changes, baselines never
picked by themselves; the workspace's language codes in messages; one TEXT argument per segment;
the export check judging the chat reply; where the source model came from.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from kit.cli import main
from kit.gguf.verify import judge_reply
from kit.infer.default_model import default_model_gguf
from kit.workspace import Workspace, now


def _add(ws, model_dir, name, role, method=None, parent=None, source_path=None):
    dest = ws.models_dir / name
    shutil.copytree(model_dir, dest)
    cfg = json.loads((dest / "config.json").read_text())
    return ws.db["models"].insert({
        "name": name, "role": role, "path": ws.relative(dest), "architecture": "LlamaForCausalLM",
        "vocab_size": cfg["vocab_size"], "hidden_size": cfg["hidden_size"], "tied": 1, "method": method,
        "parent_id": parent, "source_path": source_path, "created_at": now()}).last_pk


@pytest.fixture
def ws(tmp_path, tiny_llama_dir):
    ws = Workspace.init(tmp_path / "ws", source="en", target="cy")
    src = _add(ws, tiny_llama_dir, "source", "source", method="gguf-dequantize",
               source_path=str(default_model_gguf()))
    _add(ws, tiny_llama_dir, "transtok-transtok", "transtok", method="transtok", parent=src)
    _add(ws, tiny_llama_dir, "transtok-mean", "transtok", method="mean", parent=src)  # newest, a baseline
    yield ws
    ws.close()


def _run(ws, *args):
    return CliRunner().invoke(main, ["-w", str(ws.root), *args])


def test_baselines_never_become_current_until_chosen(ws):
    res = _run(ws, "status")
    assert res.exit_code == 0, res.output
    assert "current model: transtok-transtok" in res.output  # not the newer mean baseline

    # export works on the current model and says so first; exporting a baseline on purpose does not
    # change what translate loads.
    res = _run(ws, "export", "--quant", "F16", "--no-verify")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines()[0].startswith("model transtok-transtok (current")
    res = _run(ws, "export", "--quant", "F16", "--no-verify", "--model", "transtok-mean")
    assert res.exit_code == 0 and "model transtok-mean (--model; the current model is transtok-transtok)" \
        in res.stderr, res.output
    res = _run(ws, "translate", "Open the file")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines()[0] == ("model transtok-transtok as gguf/transtok-transtok-F16.gguf (current: "
                                          "the newest of the main line; 'taalkit use NAME' chooses another)")

    res = _run(ws, "use", "transtok-mean")
    assert res.exit_code == 0 and "current model: transtok-mean (a baseline: chosen on purpose)" in res.output
    res = _run(ws, "status")
    assert "current model: transtok-mean (chosen with 'taalkit use'); exported as gguf/transtok-mean-F16.gguf" \
        in res.output
    res = _run(ws, "use")
    assert "* transtok-mean" in res.output and "baseline" in res.output
    res = _run(ws, "use", "nope")
    assert res.exit_code == 2 and "no model 'nope'" in res.output


def test_a_model_made_from_the_chosen_one_continues_the_line(ws):
    assert _run(ws, "use", "source").exit_code == 0
    assert ws.current_model()["name"] == "source"  # older children of source do not pull it away
    child = ws.db["models"].insert({"name": "finetuned-9", "role": "finetuned", "method": "finetune-full",
                                    "parent_id": ws.model_by_name("source")["id"], "path": "models/x",
                                    "created_at": now()}).last_pk
    assert ws.current_model()["id"] == child
    assert "current model: finetuned-9 (made from source, chosen with 'taalkit use')" in _run(ws, "status").output


def test_messages_use_the_workspace_codes(ws, tmp_path):
    test = tmp_path / "t.tsv"
    test.write_text("Open the file\tAgor y ffeil\n", encoding="utf-8")
    res = _run(ws, "eval", "--test", str(test), "--direction", "en->LANG", "--system", "wordbyword")
    assert res.exit_code == 2
    assert "unknown direction 'en->LANG'; this workspace's directions are en->cy and cy->en" in res.output
    assert "xx" not in res.output
    res = _run(ws, "eval", "--help")
    assert "en->cy" in res.output and "en->xx" not in res.output


def test_each_text_argument_is_one_segment(ws):
    res = _run(ws, "translate", "--model", str(default_model_gguf()), "Open the file", "Good morning")
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 2  # one line per argument, not one joined sentence
    assert "[Open the file]" in res.stderr and "[Good morning]" in res.stderr


def test_model_list_says_what_source_is(ws):
    res = _run(ws, "model", "list")
    assert res.exit_code == 0, res.output
    assert "source: dequantized from SmolLM2-135M-Instruct, the Q4_1 GGUF embedded in taalkit" in res.output
    assert "transtok-mean: mean of source (a baseline" in res.output


def test_the_chat_reply_is_judged():
    prompt = "Mae'r gath yn eistedd ar y mat."
    assert judge_reply(prompt, "The cat is sitting on the mat.", "stop") == []
    assert judge_reply(prompt, "   ", "stop") == ["empty"]
    assert "echoes the prompt" in judge_reply(prompt, "Mae'r gath yn eistedd ar y mat. Mae'r", "stop")
    assert any("Translate to" in p for p in judge_reply(prompt, "Translate to English: In the", "stop"))
    assert any("does not end" in p for p in judge_reply(prompt, "The cat is", "length"))

"""The demo's language names and its last step (translations and a chat from the exported GGUF).

The whole demo runs in tests/e2e (slow); here only the examples step, on the real SmolLM2 GGUF
placed where an export would be, so what it writes to the workspace database can be checked.
"""

from __future__ import annotations

import os
import shutil

import kit.demo as demo
from kit.demo import DemoData, DemoSettings, format_summary
from kit.langs import language_name
from kit.infer import conversations as store
from kit.infer.default_model import default_model_gguf
from kit.workspace import Workspace


def test_demo_names_languages_from_the_shared_table():
    assert not hasattr(demo, "LANG_NAMES")  # one table: kit.langs
    summary = {"lang": "fy", "workspace": "/ws", "translations": [],
               "chat": {"prompt": "Hoi", "reply": "Hoi", "tokens_per_s": 1.0}, "times_s": {}, "sizes": {},
               "source_vocab": 1, "tokenizer_vocab": 1, "bits_per_char": {}, "chrf": {}}
    assert format_summary(summary).splitlines()[0] == f"taalkit demo: en→fy ({language_name('fy')}) in /ws"


def test_examples_chat_in_the_target_language_and_record_a_portable_model_path(tmp_path):
    # Irish has no prepared chat prompt: the fallback system prompt names the language in English.
    ws = Workspace.init(tmp_path / "ws", source="en", target="ga")
    try:
        gguf = ws.gguf_dir / "finetuned-1-Q8_0.gguf"
        try:
            os.link(default_model_gguf(), gguf)
        except OSError:  # another file system
            shutil.copyfile(default_model_gguf(), gguf)
        test = tmp_path / "test_en_ga.tsv"
        test.write_text("Good morning.\tMaidin mhaith.\nThank you.\tGo raibh maith agat.\n", encoding="utf-8")
        files = DemoData("ga", [], None, test, None, test)

        out = demo._examples(ws, gguf, files, DemoSettings(chat_tokens=4), None)

        assert len(out["translations"]) == 2 and out["chat"]["prompt"] == "Hello!"
        [conv] = store.list_conversations(ws)
        assert conv["model_path"] == "gguf/finetuned-1-Q8_0.gguf"  # not the workspace's absolute folder
        assert ws.model_dir({"path": conv["model_path"]}) == gguf
        full = store.conversation(ws, conv["id"])
        assert full["system_prompt"] == "You are a helpful assistant. Answer in Irish."
        assert [m["role"] for m in full["messages"]] == ["user", "assistant"]
    finally:
        ws.close()

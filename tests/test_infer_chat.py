"""ChatSession over the real SmolLM2 GGUF in llama.cpp: streaming, stopping, saving, context limits."""

from __future__ import annotations

import json

import pytest

from kit.errors import TaalkitError
from kit.infer import conversations as store
from kit.infer.chat import ChatSession
from kit.infer.default_model import default_model_gguf
from kit.infer.engine import ChatTemplate, load_llama
from kit.progress import CancelToken


@pytest.fixture(scope="module")
def llm():
    # Small context so overflow is cheap to provoke; the file is the real 135M Q4_1 model.
    return load_llama(default_model_gguf(), n_ctx=512, n_threads=1)


@pytest.fixture(scope="module")
def small_llm():
    # A 256-token context: overflowing it costs little prompt processing.
    return load_llama(default_model_gguf(), n_ctx=256, n_threads=1)


def saved_messages(ws, conversation_id):
    return store.conversation(ws, conversation_id)["messages"]


def test_reply_streams_pieces_and_is_saved(llm, workspace):
    session = ChatSession(llm, ws=workspace, system_prompt="Answer in one short sentence.", temperature=0.0,
                          max_tokens=12)
    reply = session.send("What is the capital of France?")
    pieces = list(reply)
    assert len(pieces) > 1  # streamed, not one block
    assert reply.finished and reply.text == "".join(pieces).strip()
    assert "Paris" in reply.text
    assert reply.stats.tokens >= len(pieces) - 1 and reply.tokens_per_s > 0
    messages = saved_messages(workspace, session.conversation_id)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == reply.text and messages[1]["tokens_per_s"] > 0


def test_prompt_uses_the_models_chat_template(llm):
    session = ChatSession(llm, system_prompt="Be brief.")
    reply = session.send("Hello")
    reply.close()
    assert reply.prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>")
    assert reply.prompt.endswith("<|im_start|>assistant\n")
    # Without a system prompt the GGUF's own template supplies SmolLM2's default one.
    assert "You are a helpful AI assistant named SmolLM" in ChatSession(llm).send("Hi").prompt


def test_stop_flag_keeps_the_partial_reply(llm, workspace):
    session = ChatSession(llm, ws=workspace, temperature=0.0, max_tokens=200)
    cancel = CancelToken()
    reply = session.send("Write a long story about a cat who travels the world.", cancel=cancel)
    got = []
    for piece in reply:
        got.append(piece)
        if len(got) == 5:
            cancel.cancel()  # what the CLI's Ctrl-C handler or the TUI's Escape does
    assert len(got) == 5
    assert reply.stopped and reply.stats.tokens < 200
    assert reply.text == "".join(got).strip()
    assert saved_messages(workspace, session.conversation_id)[-1]["content"] == reply.text
    assert session.turns[-1].content == reply.text


def test_closing_the_stream_keeps_the_partial_reply(llm, workspace):
    session = ChatSession(llm, ws=workspace, temperature=0.0, max_tokens=200)
    reply = session.send("Count from one to fifty in words.")
    stream = iter(reply)
    first = [next(stream), next(stream), next(stream)]
    stream.close()
    assert reply.finished and reply.stopped
    assert reply.text == "".join(first).strip()
    # The conversation goes on after a stop: the partial reply is part of the history.
    follow = session.send("Thanks")
    follow.close()
    assert "".join(first).strip() in follow.prompt


def test_reply_never_started_is_recorded_empty(llm, workspace):
    session = ChatSession(llm, ws=workspace)
    session.send("Hello").close()
    assert [m["role"] for m in saved_messages(workspace, session.conversation_id)] == ["user", "assistant"]


def test_long_conversation_drops_oldest_turns_with_a_notice(small_llm, workspace):
    llm = small_llm
    session = ChatSession(llm, ws=workspace, system_prompt="Be brief.", temperature=0.0, max_tokens=8)
    filler = "Tell me about the weather in Wales and the rain in the mountains. " * 5
    notices = []
    for turn in range(3):
        reply = session.send(f"{turn}: {filler}")
        for _ in reply:
            pass
        notices.append(reply.notice)
        used = len(llm.tokenize(reply.prompt.encode(), add_bos=False, special=True))
        assert used + 1 <= llm.n_ctx()
    assert notices[0] == ""
    assert any("left out" in n for n in notices)
    assert f"2: {filler}" in reply.prompt and f"0: {filler}" not in reply.prompt
    assert reply.prompt.startswith("<|im_start|>system\nBe brief.")  # the system prompt is never dropped
    # Nothing is lost from the saved conversation, only from the prompt.
    assert len(saved_messages(workspace, session.conversation_id)) == 6


def test_a_message_longer_than_the_context_is_cut_not_fatal(small_llm):
    llm = small_llm
    session = ChatSession(llm, temperature=0.0, max_tokens=8)
    huge = " ".join(f"word{i}" for i in range(600)) + " THE END"
    reply = session.send(huge)
    list(reply)
    assert "too long" in reply.notice
    assert "THE END" in reply.prompt  # the end of the message is what is kept
    assert len(llm.tokenize(reply.prompt.encode(), add_bos=False, special=True)) < llm.n_ctx()


def test_conversation_reopens_and_exports(llm, workspace, tmp_path):
    session = ChatSession(llm, ws=workspace, system_prompt="Be brief.", temperature=0.0, max_tokens=8)
    list(session.send("Say hello."))
    again = ChatSession(llm, ws=workspace, conversation_id=session.conversation_id)
    assert again.system_prompt == "Be brief." and [t.role for t in again.turns] == ["user", "assistant"]

    md = store.export_conversation(workspace, session.conversation_id, tmp_path / "chat.md")
    text = md.read_text(encoding="utf-8")
    assert "**You:**" in text and "Say hello." in text and "**System:** Be brief." in text
    data = json.loads(store.export_conversation(workspace, session.conversation_id, tmp_path / "c.json")
                      .read_text(encoding="utf-8"))
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert store.list_conversations(workspace)[0]["messages"] == 2
    with pytest.raises(TaalkitError, match="unknown export format"):
        store.export_conversation(workspace, session.conversation_id, tmp_path / "c.pdf")
    assert not (tmp_path / "c.pdf").exists()


def test_conversation_model_path_is_stored_relative_to_the_workspace(llm, workspace, tmp_path):
    # A session given the absolute path of a GGUF inside the workspace (what the demo's session gets
    # from llama.cpp): the row names it relative to the workspace, so the workspace can be moved.
    inside = workspace.gguf_dir / "finetuned-1-Q8_0.gguf"
    session = ChatSession(llm, ws=workspace, model_path=str(inside), temperature=0.0, max_tokens=4)
    session.send("Hi").close()
    conv = store.conversation(workspace, session.conversation_id)
    assert conv["model_path"] == "gguf/finetuned-1-Q8_0.gguf"
    assert workspace.model_dir({"path": conv["model_path"]}) == inside
    assert str(workspace.root) not in json.dumps(store.list_conversations(workspace))
    # Already relative: kept; outside the workspace: kept absolute; none: empty.
    outside = tmp_path / "elsewhere" / "m.gguf"
    for given, stored in (("gguf/m.gguf", "gguf/m.gguf"), (outside, str(outside)), ("", "")):
        cid = store.start_conversation(workspace, model_path=given, system_prompt="")
        assert store.conversation(workspace, cid)["model_path"] == stored


def test_system_prompts_are_saved_edited_and_deleted(workspace):
    store.save_system_prompt(workspace, "tutor", "Answer in Welsh.")
    store.save_system_prompt(workspace, "tutor", "Answer in simple Welsh.")
    assert store.get_system_prompt(workspace, "tutor") == "Answer in simple Welsh."
    assert "assistant" in store.system_prompts(workspace)  # the built-in default is listed too
    assert store.delete_system_prompt(workspace, "tutor")
    with pytest.raises(TaalkitError, match="no system prompt called 'tutor'"):
        store.get_system_prompt(workspace, "tutor")
    with pytest.raises(TaalkitError):
        store.save_system_prompt(workspace, " ", "x")


def test_template_fallback_and_sandbox():
    plain = ChatTemplate("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}")
    assert plain.render([{"role": "user", "content": "hi"}]) == "[user]hi"
    refusing = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(TaalkitError, match="roles must alternate"):
        refusing.render([])


def test_bad_gguf_is_one_clear_error(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(TaalkitError, match="not a GGUF file"):
        load_llama(bogus)
    with pytest.raises(TaalkitError, match="no such GGUF file"):
        load_llama(tmp_path / "missing.gguf")

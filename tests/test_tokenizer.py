"""The target tokenizer: trained on real Welsh demo text, with a real tiny source model.

The source model here is a tiny Llama whose tokenizer has SmolLM2's specials, chat template
and digit-splitting pre-tokenizer, so what the target tokenizer must inherit is all present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CHAT_TEMPLATE, DATA, REPO, SPECIAL_TOKENS, TINY_ENGLISH, build_tiny_llama, train_tiny_bpe
from kit.cli import main
from kit.errors import InputFormatError, TaalkitError, WorkspaceError
from kit.fsutil import sha256_file
from kit.models import add_model, load_tokenizer
from kit.tokenizer import default_vocab_size, read_text_file, tokenizer_stats, train_tokenizer, training_text

WELSH = "Mae'r neges hon yn cynnwys llofnod digidol; ŵyr ŷd — 2024 o negeseuon, 15% wedi'u darllen."


@pytest.fixture(scope="module")
def smollm2_like_source(tmp_path_factory) -> Path:
    """A tiny Llama whose tokenizer splits digits like SmolLM2 (Digits + ByteLevel)."""
    from tokenizers import pre_tokenizers

    tok = train_tiny_bpe(TINY_ENGLISH)
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    return build_tiny_llama(tmp_path_factory.mktemp("smollm2_like"), tok)


@pytest.fixture(scope="module")
def welsh_train_file(tmp_path_factory) -> Path:
    """The first 3,000 pairs of the Welsh demo corpus (enough for a real tokenizer, fast)."""
    lines = (DATA / "cy" / "train_en_cy.tsv").read_text(encoding="utf-8").splitlines()[:3000]
    path = tmp_path_factory.mktemp("cy") / "train_3k.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def welsh_ws(workspace, smollm2_like_source, welsh_train_file):
    from kit.corpus import import_corpus

    add_model(workspace, str(smollm2_like_source))
    import_corpus(workspace, welsh_train_file)
    return workspace


def _run(ws, *args):
    return CliRunner().invoke(main, ["-w", str(ws.root), *args], catch_exceptions=False)


def test_trained_tokenizer_keeps_the_sources_specials_template_and_splitting(welsh_ws):
    events = []
    row = train_tokenizer(welsh_ws, vocab_size=1500, progress=events.append)
    folder = welsh_ws.root / row["path"]

    assert row["name"] == "cy-bpe-1500" and row["path"] == "tokenizer/cy-bpe-1500"
    assert row["algo"] == "bpe" and 1000 < row["vocab_size"] <= 1500
    assert row["sha256"] == sha256_file(folder / "tokenizer.json")
    assert events[-1].done == events[-1].total
    tok = load_tokenizer(folder)
    source = load_tokenizer(welsh_ws.model_dir(welsh_ws.latest_model("source")))
    # Same special strings at the same ids, same roles, same chat template.
    assert tok.convert_tokens_to_ids(SPECIAL_TOKENS) == source.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2]
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == \
        (source.bos_token, source.eos_token, source.pad_token, source.unk_token)
    assert tok.chat_template == CHAT_TEMPLATE
    assert json.loads((folder / "tokenizer_config.json").read_text())["chat_template"] == CHAT_TEMPLATE
    chat = [{"role": "user", "content": "Helo"}]
    assert tok.apply_chat_template(chat, tokenize=False) == source.apply_chat_template(chat, tokenize=False)
    assert tok("<|im_start|>user")["input_ids"][0] == 1
    # The source's pre-tokenizer and decoder, verbatim (what llama.cpp's `smollm` pre expects).
    spec = json.loads((folder / "tokenizer.json").read_text())
    source_spec = json.loads((welsh_ws.model_dir(welsh_ws.latest_model("source")) / "tokenizer.json").read_text())
    assert spec["pre_tokenizer"] == source_spec["pre_tokenizer"]
    assert spec["decoder"] == source_spec["decoder"]
    assert tok.convert_ids_to_tokens(tok("2024")["input_ids"]) == ["2", "0", "2", "4"]
    # Byte-level: any text survives the round trip, letters the training text never had included.
    for text in (WELSH, "Ελληνικά 中文 🙂"):
        assert tok.decode(tok(text)["input_ids"]) == text
    # Welsh words are whole tokens or few pieces; the English-trained source shreds them.
    assert len(tok(WELSH)["input_ids"]) < len(source(WELSH)["input_ids"])


def test_same_text_and_seed_give_a_byte_identical_tokenizer_across_processes(welsh_ws, tmp_path):
    row = train_tokenizer(welsh_ws, vocab_size=1200, seed=3)
    first = (welsh_ws.root / row["path"] / "tokenizer.json").read_bytes()
    uni = train_tokenizer(welsh_ws, vocab_size=1200, seed=3, algo="unigram")
    first_uni = (welsh_ws.root / uni["path"] / "tokenizer.json").read_bytes()
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from kit.workspace import Workspace\nfrom kit.tokenizer import train_tokenizer\n"
        "ws = Workspace.open(sys.argv[2])\n"
        "train_tokenizer(ws, vocab_size=1200, seed=3, name='again')\n"
        "train_tokenizer(ws, vocab_size=1200, seed=3, algo='unigram', name='again-unigram')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(REPO), str(welsh_ws.root)], check=True,
                   env={"HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    assert (welsh_ws.root / "tokenizer" / "again" / "tokenizer.json").read_bytes() == first
    assert (welsh_ws.root / "tokenizer" / "again-unigram" / "tokenizer.json").read_bytes() == first_uni
    # Retraining under the same name replaces the folder and keeps the row's id.
    retrained = train_tokenizer(welsh_ws, vocab_size=1200, seed=3)
    assert retrained["id"] == row["id"] and retrained["sha256"] == row["sha256"]
    assert welsh_ws.db.execute("select count(*) from tokenizers").fetchone()[0] == 4


def test_dictionary_words_in_the_target_language_are_training_text(welsh_ws, tmp_path):
    from kit.dictionary import import_files

    before = training_text(welsh_ws)
    assert before.dictionary_words == 0
    tsv = tmp_path / "geiriadur_cy_en.tsv"
    tsv.write_text("cyfrifiadur\tcomputer\nllygoden\tmouse\nllygoden\trat\n", encoding="utf-8")
    import_files(welsh_ws, [tsv], format="tsv")
    after = training_text(welsh_ws)
    assert after.dictionary_words == 2  # distinct Welsh words once each
    assert after.texts[-2:] == ["cyfrifiadur", "llygoden"]


def test_unigram_trains_with_the_same_contract(welsh_ws):
    row = train_tokenizer(welsh_ws, algo="unigram", vocab_size=1200)
    tok = load_tokenizer(welsh_ws.root / row["path"])
    assert row["name"] == "cy-unigram-1200" and row["algo"] == "unigram" and row["vocab_size"] == 1200
    assert json.loads((welsh_ws.root / row["path"] / "tokenizer.json").read_text())["model"]["type"] == "Unigram"
    assert tok.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2]
    assert tok.decode(tok(WELSH)["input_ids"]) == WELSH


def test_the_tokenizer_also_learns_the_words_it_will_be_asked_in(welsh_ws, welsh_train_file):
    """Default: source side of the pairs and the prompt's words are training text, so English reads
    in whole words; --target-only leaves them out and English falls apart into pieces."""
    from kit.tokenizer.text import prompt_text

    both = train_tokenizer(welsh_ws, vocab_size=2000, name="both")
    only = train_tokenizer(welsh_ws, vocab_size=2000, name="only", target_only=True)
    assert json.loads(only["trained_on"])["source_texts"] == 0
    assert json.loads(both["trained_on"])["source_texts"] > 2500  # ~3,000 pairs + the prompt text
    # The prompt as the source's chat template renders it, specials out, role names and request in.
    prompts = prompt_text(welsh_ws, welsh_ws.model_dir(welsh_ws.latest_model("source")))
    assert prompts[0] == "user\nTranslate to Welsh:\nassistant" and "Translate to English:" in prompts[1]
    tok_both = load_tokenizer(welsh_ws.root / both["path"])
    tok_only = load_tokenizer(welsh_ws.root / only["path"])
    english = [line.split("\t")[0] for line in welsh_train_file.read_text(encoding="utf-8").splitlines()[:200]]
    n_both = sum(len(tok_both(t)["input_ids"]) for t in english)
    n_only = sum(len(tok_only(t)["input_ids"]) for t in english)
    assert n_both < 0.8 * n_only
    request = "Translate to Welsh:"
    assert len(tok_both(request)["input_ids"]) <= 4 < len(tok_only(request)["input_ids"])
    assert tok_both.decode(tok_both(request)["input_ids"]) == request


def test_the_cli_warns_that_a_unigram_tokenizer_will_not_export(welsh_ws):
    """Export refuses unigram much later in the pipeline: the user hears it when choosing it."""
    unigram = _run(welsh_ws, "tokenizer", "train", "--algo", "unigram", "--vocab-size", "1200")
    assert unigram.exit_code == 0 and "cannot be exported to GGUF" in unigram.output
    bpe = _run(welsh_ws, "tokenizer", "train", "--vocab-size", "1200")
    assert bpe.exit_code == 0 and "GGUF" not in bpe.output


def test_cancelled_training_writes_nothing(welsh_ws):
    from kit.errors import Cancelled
    from kit.progress import CancelToken

    token = CancelToken()

    def stop_when_training_starts(event):
        if event.message.startswith("training"):
            token.cancel()

    with pytest.raises(Cancelled):
        train_tokenizer(welsh_ws, vocab_size=1200, progress=stop_when_training_starts, cancel=token)
    assert list(welsh_ws.tokenizer_dir.iterdir()) == []
    assert welsh_ws.db.execute("select count(*) from tokenizers").fetchone()[0] == 0


def test_default_vocab_size_follows_the_amount_of_text():
    assert default_vocab_size(0) == 1000
    assert default_vocab_size(17969) == 9024  # the Welsh demo text
    assert default_vocab_size(10**6) == 16000
    assert default_vocab_size(5000) % 64 == 0


def test_default_vocab_is_chosen_and_recorded(welsh_ws):
    row = train_tokenizer(welsh_ws)
    trained = json.loads(row["trained_on"])
    assert row["name"] == f"cy-bpe-{default_vocab_size(trained['distinct_words'])}"
    assert json.loads(row["extra"])["special_ids_match_source"] is True


def test_stats_compare_new_and_source_on_heldout_text(welsh_ws, tmp_path):
    train_tokenizer(welsh_ws, vocab_size=2000)
    stats = tokenizer_stats(welsh_ws)
    assert stats["source_of_text"].startswith("held-out") and stats["texts"] > 50
    new, source = stats["rows"]
    assert new["fertility"] < source["fertility"] and new["chars_per_token"] > source["chars_per_token"]
    assert new["tokens"] / stats["words"] == pytest.approx(new["fertility"])

    result = _run(welsh_ws, "tokenizer", "stats", "--file", str(DATA / "cy" / "test_en_cy.tsv"))
    assert result.exit_code == 0
    assert "500 texts" in result.output and "cy-bpe-2000 (new)" in result.output
    assert "tokens/word" in result.output and "source (source model)" in result.output


def test_read_text_file_takes_the_target_column_and_rejects_bad_bytes(tmp_path):
    assert read_text_file(DATA / "cy" / "test_en_cy.tsv")[0] == "Ar gael ar gyfer Man Tasgau'n unig"
    assert read_text_file(DATA / "cy" / "test_en_cy.tsv", 1)[0] == "Available for Tasks Space only"
    with pytest.raises(InputFormatError, match="test_en_cy.tsv:1: expected at least 3 tab-separated columns"):
        read_text_file(DATA / "cy" / "test_en_cy.tsv", 3)
    bad = tmp_path / "bad.txt"
    bad.write_bytes("iawn\nda\n".encode() + b"\xff\xfe drwg\n")
    with pytest.raises(InputFormatError, match="bad.txt:3: not UTF-8"):
        read_text_file(bad)


def test_what_is_missing_is_a_one_line_error(workspace, smollm2_like_source, welsh_train_file):
    result = _run(workspace, "tokenizer", "train")
    assert result.exit_code == 2 and "no source model yet; add one with 'taalkit model add default'" in result.output
    add_model(workspace, str(smollm2_like_source))
    with pytest.raises(WorkspaceError, match="no cy text to train a tokenizer on"):
        train_tokenizer(workspace)
    result = _run(workspace, "tokenizer", "stats")
    assert result.exit_code == 2 and "no held-out text" in result.output
    with pytest.raises(TaalkitError, match="--vocab-size 10 is out of range"):
        train_tokenizer(workspace, vocab_size=10)
    result = _run(workspace, "tokenizer", "train", "--algo", "wordpiece")
    assert result.exit_code == 2
    assert list(workspace.tokenizer_dir.iterdir()) == []


def test_llama_cpp_tokenizes_welsh_exactly_like_the_new_tokenizer(welsh_ws, tmp_path):
    """The point of keeping the source's pre-tokenizer: llama.cpp (pre `smollm`) agrees token for token."""
    from kit.gguf.verify import compare_tokenization, load_llama
    from kit.gguf.writer import write_gguf

    row = train_tokenizer(welsh_ws, vocab_size=1500)
    tok = load_tokenizer(welsh_ws.root / row["path"])
    model_dir = build_tiny_llama(tmp_path / "cy-tiny", tok, hidden=32, layers=1, heads=2, kv_heads=1)
    written = write_gguf(model_dir, tmp_path / "cy-tiny.gguf", out_type="F32")
    assert written["pre"] == "smollm"
    texts = read_text_file(DATA / "cy" / "test_en_cy.tsv")[:200] + [WELSH]
    result = compare_tokenization(load_llama(written["path"], vocab_only=True), tok, texts)
    assert result["identical"], result["first_mismatch"]
    assert result["texts"] == len(texts) + 1  # plus one chat-formatted turn

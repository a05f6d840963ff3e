"""Trans-tokenization end to end on tiny real models: exact rows, means, specials, round trip, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_ENGLISH, build_tiny_llama, train_tiny_bpe

from kit.transtok import TokenMapping, build_mapping, transtokenize

WELSH = [
    "Mae'r ffenestr ar gau.", "Mae ci yn y parc.", "Agorwch y ffeil a chadw hi.", "Bore da, athro.",
    "Dwr, bara a chaws.", "Anfonwch y neges at eich ffrind.", "ffenestr ci ffenestr ci",
] * 6
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@pytest.fixture(scope="module")
def source_tok(tmp_path_factory):
    # A little larger than conftest's tiny tokenizer so whole English words are single tokens.
    return train_tiny_bpe(TINY_ENGLISH, vocab_size=420, out_dir=tmp_path_factory.mktemp("src_tok"))


@pytest.fixture(scope="module", params=["tied", "untied"])
def source_dir(request, tmp_path_factory, source_tok) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp(f"src_{request.param}"), source_tok,
                            tied=request.param == "tied", seed=3)


@pytest.fixture(scope="module")
def target_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tgt_tok")
    train_tiny_bpe(WELSH, vocab_size=300, out_dir=out)
    return out


def _one(tok, text: str) -> int:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, f"{text!r} should be one token, got {tok.convert_ids_to_tokens(ids)}"
    return ids[0]


def _add_dictionary(ws, pairs):
    """Real rows in the real schema: cy headword ⇄ en translation."""
    d = ws.db["dictionaries"].insert({"name": "hand-made", "path": "-", "format": "tsv", "sha256": "x",
                                      "headword_lang": "cy", "translation_lang": "en",
                                      "direction": "cy-en", "entry_count": len(pairs)}).last_pk
    for i, (cy, en) in enumerate(pairs, 1):
        ws.db["entries"].insert({"dictionary_id": d, "headword": cy, "translation": en,
                                 "headword_lang": "cy", "translation_lang": "en", "sense": i})


def _tables(model_dir: Path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    emb = model.get_input_embeddings().weight.detach().numpy()
    head = model.get_output_embeddings().weight.detach().numpy()
    return model, emb, head


@pytest.fixture
def adapted(workspace, source_dir, target_dir):
    _add_dictionary(workspace, [("ffenestr", "window"), ("ci", "dog"), ("ci", "house")])
    # The evidence alone (no FVT prior), so the rows below are exactly the dictionary's translations.
    row = transtokenize(workspace, tokenizer=target_dir, source_model=source_dir, device="cpu",
                        fvt_prior=0, fvt_prior_inside=0)
    return workspace, row


def test_single_translation_gets_exactly_that_source_row(adapted, source_dir, target_dir, source_tok):
    from transformers import AutoTokenizer

    ws, row = adapted
    tgt = AutoTokenizer.from_pretrained(target_dir)
    t, s = _one(tgt, " ffenestr"), _one(source_tok, " window")
    src_model, src_emb, src_head = _tables(source_dir)
    new_model, emb, head = _tables(ws.model_dir(row))
    assert np.array_equal(emb[t], src_emb[s])
    assert np.array_equal(head[t], src_head[s])


def test_two_equal_translations_get_their_mean(adapted, source_dir, target_dir, source_tok):
    from transformers import AutoTokenizer

    ws, row = adapted
    tgt = AutoTokenizer.from_pretrained(target_dir)
    t = _one(tgt, " ci")
    dog, house = _one(source_tok, " dog"), _one(source_tok, " house")
    _, src_emb, src_head = _tables(source_dir)
    _, emb, head = _tables(ws.model_dir(row))
    np.testing.assert_allclose(emb[t], (src_emb[dog] + src_emb[house]) / 2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(head[t], (src_head[dog] + src_head[house]) / 2, rtol=0, atol=1e-6)
    assert not np.allclose(src_emb[dog], src_emb[house])  # the test could fail


@pytest.mark.parametrize("method", ["transtok", "fvt", "mean", "random"])
def test_special_tokens_are_copied_for_every_method(workspace, source_dir, target_dir, source_tok, method):
    from transformers import AutoTokenizer

    row = transtokenize(workspace, method=method, tokenizer=target_dir, source_model=source_dir)
    tgt = AutoTokenizer.from_pretrained(target_dir)
    _, src_emb, src_head = _tables(source_dir)
    _, emb, head = _tables(workspace.model_dir(row))
    for special in SPECIALS:
        t, s = tgt.convert_tokens_to_ids(special), source_tok.convert_tokens_to_ids(special)
        assert np.array_equal(emb[t], src_emb[s]), special
        assert np.array_equal(head[t], src_head[s]), special


def test_saved_model_round_trips_and_generates(adapted, source_dir, target_dir):
    import torch
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer

    ws, row = adapted
    folder = ws.model_dir(row)
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model, emb, _ = _tables(folder)
    assert emb.shape[0] == len(tok) == row["vocab_size"] == model.config.vocab_size
    assert model.config.eos_token_id == tok.eos_token_id
    assert tok.chat_template  # the chat template travels with the new tokenizer
    ids = tok("Mae'r ffenestr", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] == ids["input_ids"].shape[1] + 4
    # Only embeddings/head changed: the body is the source's, and the source table is kept (Hydra).
    src_model, src_emb, _ = _tables(source_dir)
    for (name, p), (_, q) in zip(model.model.layers.named_parameters(), src_model.model.layers.named_parameters()):
        assert torch.equal(p, q), name
    kept = load_file(str(folder / "source_embeddings.safetensors"))
    assert np.array_equal(kept["embed_tokens"], src_emb)
    # Database rows
    assert row["role"] == "transtok" and row["method"] == "transtok" and row["path"] == "models/transtok-transtok"
    stats = json.loads(ws.db.execute("select stats from mappings").fetchone()[0])
    assert stats["covered_dictionary"] >= 2 and stats["dictionary_entries"] == 3
    assert stats["rows_pinned"] >= 3 and "times" in stats


def test_baselines_are_what_they_say(workspace, source_dir, target_dir, source_tok):
    from transformers import AutoTokenizer

    tgt = AutoTokenizer.from_pretrained(target_dir)
    _, src_emb, _ = _tables(source_dir)
    t = _one(tgt, " ffenestr")
    mean_row = transtokenize(workspace, method="mean", tokenizer=target_dir, source_model=source_dir)
    _, emb, _ = _tables(workspace.model_dir(mean_row))
    np.testing.assert_allclose(emb[t], src_emb.mean(axis=0), atol=1e-6)
    fvt_row = transtokenize(workspace, method="fvt", tokenizer=target_dir, source_model=source_dir)
    _, emb, _ = _tables(workspace.model_dir(fvt_row))
    pieces = source_tok(" ffenestr", add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    np.testing.assert_allclose(emb[t], src_emb[pieces].mean(axis=0), atol=1e-6)
    rnd_row = transtokenize(workspace, method="random", tokenizer=target_dir, source_model=source_dir)
    _, emb, _ = _tables(workspace.model_dir(rnd_row))
    assert not np.allclose(emb[t], src_emb.mean(axis=0), atol=1e-3)
    assert abs(float(emb.std()) - float(src_emb.std())) < 0.2 * float(src_emb.std())
    # Newest transtok-* row is the one made last.
    assert workspace.latest_model("transtok")["method"] == "random"


def test_rerun_updates_the_model_row_in_place(workspace, source_dir, target_dir, monkeypatch):
    """Re-running keeps the trans-tokenized model's id: its fine-tuned child, runs and exports still resolve."""
    import itertools

    import kit.transtok

    clock = (f"2026-01-01T00:00:{s:02d}+00:00" for s in itertools.count())
    monkeypatch.setattr(kit.transtok, "now", lambda: next(clock))  # one second per row: order is certain
    first = transtokenize(workspace, method="fvt", tokenizer=target_dir, source_model=source_dir)
    # Later stages made rows that point at it (and got newer ids).
    child = workspace.db["models"].insert({"name": "finetuned-1", "role": "finetuned", "path": "models/finetuned-1",
                                           "parent_id": first["id"]}).last_pk
    workspace.db["runs"].insert({"kind": "finetune", "model_id": first["id"], "output_model_id": child})
    workspace.db["exports"].insert({"model_id": first["id"], "path": "gguf/transtok-fvt-Q8_0.gguf", "quant": "Q8_0"})
    transtokenize(workspace, method="mean", tokenizer=target_dir, source_model=source_dir)

    again = transtokenize(workspace, method="fvt", tokenizer=target_dir, source_model=source_dir)
    assert again["id"] == first["id"]
    assert again["created_at"] > first["created_at"] and again["path"] == first["path"]
    assert workspace.db.execute("select count(*) from models where name = 'transtok-fvt'").fetchone()[0] == 1
    joined = workspace.db.execute(
        "select p.name, r.kind, e.quant from models c join models p on p.id = c.parent_id "
        "join runs r on r.model_id = p.id join exports e on e.model_id = p.id where c.id = ?", [child]).fetchall()
    assert joined == [("transtok-fvt", "finetune", "Q8_0")]
    # Remade last, so it is the newest trans-tokenized model although its id is older than mean's.
    assert workspace.latest_model("transtok")["method"] == "fvt"


def test_parallel_and_dictionary_evidence_are_combined_with_provenance(source_tok, target_dir):
    from transformers import AutoTokenizer

    tgt = AutoTokenizer.from_pretrained(target_dir)
    mapping = build_mapping(None, "transtok", source_tok, tgt, n_source=len(source_tok),
                            dictionary=[(7, "house", "ci")],
                            parallel=[(101, "A dog runs in the park.", "Mae ci yn y parc."),
                                      (102, "My house is small and green.", "Mae ci yn y parc.")])
    exp = mapping.explain(" ci")
    by_text = {sw.source_text: sw for sw in exp.sources}
    assert by_text[" house"].examples["dictionary"] == 7
    assert "parallel" in by_text[" house"].counts
    assert exp.decided_by == "evidence"
    assert abs(sum(sw.weight for sw in mapping.explain(" ci", top=50).sources) - 1) < 1e-9


def test_mapping_saves_and_loads(tmp_path, source_tok, target_dir):
    from transformers import AutoTokenizer

    tgt = AutoTokenizer.from_pretrained(target_dir)
    m = build_mapping(None, "transtok", source_tok, tgt, n_source=len(source_tok),
                      dictionary=[(1, "window", "ffenestr")], parallel=[])
    m.save(tmp_path / "map")
    back = TokenMapping.load(tmp_path / "map")
    assert (back.weights != m.weights).nnz == 0
    assert np.array_equal(back.decided, m.decided)
    assert " window" in [sw.source_text for sw in back.explain("Ġffenestr", top=10).sources]
    # "ffenestr" without its space (inside a word, or starting a text) leans on FVT more; the entry is kept.
    assert {"dictionary": 1} in [sw.examples for sw in back.explain("ffenestr", top=50).sources]


def test_cancel_leaves_no_model_folder(workspace, source_dir, target_dir):
    from kit.errors import Cancelled
    from kit.progress import CancelToken

    token = CancelToken()
    seen = []

    def progress(event):
        seen.append(event)
        if event.done >= 2:
            token.cancel()

    with pytest.raises(Cancelled):
        transtokenize(workspace, tokenizer=target_dir, source_model=source_dir, progress=progress, cancel=token)
    assert not (workspace.models_dir / "transtok-transtok").exists()
    assert not list(workspace.models_dir.glob(".transtok-*"))
    assert workspace.latest_model("transtok") is None


# -- the CLI ---------------------------------------------------------------------------
def _register_inputs(ws, source_dir, target_dir):
    ws.db["models"].insert({"name": "source", "role": "source", "path": str(source_dir)})
    ws.db["tokenizers"].insert({"name": "cy-bpe", "path": str(target_dir), "vocab_size": 300})


def test_cli_transtokenize_and_explain(workspace, source_dir, target_dir):
    from kit.cli import main

    _add_dictionary(workspace, [("ffenestr", "window")])
    _register_inputs(workspace, source_dir, target_dir)
    runner = CliRunner()
    res = runner.invoke(main, ["-w", str(workspace.root), "transtokenize"])
    assert res.exit_code == 0, res.output
    assert "wrote models/transtok-transtok" in res.output and "dictionary" in res.output
    # One dictionary entry is thin evidence: its row is blended with FVT (issue 19), so show 10 sources.
    res = runner.invoke(main, ["-w", str(workspace.root), "transtokenize", "explain", "ffenestr", "--top", "10"])
    assert res.exit_code == 0, res.output
    assert "' window'" in res.output and "ffenestr ⇄ window" in res.output
    res = runner.invoke(main, ["-w", str(workspace.root), "transtokenize", "explain", "zzzqqq"])
    assert res.exit_code == 2 and "not a token of the target tokenizer" in res.output


def test_cli_says_what_is_missing(workspace):
    from kit.cli import main

    res = CliRunner().invoke(main, ["-w", str(workspace.root), "transtokenize", "--method", "fvt"])
    assert res.exit_code == 2
    assert "no source model" in res.output
    assert "Traceback" not in res.output


def test_one_off_links_are_pruned_but_real_alternatives_kept():
    from kit.transtok.evidence import make_evidence

    # Target 0: 19 counts on source 0, a stray 0.5 on source 1. Target 1: 1 and 1 on sources 2 and 3.
    ev = make_evidence("parallel", np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3]),
                       np.array([19.0, 0.5, 1.0, 1.0]), np.array([5, 6, 7, 8]), 2, 4)
    kw = dict(target_pieces=["a", "b"], target_texts=["a", "b"], source_texts=["w", "x", "y", "z"])
    pruned = TokenMapping.combine("transtok", {"parallel": ev}, min_share=0.05, **kw)
    assert pruned.weights.toarray().tolist() == [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    kept = TokenMapping.combine("transtok", {"parallel": ev}, min_share=0.0, **kw)
    assert kept.weights[0, 1] > 0


def test_thin_evidence_leans_on_fvt_and_word_internal_pieces_more():
    """Issue 19: evidence rows are blended with FVT as a prior of k pseudo-counts,
    W = (n · evidence + k · FVT) / (n + k), with a larger k inside words."""
    from kit.transtok.evidence import make_evidence
    from kit.transtok.mapping import FVT_PRIOR as K, FVT_PRIOR_INSIDE as KI

    assert KI > K > 0
    # Targets: " ab" (starts a word) and "ab" (inside one), each seen once aligned to source 2;
    # " cd" seen 1000 times aligned to source 3. FVT splits them onto sources 0, 0 and 1.
    par = make_evidence("parallel", np.array([0, 1, 2]), np.array([2, 2, 3]), np.array([1.0, 1.0, 1000.0]),
                        np.array([5, 6, 7]), 3, 4)
    fvt = make_evidence("fvt", np.array([0, 1, 2]), np.array([0, 0, 1]), np.ones(3), np.full(3, -1), 3, 4)
    kw = dict(target_pieces=["\u0120ab", "ab", "\u0120cd"], target_texts=[" ab", "ab", " cd"],
              source_texts=["w", "x", "y", "z"])
    m = TokenMapping.combine("transtok", {"parallel": par, "fvt": fvt}, **kw)
    w = m.weights.toarray()
    np.testing.assert_allclose(w[0], [K / (1 + K), 0, 1 / (1 + K), 0])
    np.testing.assert_allclose(w[1], [KI / (1 + KI), 0, 1 / (1 + KI), 0])
    np.testing.assert_allclose(w[2], [0, K / (1000 + K), 0, 1000 / (1000 + K)])
    assert [m.decided[i] for i in range(3)] == [1, 1, 1]  # still decided by the evidence
    pure = TokenMapping.combine("transtok", {"parallel": par, "fvt": fvt}, fvt_prior=0, fvt_prior_inside=0, **kw)
    assert pure.weights.toarray().tolist() == [[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_missing_eflomal_is_one_line_naming_what_to_install(workspace, monkeypatch):
    import sys

    from kit.cli import main

    monkeypatch.setitem(sys.modules, "eflomal", None)  # what an interpreter without the package sees
    res = CliRunner().invoke(main, ["-w", str(workspace.root), "transtokenize", "--aligner", "eflomal"])
    assert res.exit_code == 2, res.output
    assert "pip install eflomal" in res.output and "Traceback" not in res.output


def test_cli_measures_step0_bits_per_char_and_compares_methods(workspace, source_dir, target_dir):
    """Issue 18.3: transtokenize prints and stores held-out bits/char; --compare runs every method."""
    from kit.cli import main

    _register_inputs(workspace, source_dir, target_dir)
    cid = workspace.db["corpora"].insert({"name": "cy", "kind": "parallel"}).last_pk
    workspace.db["segments"].insert_all(
        [{"corpus_id": cid, "kind": "parallel", "source_text": en, "target_text": cy, "split": split, "line": i}
         for i, (en, cy, split) in enumerate([("The window is shut.", "Mae'r ffenestr ar gau.", "train"),
                                              ("A dog is in the park.", "Mae ci yn y parc.", "heldout"),
                                              ("Good morning, teacher.", "Bore da, athro.", "heldout")])])
    runner = CliRunner()
    res = runner.invoke(main, ["-w", str(workspace.root), "transtokenize", "--method", "fvt"])
    assert res.exit_code == 0, res.output
    stats = json.loads(workspace.db.execute("select stats from mappings order by id desc limit 1").fetchone()[0])
    value = stats["heldout_bits_per_char"]
    assert stats["heldout_texts"] == 2 and 0 < value < 20
    assert f"held-out bits per char at step 0: {value:.4f} (2 held-out texts" in res.output
    res = runner.invoke(main, ["-w", str(workspace.root), "transtokenize", "--compare"])
    assert res.exit_code == 0, res.output
    table = res.output[res.output.index("method "):].splitlines()
    assert [line.split()[0] for line in table[1:5]] == ["random", "mean", "fvt", "transtok"]
    assert table[3].split()[1] == f"{value:.4f}"  # fvt again: the same deterministic figure
    assert sum("<- best" in line for line in table) == 1
    assert workspace.latest_model("transtok")["name"] == "transtok-transtok"  # the default stays newest

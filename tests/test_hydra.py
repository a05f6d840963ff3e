"""Hydra translation: the union-vocabulary GGUF against its torch twin, and the runtime's pieces.

A real tiny trans-tokenized folder is built the way kit.transtok.init lays one out: a target
model (a random tiny Llama with a Welsh BPE), and beside it the source table (random rows, the
English BPE's size) and the source tokenizer. The GGUF is written by the kit's writer, loaded by
real llama.cpp, and its logits on prompts that mix both sides are compared with the torch forward.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CHAT_TEMPLATE, TINY_ENGLISH, build_tiny_llama, train_tiny_bpe

TINY_WELSH = [
    "Mae'r gath ar y mat.", "Mae ci yn rhedeg yn y parc.", "Agor y ffeil a'i chadw.", "Mae'r ffenestr ar gau.",
    "Anfon y neges at dy ffrind.", "Mae fy nhŷ yn fach ac yn wyrdd.", "Dŵr, bara a chaws.",
    "Bore da, athro.", "Helo, sut wyt ti heddiw?", "Cafodd y gosodiadau eu cadw.",
] * 4


def _hydra_folder(root: Path, english, *, tied: bool) -> Path:
    import torch
    from safetensors.torch import save_file

    welsh = train_tiny_bpe(TINY_WELSH, vocab_size=280)
    folder = build_tiny_llama(root / ("tied" if tied else "untied"), welsh, tied=tied, seed=3)
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    g = torch.Generator().manual_seed(5)
    hidden = 64
    tables = {"embed_tokens": torch.randn(len(english), hidden, generator=g) * 0.05}
    if not tied:
        tables["lm_head"] = torch.randn(len(english), hidden, generator=g) * 0.05
    save_file(tables, str(folder / "source_embeddings.safetensors"))
    english.save_pretrained(folder / "source_tokenizer")
    return folder


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def hydra_gguf(request, tmp_path_factory, tiny_tokenizer):
    from kit.gguf.hydra import write_hydra_gguf

    root = tmp_path_factory.mktemp("hydra")
    folder = _hydra_folder(root, tiny_tokenizer, tied=request.param)
    report = write_hydra_gguf(folder, folder, root / "hydra-F32.gguf", out_type="F32")
    return folder, Path(report["path"]), report


def _requests(vocab):
    from kit.infer.engine import ChatTemplate
    from kit.infer.hydra import request_segments

    template = ChatTemplate(CHAT_TEMPLATE)
    return [vocab.encode_segments(request_segments(template, text, source=src, target=tgt, ws_source="en",
                                                   draft=draft))
            for text, src, tgt, draft in [("The cat sat on the mat.", "en", "cy", "Mae'r gath ar y mat."),
                                          ("Agor y ffeil.", "cy", "en", "Open the file."),
                                          ("Hello, how are you today?", "en", "cy", None)]]


def test_file_names_match_transtok():
    from kit.gguf import hydra as gguf_hydra
    from kit.infer import hydra as infer_hydra
    from kit.transtok import init

    assert infer_hydra.SOURCE_EMBEDDINGS == gguf_hydra.SOURCE_EMBEDDINGS == init.SOURCE_EMBEDDINGS
    assert infer_hydra.SOURCE_TOKENIZER == gguf_hydra.SOURCE_TOKENIZER == init.SOURCE_TOKENIZER
    assert infer_hydra.KEY_N_SOURCE == gguf_hydra.KEY_N_SOURCE


def test_request_sides_keep_the_words():
    """The sides together are the translator's request, word for word; the text and the draft sit
    on their own language's side with the space before them."""
    from kit.infer.engine import ChatTemplate
    from kit.infer.hydra import SOURCE, TARGET, request_segments
    from kit.infer.translate import translation_messages

    template = ChatTemplate(CHAT_TEMPLATE)
    segs = request_segments(template, "Agor y ffeil.", source="cy", target="en", ws_source="en",
                            draft="Open the file.")
    whole = template.render(translation_messages("Agor y ffeil.", "cy", "en", None, "Open the file."))
    assert "".join(s.text for s in segs) == whole
    assert [s for s in segs if s.side == TARGET] == [type(segs[0])(TARGET, " Agor y ffeil.")]
    assert any(s.side == SOURCE and s.text == " Open the file." for s in segs)


def test_gguf_logits_match_torch(hydra_gguf):
    """llama.cpp on the union GGUF gives the torch Hydra forward's logits (F32: top-1 equal, tiny |d|)."""
    from kit.gguf.hydra import TorchHydra, verify_hydra_gguf
    from kit.infer.hydra import HydraVocab

    folder, path, report = hydra_gguf
    ref = TorchHydra(folder, folder, threads=1)
    assert report["n_source"] == ref.n_source and report["n_target"] == ref.embed.shape[0] - ref.n_source
    vocab = HydraVocab.from_dirs(folder, folder, ref.n_source, report["n_target"])
    prompts = _requests(vocab)
    assert any(i >= vocab.n_source for i in prompts[0]) and any(i < vocab.n_source for i in prompts[0])
    result = verify_hydra_gguf(path, ref, prompts)
    print("hydra GGUF vs torch:", result["max_abs_diff"], "of", result["max_abs_logit"])
    assert result["top1_all_equal"], result
    assert result["max_abs_diff"] < 1e-3 * max(1.0, result["max_abs_logit"])


def test_runtime_generates_like_torch(hydra_gguf):
    """The runtime path (vocabulary from the GGUF's metadata, token-id prompts through the batched
    generator, the side mask) decodes greedily what the torch forward does, inside the answer's side."""
    import numpy as np

    from kit.gguf.hydra import TorchHydra
    from kit.infer.batch import BatchGenerator
    from kit.infer.engine import load_llama
    from kit.infer.hydra import SOURCE, TARGET, HydraVocab, SideMask

    folder, path, _report = hydra_gguf
    llm = load_llama(path, n_ctx=512, n_threads=1)
    vocab = HydraVocab.from_gguf(llm)
    ref = TorchHydra(folder, folder, threads=1)
    assert vocab.n_source == ref.n_source
    text = "Mae'r gath ar y mat."
    assert vocab.encode(TARGET, text) == HydraVocab.from_dirs(folder, folder, ref.n_source, vocab.n_target).encode(
        TARGET, text)
    assert b"".join(vocab.piece(i) for i in vocab.encode(TARGET, text)).decode() == text
    prompts = _requests(vocab)
    sides = [TARGET, SOURCE, TARGET]
    source_eos = min(vocab.stop_ids(SOURCE))

    def mask(side):
        return SideMask(vocab.span(side), vocab.stop_ids(side), source_eos if side == TARGET else None)

    with BatchGenerator(llm, n_seq=2, ctx_per_seq=256) as gen:
        got = gen.generate(prompts, [6] * 3, processors=[[mask(s)] for s in sides], detokenize=vocab.piece)
    for ids, side, text in zip(prompts, sides, got):
        seq, answer = list(ids), []
        for _ in range(6):
            scores = mask(side)(np.asarray(seq), ref.logits(seq))
            tok = int(np.argmax(scores))
            if tok == source_eos:
                break
            lo, hi = vocab.span(side)
            assert lo <= tok < hi
            seq.append(tok)
            answer.append(tok)
        assert text == b"".join(vocab.piece(t) for t in answer).decode("utf-8", errors="replace")


def test_translator_lever(hydra_gguf, workspace, add_dictionary, tmp_path):
    """``Translator(hydra=True)`` on a Hydra GGUF: the request mixes both sides, the answer stays on
    its language's side, and the batched path gives what one at a time gives. ``hydra=False`` on the
    same file is the plain model (every id on the target side); a plain GGUF refuses ``hydra=True``."""
    from kit.errors import TaalkitError
    from kit.infer.batch import BatchGenerator, translate_many
    from kit.infer.engine import load_llama
    from kit.infer.translate import Translator

    _folder, path, _report = hydra_gguf
    add_dictionary(workspace, [("cat", "cath", "en", "cy"), ("mat", "mat", "en", "cy"), ("file", "ffeil", "en", "cy")])
    llm = load_llama(path, n_ctx=512, n_threads=1)
    on = Translator(workspace, llm=llm, model_path=path, hydra=True, consensus=False, fallback=False)
    off = Translator(workspace, llm=llm, model_path=path, hydra=False, consensus=False, fallback=False)
    n_source = on.union.vocab.n_source
    texts = ["The cat sat on the mat.", "Open the file."]
    for to, text in (("cy", texts[0]), ("en", "Agor y ffeil.")):
        plan = on.plan(text, to=to, glossary=False, max_tokens=6)
        assert any(i < n_source for i in plan.ids) and any(i >= n_source for i in plan.ids)
        assert all(i >= n_source for i in off.plan(text, to=to, glossary=False, max_tokens=6).ids)
    into_english = Translator(workspace, llm=llm, model_path=path, hydra="en")  # only answers in English
    assert all(i >= n_source for i in into_english.plan(texts[0], to="cy", glossary=False, max_tokens=6).ids)
    assert any(i < n_source for i in into_english.plan("Agor y ffeil.", to="en", glossary=False, max_tokens=6).ids)
    one = [on.translate(t, to="cy", glossary=False).raw for t in texts]
    with BatchGenerator(llm, n_seq=2, ctx_per_seq=256) as gen:
        many = [r.raw for r in translate_many(on, texts, to="cy", glossary=False, generator=gen)]
    assert one == many
    with_glossary = on.plan(texts[0], to="cy", glossary=True, max_tokens=6)
    assert len(with_glossary.ids) > len(on.plan(texts[0], to="cy", glossary=False, max_tokens=6).ids)

    from kit.gguf.writer import write_gguf

    plain = write_gguf(_folder, tmp_path / "plain.gguf", out_type="F32")["path"]
    with pytest.raises(TaalkitError):
        Translator(workspace, llm=load_llama(plain, n_ctx=256, n_threads=1), model_path=plain, hydra=True)

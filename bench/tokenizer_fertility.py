"""Fertility of target tokenizers by vocabulary size, beside SmolLM2's own tokenizer, for cy, af, fy.

Run:  .venv/bin/python bench/tokenizer_fertility.py [--langs cy,af,fy] [--sizes 1000,2000,4000,8000,16000]

For each demo language: train byte-level BPE tokenizers (the kit's trainer, SmolLM2's
pre-tokenizer and specials) on the target side of data/<lang>/train_*.tsv at several vocabulary
sizes plus the kit's default size rule (``default_vocab_size``), and measure tokens per word
and characters per token on the target side of the held-out data/<lang>/test_*.tsv. The
baseline measured in the same run on the same text: SmolLM2-135M's tokenizer (49,152 tokens).
Dictionary words are not included here (the workspace stage adds them), so the default size
is computed from the corpus alone.

The kit's tokenizer stage also learns from the source side of the pairs by default (so the
adapted model can read English prompts; see kit/tokenizer/text.py). The row "+ source side"
trains on both columns at the size the rule gives for both, and the last column shows what each
tokenizer does to the held-out *source* side: the price in target fertility and the gain in
source fertility, side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kit.models import default_model_gguf, gguf_tokenizer, pin_chat_template, read_gguf_metadata  # noqa: E402
from kit.tokenizer import count_words, default_vocab_size, measure  # noqa: E402
from kit.tokenizer.train import SourceTokenizer, build_tokenizer  # noqa: E402

FILES = {  # language: (training file, held-out file); the target language is column 2 in all of them
    "cy": ("cy/train_en_cy.tsv", "cy/test_en_cy.tsv"),
    "af": ("af/train_en_af.tsv", "af/test_en_af.tsv"),
    "fy": ("fy/train_en_fy_nl.tsv", "fy/test_en_fy.tsv"),
}


def column(path: Path, index: int = 1) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) > index and cols[index].strip():
            out.append(cols[index].strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="cy,af,fy")
    parser.add_argument("--sizes", default="1000,2000,4000,8000,16000")
    args = parser.parse_args()
    from transformers import PreTrainedTokenizerFast

    gguf = default_model_gguf()
    smollm2 = gguf_tokenizer(gguf, read_gguf_metadata(gguf).get("tokenizer.ggml.pre"))
    with tempfile.TemporaryDirectory() as tmp:
        smollm2.save_pretrained(tmp)
        pin_chat_template(Path(tmp))
        source = SourceTokenizer(Path(tmp))
        rows = []
        for lang in args.langs.split(","):
            train_file, test_file = FILES[lang]
            train, heldout = column(REPO / "data" / train_file), column(REPO / "data" / test_file)
            train_src, heldout_src = column(REPO / "data" / train_file, 0), column(REPO / "data" / test_file, 0)
            words, distinct = count_words(train)
            default = default_vocab_size(distinct)
            both_default = default_vocab_size(count_words(train + train_src)[1])
            print(f"{lang}: {len(train)} training texts, {words} words, {distinct} distinct -> default vocab "
                  f"{default}; held-out {len(heldout)} texts", flush=True)
            rows.append((lang, "SmolLM2-135M (baseline)", measure(smollm2, heldout), measure(smollm2, heldout_src),
                         0.0))
            sizes = sorted({int(s) for s in args.sizes.split(",")} | {default})
            runs = [(size, train, f"bpe {size}" + (" (target-only rule)" if size == default else ""))
                    for size in sizes]
            runs.append((both_default, train + train_src, f"bpe {both_default} + source side"))
            for size, texts, label in runs:
                started = time.perf_counter()
                tok = build_tokenizer(texts, source, vocab_size=size, algo="bpe")
                seconds = time.perf_counter() - started
                fast = PreTrainedTokenizerFast(tokenizer_object=tok)
                rows.append((lang, label, measure(fast, heldout), measure(fast, heldout_src), seconds))
    print()
    print(f"{'lang':<5} {'tokenizer':<30} {'vocab':>6} {'tokens/word':>12} {'chars/token':>12} {'train s':>8} "
          f"{'source-side tokens/word':>24}")
    for lang, label, m, m_src, seconds in rows:
        print(f"{lang:<5} {label:<30} {m['vocab_size']:>6} {m['fertility']:>12.3f} {m['chars_per_token']:>12.3f} "
              f"{seconds:>8.1f} {m_src['fertility']:>24.3f}")


if __name__ == "__main__":
    main()

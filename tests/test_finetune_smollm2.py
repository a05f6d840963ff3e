"""The real SmolLM2-135M through the whole fine-tune path: a few steps on Welsh demo text."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from kit.corpus import import_corpus
from kit.finetune import finetune

from conftest import DATA


@pytest.mark.slow
def test_real_smollm2_fine_tunes_on_welsh_and_saves_a_loadable_folder(workspace, tmp_path, monkeypatch):
    from kit.models import add_model

    monkeypatch.setenv("TAALKIT_THREADS", "2")
    lines = (DATA / "cy" / "train_en_cy.tsv").read_text(encoding="utf-8").splitlines()[:400]
    subset = tmp_path / "cy.tsv"
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_corpus(workspace, subset, "parallel", heldout_fraction=0.1)
    add_model(workspace, "default")

    row = finetune(workspace, steps=4, batch_size=2, seq_len=64, eval_every=4)
    extra = json.loads(row["extra"])
    assert row["role"] == "finetuned" and row["method"] == "finetune-full"  # auto: every weight, as it fits
    assert extra["steps"] == 4 and extra["heldout_texts"] > 10
    assert 0 < extra["bpc_end"] < 20 and 0 < extra["bpc_start"] < 20
    folder = workspace.model_dir(row)
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert f.get_slice("model.embed_tokens.weight").get_shape() == [49152, 576]
    assert (folder / "tokenizer.json").is_file()

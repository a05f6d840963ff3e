"""The export stage end to end: workspace DB -> F16 -> llama.cpp quantization -> verification -> exports row."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from kit.cli import main
from kit.errors import TaalkitError, WorkspaceError
from kit.gguf import export_model, list_quants
from kit.workspace import now

HELDOUT = ["Mae'r gath yn eistedd ar y mat.", "Bore da, athro.", "Agorwch y ffeil a'i chadw.",
           "Rhifau: 1 2 3 45 678.", "Ble mae'r orsaf?"]


def _add_model(ws, model_dir, name="source-tiny", role="source", parent_id=None):
    dest = ws.models_dir / name
    shutil.copytree(model_dir, dest)
    cfg = json.loads((dest / "config.json").read_text())
    return ws.db["models"].insert({
        "name": name, "role": role, "path": ws.relative(dest), "architecture": "LlamaForCausalLM",
        "vocab_size": cfg["vocab_size"], "hidden_size": cfg["hidden_size"], "tied": int(cfg["tie_word_embeddings"]),
        "licence": "apache-2.0", "parent_id": parent_id, "source_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "created_at": now(),
    }).last_pk


@pytest.fixture
def tiny_ws(workspace, tiny_llama_untied_dir):
    ws = workspace
    src = _add_model(ws, tiny_llama_untied_dir)
    _add_model(ws, tiny_llama_untied_dir, name="finetuned-1", role="finetuned", parent_id=src)
    ws.db["dictionaries"].insert({"name": "eurfa", "path": "x", "direction": "fwd", "sha256": "a"})
    cid = ws.db["corpora"].insert({"name": "train_en_cy", "path": "y", "kind": "parallel", "sha256": "b"}).last_pk
    ws.db["segments"].insert_all([{"corpus_id": cid, "kind": "parallel", "source_text": "x", "target_text": t,
                                   "split": "heldout", "line": i} for i, t in enumerate(HELDOUT)])
    return ws


def test_export_q8_0_then_q4_0_records_verified_rows(tiny_ws):
    from gguf import GGUFReader

    q8 = export_model(tiny_ws, quant="Q8_0")
    path = tiny_ws.root / q8["path"]
    assert path.name == "finetuned-1-Q8_0.gguf" and path.exists()
    assert (tiny_ws.gguf_dir / "finetuned-1-F16.gguf").exists()
    v = q8["verification"]
    assert v["ok"] and v["loads"]
    assert v["tokenization"]["identical"] and v["tokenization"]["texts"] >= len(HELDOUT)
    assert v["quantize"]["tensor_types"]["Q8_0"] > 0
    ours, ref = v["perplexity"]["perplexity"], v["reference"]["perplexity"]["perplexity"]
    assert v["reference"]["file_type"] == "F16"
    assert abs(ours - ref) / ref < 0.05
    assert 0 <= v["divergence"]["kl_mean"] < 0.01 and v["divergence"]["top1_agreement"] > 0.9

    q4 = export_model(tiny_ws, quant="Q4_0")
    types = {t.name: t.tensor_type.name for t in GGUFReader(str(tiny_ws.root / q4["path"])).tensors}
    assert types["token_embd.weight"] == "Q8_0" and types["output.weight"] == "Q8_0"
    assert types["blk.0.attn_q.weight"] == "Q4_0"
    assert q4["size_bytes"] < q8["size_bytes"]
    assert q4["verification"]["divergence"]["kl_mean"] > v["divergence"]["kl_mean"]  # 4 bits cost more than 8

    rows = list(tiny_ws.db.query("select * from exports order by id"))
    assert [r["quant"] for r in rows] == ["Q8_0", "Q4_0"]
    assert json.loads(rows[0]["verification"])["ok"] is True
    # The stored report names files relative to the workspace (it is moved and bundled), never its folder.
    stored = json.loads(rows[0]["verification"])
    assert str(tiny_ws.root) not in rows[0]["verification"]
    assert stored["path"] == "gguf/finetuned-1-Q8_0.gguf" == v["path"]
    assert stored["reference"]["path"] == "gguf/finetuned-1-F16.gguf"
    assert tiny_ws.model_dir({"path": stored["reference"]["path"]}).is_file()
    assert rows[0]["model_id"] == tiny_ws.latest_model()["id"]

    f = GGUFReader(str(path)).fields
    assert f["general.languages"].contents() == ["en", "cy"]
    assert f["taalkit.dictionaries"].contents() == ["eurfa"]
    assert f["general.base_model.0.name"].contents() == "SmolLM2-135M-Instruct"
    assert "source-tiny → finetuned-1" in f["general.description"].contents()


def test_f16_export_compares_logits_with_torch(tiny_ws):
    row = export_model(tiny_ws, model="source-tiny", quant="F16")
    logits = row["verification"]["logits"]
    assert logits["prompts"] >= len(HELDOUT) and logits["top1_all_equal"]
    assert row["verification"]["reply"] is not None


def test_exporting_the_same_file_again_updates_its_row(tiny_ws, monkeypatch):
    import itertools

    import kit.workspace
    from kit.infer.default_model import latest_export_gguf

    clock = (f"2026-01-01T00:00:{s:02d}+00:00" for s in itertools.count())
    monkeypatch.setattr(kit.workspace, "now", lambda: next(clock))  # one second per export: order is certain
    first = export_model(tiny_ws, model="source-tiny", quant="F16", verify=False)
    other = export_model(tiny_ws, model="finetuned-1", quant="F16", verify=False)
    again = export_model(tiny_ws, model="source-tiny", quant="F16", verify=False)
    assert again["id"] == first["id"] != other["id"]
    rows = list(tiny_ws.db.query("select * from exports order by id"))
    assert [r["path"] for r in rows] == ["gguf/source-tiny-F16.gguf", "gguf/finetuned-1-F16.gguf"]
    assert rows[0]["created_at"] == again["created_at"] > first["created_at"]
    # The file written last is the newest export; chat and eval load the *current* model's export
    # (finetuned-1), so exporting another model for comparison does not change what they use.
    assert tiny_ws.latest_export()["file"] == tiny_ws.root / "gguf/source-tiny-F16.gguf"
    assert latest_export_gguf(tiny_ws) == tiny_ws.root / "gguf/finetuned-1-F16.gguf"


def test_report_paths_outside_the_workspace_stay_absolute(workspace, tmp_path):
    from kit.gguf import _store_paths_relative

    outside = tmp_path / "elsewhere" / "m-Q8_0.gguf"
    report = {"path": str(outside), "ok": True,
              "reference": {"path": str(workspace.gguf_dir / "m-F16.gguf"), "file_type": "F16"}}
    _store_paths_relative(workspace, report)
    assert report["path"] == str(outside)
    assert report["reference"] == {"path": "gguf/m-F16.gguf", "file_type": "F16"}
    assert _store_paths_relative(workspace, {"ok": True}) == {"ok": True}  # --no-verify reports have no paths


def test_bad_requests_fail_before_writing(workspace, tiny_ws):
    with pytest.raises(WorkspaceError, match="no model yet"):
        export_model(workspace.__class__.init(workspace.root.parent / "empty", "en", "cy"))
    with pytest.raises(TaalkitError, match="unknown quantization"):
        export_model(tiny_ws, quant="Q3_Z")
    with pytest.raises(WorkspaceError, match="no model 'nope'"):
        export_model(tiny_ws, model="nope")
    assert list(tiny_ws.gguf_dir.iterdir()) == []


def test_list_quants_warns_about_k_quant_fallback(tiny_ws):
    table = {r["quant"]: r for r in list_quants(tiny_ws.model_dir(tiny_ws.latest_model()))}
    assert "fall back" in table["Q4_K_M"]["warning"]  # hidden 64 is not a multiple of 256
    assert table["Q8_0"]["warning"] == "" and table["Q4_0"]["warning"] == ""
    assert table["Q4_0"]["expected_bytes"] < table["Q8_0"]["expected_bytes"] < table["F16"]["expected_bytes"]


def test_cli_export_verify_and_errors(tiny_ws, tmp_path):
    runner = CliRunner()
    w = ["-w", str(tiny_ws.root)]
    res = runner.invoke(main, [*w, "export", "--list-quants"])
    assert res.exit_code == 0, res.output
    assert "Q4_K_M" in res.output and "fall back" in res.output

    res = runner.invoke(main, [*w, "export", "--quant", "Q4_0"])
    assert res.exit_code == 0, res.output
    assert "tokenization: identical" in res.output
    # A random-weight model is faithfully converted but does not chat: the check says both.
    assert "verification: the file matches the model, but the model does not chat" in res.output
    assert "verification: OK" not in res.output and "chat reply (FAILED" in res.output
    assert res.output.index("held-out bits per char") < res.output.index("perplexity")
    assert f"wrote {tiny_ws.gguf_dir / 'finetuned-1-Q4_0.gguf'} (Q4_0" in res.output
    stored = tiny_ws.db.execute("select verification from exports order by id desc limit 1").fetchone()[0]
    assert str(tiny_ws.root) not in stored and json.loads(stored)["path"] == "gguf/finetuned-1-Q4_0.gguf"

    res = runner.invoke(main, [*w, "export", "--verify", str(tiny_ws.gguf_dir / "finetuned-1-Q4_0.gguf")])
    assert res.exit_code == 0, res.output
    assert "F16 reference" in res.output

    res = runner.invoke(main, [*w, "export", "--quant", "Q3_Z"])
    assert res.exit_code == 2 and "unknown quantization" in res.output

    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    res = runner.invoke(main, [*w, "export", "--verify", str(junk)])
    assert res.exit_code == 2 and "not a readable GGUF" in res.output

"""Bundles: a workspace's exported GGUF + dictionary to another laptop, whole or not at all."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from click.testing import CliRunner

from kit.bundle import bundle, open_bundle, read_manifest
from kit.cli import main
from kit.errors import TaalkitError, WorkspaceError
from kit.workspace import Workspace, now

DICT_TSV = "cat\tcath\tnoun\nhouse\ttŷ\tnoun\nwater\tdŵr\tnoun\n"


@pytest.fixture(scope="module")
def exported_ws(tmp_path_factory, tiny_llama_untied_dir):
    """A real workspace with a dictionary, a parallel corpus, a run and a real F16 export of a tiny Llama."""
    from kit.dictionary import import_files
    from kit.gguf import export_model

    root = tmp_path_factory.mktemp("bundle")
    ws = Workspace.init(root / "ws", source="en", target="cy")
    tsv = root / "en_cy.tsv"
    tsv.write_text(DICT_TSV, encoding="utf-8")
    import_files(ws, [tsv])
    dest = ws.models_dir / "finetuned-1"
    shutil.copytree(tiny_llama_untied_dir, dest)
    cfg = json.loads((dest / "config.json").read_text())
    model_id = ws.db["models"].insert({
        "name": "finetuned-1", "role": "finetuned", "path": ws.relative(dest), "architecture": "LlamaForCausalLM",
        "vocab_size": cfg["vocab_size"], "hidden_size": cfg["hidden_size"], "tied": 0, "created_at": now(),
    }).last_pk
    run_id = ws.db["runs"].insert({"kind": "finetune", "model_id": model_id, "status": "finished"}).last_pk
    ws.db["run_metrics"].insert({"run_id": run_id, "step": 1, "loss": 3.0})
    export_model(ws, quant="F16", verify=False)
    yield ws
    ws.close()


def test_bundle_roundtrip_keeps_gguf_and_dictionary_only(exported_ws, tmp_path):
    from kit.dictionary import search
    from kit.infer.default_model import latest_export_gguf
    from kit.infer.engine import load_llama

    out = tmp_path / "cy.zip"
    manifest = bundle(exported_ws, out)
    assert out.is_file() and manifest["target_lang"] == "cy" and manifest["entries"] == 3
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert names == {"bundle.json", "taalkit.db", "gguf/finetuned-1-F16.gguf"}
    assert read_manifest(out)["files"]["gguf/finetuned-1-F16.gguf"]["size"] == \
        (exported_ws.gguf_dir / "finetuned-1-F16.gguf").stat().st_size

    ws2 = open_bundle(out, tmp_path / "field")
    try:
        assert (ws2.source_lang, ws2.target_lang) == ("en", "cy")
        gguf = latest_export_gguf(ws2)
        assert gguf == ws2.root / "gguf" / "finetuned-1-F16.gguf"
        assert gguf.read_bytes() == (exported_ws.gguf_dir / "finetuned-1-F16.gguf").read_bytes()
        hits = search(ws2, "cath")
        assert any("cat" in json.dumps(h, ensure_ascii=False, default=str) for h in hits)
        # The workbench's text, runs and model folders stay behind.
        for table in ("segments", "runs", "run_metrics"):
            assert ws2.db.execute(f"select count(*) from [{table}]").fetchone()[0] == 0
        assert ws2.db.execute("select count(*) from entries").fetchone()[0] == 3
        llm = load_llama(gguf, n_ctx=64)
        assert llm.n_vocab() == json.loads((exported_ws.models_dir / "finetuned-1" / "config.json")
                                           .read_text())["vocab_size"]
    finally:
        ws2.close()


def test_damaged_bundle_is_refused_and_leaves_nothing(exported_ws, tmp_path):
    good = tmp_path / "good.zip"
    bundle(exported_ws, good)
    bad = tmp_path / "bad.zip"
    # Same manifest, but the GGUF's bytes differ: the checksum must catch it.
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith(".gguf"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    dest = tmp_path / "field"
    with pytest.raises(TaalkitError, match="damaged"):
        open_bundle(bad, dest)
    assert not dest.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".field")]

    truncated = tmp_path / "cut.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(TaalkitError, match="not a zip|missing|damaged|could not be read"):
        open_bundle(truncated, dest)
    assert not dest.exists()


def test_unsafe_and_foreign_zips_are_refused(tmp_path):
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(TaalkitError, match="not a taalkit bundle"):
        open_bundle(plain, tmp_path / "a")

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("bundle.json", json.dumps({"format": 1, "files": {
            "taalkit.db": {"size": 1, "sha256": "x"}, "../escape.txt": {"size": 1, "sha256": "x"}}}))
        zf.writestr("taalkit.db", "x")
        zf.writestr("../escape.txt", "x")
    with pytest.raises(TaalkitError, match="unsafe path"):
        open_bundle(evil, tmp_path / "b")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "b").exists()


def test_bundle_needs_an_export_and_a_fresh_destination(workspace, exported_ws, tmp_path):
    with pytest.raises(WorkspaceError, match="no exported model"):
        bundle(workspace, tmp_path / "x.zip")
    with pytest.raises(TaalkitError, match=r"\.zip"):
        bundle(exported_ws, tmp_path / "x.tar")
    out = tmp_path / "ok.zip"
    bundle(exported_ws, out)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not an empty folder"):
        open_bundle(out, busy)
    assert (busy / "notes.txt").read_text() == "mine"


def test_cli_bundle_and_open(exported_ws, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.zip"
    result = runner.invoke(main, ["bundle", str(exported_ws.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    dest = tmp_path / "opened"
    result = runner.invoke(main, ["open", str(out), "--to", str(dest)])
    assert result.exit_code == 0, result.output
    assert "chat" in result.output and (dest / "taalkit.db").is_file()
    result = runner.invoke(main, ["open", str(tmp_path / "nope.zip"), "--to", str(tmp_path / "z")])
    assert result.exit_code == 2 and "no such bundle" in result.output


def test_bundled_verification_names_no_workbench_folder(exported_ws, tmp_path):
    """A report stored with absolute paths (before reports were stored relative) is rewritten in the bundle."""
    ws = exported_ws
    reference = ws.gguf_dir / "finetuned-1-F16.gguf"
    legacy_file = ws.gguf_dir / "legacy-F16.gguf"
    shutil.copyfile(reference, legacy_file)
    legacy = {"path": str(legacy_file), "ok": True, "file_type": "F16",
              "reference": {"path": str(reference), "file_type": "F16"}}
    row = next(ws.db.query("select * from exports order by id desc limit 1"))
    export_id = ws.db["exports"].insert({**{k: v for k, v in row.items() if k != "id"},
                                         "path": "gguf/legacy-F16.gguf", "verification": json.dumps(legacy)}).last_pk
    try:
        out = tmp_path / "legacy.zip"
        bundle(ws, out, export_id=export_id)
        field = open_bundle(out, tmp_path / "field")
        try:
            stored = field.db.execute("select verification from exports").fetchone()[0]
        finally:
            field.close()
    finally:
        with ws.db.conn:
            ws.db.execute("delete from exports where id = ?", [export_id])
        legacy_file.unlink()
    assert str(ws.root) not in stored
    report = json.loads(stored)
    assert report["path"] == "gguf/legacy-F16.gguf" and report["ok"] is True
    assert report["reference"] == {"path": "gguf/finetuned-1-F16.gguf", "file_type": "F16"}

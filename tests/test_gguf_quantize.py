"""Quantization through llama.cpp: the types it writes, the sizes we predict, the fallbacks we warn about."""

from __future__ import annotations

import pytest

from kit.errors import TaalkitError
from kit.gguf.quantize import (QUANT_TYPES, TensorShape, gguf_tensor_shapes, k_quant_fallbacks, planned_types,
                               quant_table, quantize_gguf)
from kit.gguf.writer import write_gguf


def smollm2_shapes(n_layer: int = 30) -> list[TensorShape]:
    """SmolLM2-135M's tensors as llama.cpp sees them (hidden 576, ffn 1536, 3 KV heads, tied)."""
    shapes = [TensorShape("token_embd.weight", 576, 576 * 49152), TensorShape("output_norm.weight", 576, 576)]
    for i in range(n_layer):
        b = f"blk.{i}."
        shapes += [TensorShape(b + "attn_norm.weight", 576, 576), TensorShape(b + "ffn_norm.weight", 576, 576),
                   TensorShape(b + "attn_q.weight", 576, 576 * 576), TensorShape(b + "attn_k.weight", 576, 576 * 192),
                   TensorShape(b + "attn_v.weight", 576, 576 * 192),
                   TensorShape(b + "attn_output.weight", 576, 576 * 576),
                   TensorShape(b + "ffn_gate.weight", 576, 576 * 1536), TensorShape(b + "ffn_up.weight", 576, 576 * 1536),
                   TensorShape(b + "ffn_down.weight", 1536, 1536 * 576)]
    return shapes


def test_smollm2_k_quants_mostly_fall_back_and_legacy_types_do_not():
    shapes = smollm2_shapes()
    fb = k_quant_fallbacks(shapes, "Q4_K_M")
    # Every matrix with 576-wide rows falls back; only ffn_down (1536 = 6 x 256) keeps a k-quant.
    assert fb == {"Q4_K->Q5_0": 1 + 30 * 6}
    assert k_quant_fallbacks(shapes, "Q4_0") == {} and k_quant_fallbacks(shapes, "Q8_0") == {}
    types = planned_types(shapes, "Q4_K_M")
    assert types["blk.5.ffn_down.weight"] in ("Q4_K", "Q6_K") and types["blk.5.attn_q.weight"] == "Q5_0"
    assert types["token_embd.weight"] == "Q8_0"  # kept for 4-bit types (METHOD.md)
    table = {r["quant"]: r for r in quant_table(shapes)}
    assert "181 of 211 matrices fall back" in table["Q4_K_M"]["warning"]
    assert table["Q4_0"]["expected_bytes"] < table["Q8_0"]["expected_bytes"] < table["F16"]["expected_bytes"]
    assert 250e6 < table["F16"]["expected_bytes"] < 300e6  # ~135M parameters at 2 bytes


def test_embeddings_stay_q8_only_for_four_bit_types():
    untied = smollm2_shapes(2) + [TensorShape("output.weight", 576, 576 * 49152)]
    assert planned_types(untied, "Q4_0")["token_embd.weight"] == "Q8_0"
    assert planned_types(untied, "Q4_0", keep_embeddings_q8=False)["token_embd.weight"] == "Q4_0"
    five = planned_types(untied, "Q5_0")
    assert five["token_embd.weight"] == "Q5_0"
    assert five["output.weight"] == "Q8_0"  # llama.cpp's Q6_K for the output, which 576 turns into Q8_0
    # Tied (SmolLM2): the embedding *is* the output, so it gets the output's treatment.
    assert planned_types(smollm2_shapes(2), "Q5_0")["token_embd.weight"] == "Q8_0"


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_0", "Q5_1", "Q4_K_M"])
def test_llama_cpp_writes_the_types_we_predict(tmp_path, tiny_llama_untied_dir, quant):
    src = tmp_path / "f16.gguf"
    write_gguf(tiny_llama_untied_dir, src, out_type="F16")
    info = quantize_gguf(src, tmp_path / f"{quant}.gguf", quant)
    predicted = planned_types(gguf_tensor_shapes(src), quant)
    counts: dict[str, int] = {}
    for t in predicted.values():
        counts[t] = counts.get(t, 0) + 1
    assert info["tensor_types"] == counts
    assert info["bytes"] == info["expected_bytes"] or abs(info["bytes"] - info["expected_bytes"]) < 256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f16.gguf", f"{quant}.gguf"])


def test_unknown_type_and_missing_file_are_one_line_errors(tmp_path):
    with pytest.raises(TaalkitError, match="unknown quantization 'Q3_Z'; choose one of"):
        quantize_gguf(tmp_path / "a.gguf", tmp_path / "b.gguf", "Q3_Z")
    with pytest.raises(TaalkitError, match="no such GGUF"):
        quantize_gguf(tmp_path / "a.gguf", tmp_path / "b.gguf", "Q4_0")
    assert set(QUANT_TYPES) >= {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K_M", "Q5_K_M", "Q6_K", "F16"}


def test_llama_cpp_failure_leaves_no_half_file(tmp_path):
    import gguf
    import numpy as np

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)  # right magic, nonsense after
    with pytest.raises(TaalkitError, match="not a readable GGUF"):
        quantize_gguf(bad, tmp_path / "out.gguf", "Q8_0")
    # A well-formed GGUF llama.cpp cannot load: an architecture it does not know.
    odd = tmp_path / "odd.gguf"
    w = gguf.GGUFWriter(odd, "no-such-arch")
    w.add_tensor("w", np.zeros((32, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(TaalkitError, match="llama.cpp could not quantize odd.gguf to Q8_0: .*arch"):
        quantize_gguf(odd, tmp_path / "out.gguf", "Q8_0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gguf", "odd.gguf"]


def test_fast_header_reader_agrees_with_gguf_reader(tmp_path, tiny_llama_dir):
    from gguf import GGUFReader

    from kit.formats.gguf_header import read_header

    path = tmp_path / "m.gguf"
    write_gguf(tiny_llama_dir, path, out_type="F16")
    ours, theirs = read_header(path), GGUFReader(str(path))
    assert [(t.name, t.shape, t.type_name, t.n_bytes) for t in ours.tensors] == [
        (t.name, tuple(int(d) for d in t.shape), t.tensor_type.name, int(t.n_bytes)) for t in theirs.tensors]
    assert ours.data_offset == theirs.data_offset
    assert ours.fields["general.file_type"] == 1 and ours.fields["tokenizer.ggml.pre"] == "gpt-2"
    assert ours.array_lengths["tokenizer.ggml.tokens"] == len(theirs.fields["tokenizer.ggml.tokens"].data)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[: ours.data_offset + 100])
    with pytest.raises(TaalkitError, match="cut short"):
        read_header(cut)

"""Quantize an F16/F32 GGUF with llama.cpp, in-process, and say beforehand what it will cost.

Why in-process: ``llama_cpp.llama_model_quantize`` is the same code as llama.cpp's
``llama-quantize`` tool, so the kit needs no external binary. Two choices are the
kit's own (METHOD.md, "Quantizing an adapted model"):

- for 4-bit types, ``token_embd`` and ``output`` stay at Q8_0: they are exactly what
  trans-tokenization changed, and a 135M model is sensitive to their precision;
- k-quants work on 256-wide super-blocks; SmolLM2's hidden size 576 is not a multiple of
  256, so llama.cpp falls back to a legacy type for most matrices. We predict those
  fallbacks from the tensor shapes and warn, instead of letting a "Q4_K_M" silently be
  mostly Q5_0.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..errors import TaalkitError
from ..formats.gguf_types import (K_FALLBACK, QUANT_TYPES, QuantType, block_shape,  # noqa: F401  (re-exported)
                                  bits_per_weight, quant_type)
from ..fsutil import atomic_path, human_bytes, require_free_disk
from ..progress import CancelToken, ProgressCallback, emit


@dataclass(frozen=True)
class TensorShape:
    """A tensor as llama.cpp sees it: ``row`` = ne[0], the length quantization blocks run along."""

    name: str
    row: int
    elements: int

    @property
    def is_matrix(self) -> bool:
        return self.elements != self.row


def gguf_tensor_shapes(path: os.PathLike | str) -> list[TensorShape]:
    from ..formats.gguf_header import read_header

    return [TensorShape(t.name, int(t.shape[0]), int(t.n_elements)) for t in read_header(path).tensors]


def _more_bits(layer: int, n_layer: int) -> bool:
    # llama.cpp's use_more_bits: first and last eighth of layers, and every third between.
    return layer < n_layer // 8 or layer >= 7 * n_layer // 8 or (layer - n_layer // 8) % 3 == 2


def planned_types(shapes: Iterable[TensorShape], quant: str, *,
                  keep_embeddings_q8: Optional[bool] = None) -> dict[str, str]:
    """The type each tensor is expected to get (an estimate of llama.cpp's own rules)."""
    q = quant_type(quant)
    shapes = list(shapes)
    keep = q.four_bit if keep_embeddings_q8 is None else keep_embeddings_q8
    n_layer = 1 + max((int(s.name.split(".")[1]) for s in shapes if s.name.startswith("blk.")), default=0)
    tied = not any(s.name == "output.weight" for s in shapes)
    types = {}
    for s in shapes:
        if not s.is_matrix:
            types[s.name] = "F32"
            continue
        t = q.tensor_type
        if q.name in ("Q4_K_M", "Q5_K_M") and s.name.startswith("blk.") and (
                s.name.endswith("attn_v.weight") or s.name.endswith("ffn_down.weight")):
            if _more_bits(int(s.name.split(".")[1]), n_layer):
                t = "Q6_K"
        is_output = s.name == "output.weight" or (tied and s.name == "token_embd.weight")
        if keep and s.name in ("token_embd.weight", "output.weight"):
            t = "Q8_0"
        elif is_output and t not in ("Q8_0", "F16"):
            t = "Q6_K"  # llama.cpp gives the output matrix more bits than the rest
        if s.row % block_shape(t)[0]:
            t = K_FALLBACK.get(t, "F16")
        types[s.name] = t
    return types


def expected_size(shapes: Iterable[TensorShape], quant: str, **kw) -> int:
    shapes = list(shapes)
    types = planned_types(shapes, quant, **kw)
    return int(sum(s.elements * bits_per_weight(types[s.name]) / 8 for s in shapes))


def k_quant_fallbacks(shapes: Iterable[TensorShape], quant: str, **kw) -> dict[str, int]:
    """``{"Q4_K->Q5_0": n}``: how many matrices a k-quant will not get, because rows ∤ 256."""
    q = quant_type(quant)
    counts: dict[str, int] = {}
    if not q.tensor_type.endswith("_K"):
        return counts
    for s in shapes:
        if s.is_matrix and s.row % 256:
            key = f"{q.tensor_type}->{K_FALLBACK[q.tensor_type]}"
            counts[key] = counts.get(key, 0) + 1
    # Tensors the plan already put at Q8_0/Q6_K for other reasons are counted too: the point is
    # the share of the model that is not the k-quant the name promises.
    return counts


def quant_table(shapes: Iterable[TensorShape], **kw) -> list[dict]:
    """One row per type: expected bytes and the fallback warning, for ``export --list-quants``."""
    shapes = list(shapes)
    rows = []
    for name, q in QUANT_TYPES.items():
        fallbacks = k_quant_fallbacks(shapes, name)
        n_mat = sum(1 for s in shapes if s.is_matrix)
        warning = ""
        if fallbacks:
            n = sum(fallbacks.values())
            warning = (f"{n} of {n_mat} matrices fall back ({', '.join(fallbacks)}): rows are not a "
                       "multiple of 256")
        rows.append({"quant": name, "expected_bytes": expected_size(shapes, name, **kw),
                     "note": q.note, "warning": warning})
    return rows


@contextlib.contextmanager
def _captured_llama_log():
    """Collect llama.cpp's quantization log instead of printing it; yields a function returning it.

    llama-cpp-python routes llama.cpp's log through a Python callback that prints to
    ``sys.stderr`` (and ggml may write to fd 2 directly), so both are redirected. The text is
    kept so a failure can quote llama.cpp's own last line.
    """
    import io
    import logging
    import sys

    from llama_cpp import _logger

    buf = io.StringIO()
    saved_level, saved_stderr = _logger.logger.level, sys.stderr
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved_fd = os.dup(2)
        try:
            _logger.logger.setLevel(logging.DEBUG)
            sys.stderr = buf
            os.dup2(sink.fileno(), 2)

            def text() -> str:
                sink.seek(0)
                return buf.getvalue() + sink.read().decode("utf-8", "replace")

            yield text
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sys.stderr = saved_stderr
            _logger.logger.setLevel(saved_level)


def quantize_gguf(src: os.PathLike | str, out: os.PathLike | str, quant: str = "Q8_0", *,
                  keep_embeddings_q8: Optional[bool] = None, nthread: Optional[int] = None,
                  progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None) -> dict:
    """Quantize the F16/F32 GGUF ``src`` to ``out`` with llama.cpp.

    Returns ``{"path", "quant", "bytes", "expected_bytes", "seconds", "tensor_types", "fallbacks"}``
    where ``tensor_types`` counts the types llama.cpp actually wrote.
    """
    import ctypes

    import llama_cpp

    q = quant_type(quant)
    src, out = Path(src), Path(out)
    if not src.exists():
        raise TaalkitError(f"{src}: no such GGUF file")
    shapes = gguf_tensor_shapes(src)
    bad = [s.name for s in shapes if s.is_matrix and s.row % 32]
    if bad and q.block > 1:
        raise TaalkitError(f"{src}: {bad[0]} has rows of {next(s.row for s in shapes if s.name == bad[0])}, "
                           f"not a multiple of 32; {q.name} cannot store it (use F16)")
    keep = q.four_bit if keep_embeddings_q8 is None else keep_embeddings_q8
    # Metadata (vocabulary, merges, template) is copied as is: add the source's non-tensor bytes.
    expected = expected_size(shapes, q.name, keep_embeddings_q8=keep) + _metadata_bytes(src)
    require_free_disk(out.parent, expected + 16 * 2**20, f"the {q.name} GGUF")
    if cancel is not None:
        cancel.check()

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, q.ftype)
    params.nthread = nthread or min(2, os.cpu_count() or 1)
    if keep:
        params.token_embedding_type = llama_cpp.GGML_TYPE_Q8_0
        params.output_tensor_type = llama_cpp.GGML_TYPE_Q8_0
    emit(progress, "quantize", 0, 1, f"{q.name}: about {human_bytes(expected)}")
    started = time.perf_counter()
    with atomic_path(out) as tmp:
        with _captured_llama_log() as log:
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
            tail = [line.strip() for line in log().splitlines() if line.strip()]
        if rc != 0 or not tmp.exists():
            raise TaalkitError(f"llama.cpp could not quantize {src.name} to {q.name}: "
                               f"{tail[-1] if tail else f'return code {rc}'}")
    seconds = time.perf_counter() - started
    written = _type_counts(out)
    emit(progress, "quantize", 1, 1, f"{q.name}: {human_bytes(out.stat().st_size)}")
    return {"path": str(out), "quant": q.name, "bytes": out.stat().st_size, "expected_bytes": expected,
            "seconds": round(seconds, 3), "tensor_types": written,
            "fallbacks": k_quant_fallbacks(shapes, q.name)}


def _metadata_bytes(path: Path) -> int:
    from ..formats.gguf_header import read_header

    return read_header(path).metadata_bytes


def _type_counts(path: Path) -> dict[str, int]:
    from ..formats.gguf_header import read_header

    counts: dict[str, int] = {}
    for t in read_header(path).tensors:
        counts[t.type_name] = counts.get(t.type_name, 0) + 1
    return counts

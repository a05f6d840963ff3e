"""The GGUF quantization types the kit offers, with their block sizes and bits per weight.

Sizes come from ``gguf.GGML_QUANT_SIZES`` (llama.cpp's own type traits). Model intake (``model list``:
what a chat needs), the export's size table and the quantizer all read them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TaalkitError


def block_shape(type_name: str) -> tuple[int, int]:
    """``(elements, bytes)`` of one block of a ggml type, from ``gguf.GGML_QUANT_SIZES`` (llama.cpp's
    own type traits; the one table of them the kit reads)."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    return GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]


def bits_per_weight(type_name: str) -> float:
    """Bits per weight of a ggml type: block bytes * 8 / block elements."""
    elements, size = block_shape(type_name)
    return size * 8 / elements


@dataclass(frozen=True)
class QuantType:
    name: str
    ftype: str           # llama_cpp.LLAMA_FTYPE_* constant name
    tensor_type: str     # what most matrices become
    four_bit: bool
    note: str

    @property
    def block(self) -> int:
        """Elements per block of ``tensor_type`` (a row must be a multiple)."""
        return block_shape(self.tensor_type)[0]

    @property
    def bits(self) -> float:
        """Bits per weight of ``tensor_type``."""
        return bits_per_weight(self.tensor_type)


# llama.cpp's replacement when a row is not a multiple of the k-quant super-block.
K_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}

QUANT_TYPES: dict[str, QuantType] = {q.name: q for q in (
    QuantType("F16", "LLAMA_FTYPE_MOSTLY_F16", "F16", False, "reference; no loss"),
    QuantType("Q8_0", "LLAMA_FTYPE_MOSTLY_Q8_0", "Q8_0", False, "near-lossless; the default"),
    QuantType("Q6_K", "LLAMA_FTYPE_MOSTLY_Q6_K", "Q6_K", False, "k-quant"),
    QuantType("Q5_1", "LLAMA_FTYPE_MOSTLY_Q5_1", "Q5_1", False, "legacy 5-bit with offset"),
    QuantType("Q5_0", "LLAMA_FTYPE_MOSTLY_Q5_0", "Q5_0", False, "legacy 5-bit"),
    QuantType("Q5_K_M", "LLAMA_FTYPE_MOSTLY_Q5_K_M", "Q5_K", False, "k-quant mix"),
    QuantType("Q4_1", "LLAMA_FTYPE_MOSTLY_Q4_1", "Q4_1", True, "legacy 4-bit with offset"),
    QuantType("Q4_0", "LLAMA_FTYPE_MOSTLY_Q4_0", "Q4_0", True, "smallest that behaves"),
    QuantType("Q4_K_M", "LLAMA_FTYPE_MOSTLY_Q4_K_M", "Q4_K", True, "k-quant mix"),
)}


def quant_type(name: str) -> QuantType:
    key = name.upper()
    if key not in QUANT_TYPES:
        raise TaalkitError(f"unknown quantization {name!r}; choose one of {', '.join(QUANT_TYPES)}")
    return QUANT_TYPES[key]

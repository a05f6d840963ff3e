"""Read a GGUF file's header (metadata and tensor table) quickly, without its tensor data.

Why not ``gguf.GGUFReader``: it builds numpy views for every element of every metadata
array, which takes ~6 s on a laptop for SmolLM2's 49,152 tokens and 48,900 merges; the
kit reads headers several times per export (sizes, types, file type). Here arrays we do
not need are skipped by length, so a header reads in milliseconds.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import TaalkitError

# GGUF metadata value types -> struct format (strings and arrays handled separately).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
SMALL_ARRAY = 256  # arrays up to this length are kept; longer ones are recorded by length only


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]      # ggml order: shape[0] is the row length (ne[0])
    type_name: str              # F32, F16, Q8_0, …
    offset: int                 # from the start of the data section
    n_elements: int
    n_bytes: int


@dataclass
class GgufHeader:
    path: Path
    version: int
    fields: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0
    file_size: int = 0

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def metadata_bytes(self) -> int:
        """Everything that is not tensor data: header, vocabulary, merges, template, padding."""
        return max(0, self.file_size - self.tensor_bytes)


def _read(f: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    raw = f.read(size)
    if len(raw) != size:
        raise ValueError("file ends inside the header")
    return struct.unpack(fmt, raw)[0]


def _string(f: BinaryIO) -> str:
    n = _read(f, "<Q")
    raw = f.read(n)
    if len(raw) != n:
        raise ValueError("file ends inside a string")
    return raw.decode("utf-8", "replace")


def _skip_string(f: BinaryIO) -> None:
    f.seek(_read(f, "<Q"), os.SEEK_CUR)


def _value(f: BinaryIO, vtype: int, key: str, header: GgufHeader):
    if vtype in _SCALARS:
        return _read(f, _SCALARS[vtype])
    if vtype == _STRING:
        return _string(f)
    if vtype == _ARRAY:
        etype, count = _read(f, "<I"), _read(f, "<Q")
        header.array_lengths[key] = count
        if count <= SMALL_ARRAY:
            return [_value(f, etype, key, header) for _ in range(count)]
        if etype in _SCALARS:
            f.seek(count * struct.calcsize(_SCALARS[etype]), os.SEEK_CUR)
        elif etype == _STRING:
            for _ in range(count):
                _skip_string(f)
        else:
            for _ in range(count):
                _value(f, etype, key, header)
        return None
    raise ValueError(f"unknown metadata type {vtype} for {key}")


def read_header(path: os.PathLike | str) -> GgufHeader:
    """Parse ``path``'s metadata and tensor table; raise a one-line TaalkitError if it is not GGUF."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    path = Path(path)
    if not path.exists():
        raise TaalkitError(f"{path}: no such GGUF file")
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise ValueError("no GGUF magic at the start")
            header = GgufHeader(path=path, version=_read(f, "<I"), file_size=path.stat().st_size)
            if header.version not in (2, 3):
                raise ValueError(f"GGUF version {header.version} is not one llama.cpp reads")
            n_tensors, n_kv = _read(f, "<Q"), _read(f, "<Q")
            for _ in range(n_kv):
                key = _string(f)
                header.fields[key] = _value(f, _read(f, "<I"), key, header)
            for _ in range(n_tensors):
                name = _string(f)
                dims = tuple(_read(f, "<Q") for _ in range(_read(f, "<I")))
                qtype = GGMLQuantizationType(_read(f, "<I"))
                offset = _read(f, "<Q")
                n = 1
                for d in dims:
                    n *= d
                block, size = GGML_QUANT_SIZES[qtype]
                header.tensors.append(TensorInfo(name, dims, qtype.name, offset, n, n // block * size))
            align = int(header.fields.get("general.alignment") or 32)
            pos = f.tell()
            header.data_offset = pos + (-pos % align)
    except (ValueError, KeyError, struct.error, OSError) as err:
        raise TaalkitError(f"{path}: not a readable GGUF file ({err})") from None
    end = max((header.data_offset + t.offset + t.n_bytes for t in header.tensors), default=header.data_offset)
    if end > header.file_size:
        raise TaalkitError(f"{path}: not a readable GGUF file (cut short: {header.file_size} of {end} bytes)")
    return header


#: ``general.file_type`` values as names (llama.cpp's LLAMA_FTYPE_MOSTLY_*).
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              15: "Q4_K_M", 17: "Q5_K_M", 18: "Q6_K"}


def gguf_file_type(path: os.PathLike | str) -> str:
    """The ``general.file_type`` of a GGUF as a name (F32, F16, Q8_0, …)."""
    value = int(read_header(path).fields.get("general.file_type") or 0)
    return FILE_TYPES.get(value, f"type{value}")

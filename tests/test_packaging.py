"""What ships: the wheel carries every runtime file, and the runtime verbs work without torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kit", "tui")
# Files the installed kit reads at run time besides Python modules (see [tool.setuptools.package-data]).
DATA_SUFFIXES = {".tcss", ".json", ".tsv", ".txt", ".md"}
BLOCKED = ("torch", "transformers", "peft", "accelerate", "safetensors.torch")

BLOCKER = textwrap.dedent(f"""
    # Written by tests/test_packaging.py: make the workbench libraries impossible to import,
    # as on a laptop with only the runtime tier installed.
    import sys

    class _NoWorkbench:
        blocked = {BLOCKED!r}

        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in self.blocked):
                raise ImportError(f"{{name}} is not installed (runtime tier)")
            return None

    sys.meta_path.insert(0, _NoWorkbench())
""")


def _package_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("."):
                files.append(path.relative_to(ROOT))
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build_dir = tmp_path_factory.mktemp("build")
    # A private copy of the sources: building in the shared checkout would race other builds.
    src = build_dir / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (src / name).write_bytes((ROOT / name).read_bytes())
    for rel in _package_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((ROOT / rel).read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    wheels = list(out.glob("taalkit-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contains_every_module_and_data_file(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    sources = _package_files()
    data = [p for p in sources if p.suffix in DATA_SUFFIXES]
    assert any(p.suffix == ".tcss" for p in data), "the TUI's stylesheets should exist"
    missing = [str(p) for p in sources if (p.suffix == ".py" or p.suffix in DATA_SUFFIXES)
               and p.as_posix() not in names]
    assert not missing, f"not in the wheel: {missing}"
    unknown = [str(p) for p in sources if p.suffix != ".py" and p.suffix not in DATA_SUFFIXES]
    assert not unknown, f"package files of a kind package-data does not ship: {unknown}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        assert "taalkit = kit.cli:main" in zf.read(entry_points).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    # The runtime tier must not pull torch in; the workbench extra does.
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if "torch" in r and "extra ==" not in r]
    assert [r for r in requires if "torch" in r and 'extra == "train"' in r]


def _run_without_torch(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    site = tmp_path / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "TAALKIT_WORKSPACE": str(tmp_path / "ws"), "NO_COLOR": "1"}
    program = code or "import sys; from kit.cli import main; sys.argv = ['taalkit', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def test_the_blocker_really_blocks_torch(tmp_path):
    result = _run_without_torch(tmp_path, code="import torch")
    assert result.returncode != 0 and "runtime tier" in result.stderr


@pytest.mark.parametrize("verb", [[], ["chat"], ["dict"], ["dict", "search"], ["translate"], ["eval"],
                                  ["bundle"], ["open"]])
def test_runtime_help_works_without_torch(tmp_path, verb):
    result = _run_without_torch(tmp_path, *verb, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage:" in result.stdout


def test_runtime_verbs_run_without_torch(tmp_path):
    tsv = tmp_path / "en_cy.tsv"
    tsv.write_text("cat\tcath\tnoun\nwater\tdŵr\tnoun\n", encoding="utf-8")
    ws = tmp_path / "ws"
    assert _run_without_torch(tmp_path, "init", str(ws), "-t", "cy").returncode == 0
    result = _run_without_torch(tmp_path, "-w", str(ws), "dict", "import", str(tsv))
    assert result.returncode == 0, result.stderr[-2000:]
    result = _run_without_torch(tmp_path, "-w", str(ws), "dict", "search", "cath")
    assert result.returncode == 0 and "cat" in result.stdout
    # Translation through llama.cpp with the embedded SmolLM2 (no export yet): still no torch needed.
    result = _run_without_torch(tmp_path, "-w", str(ws), "translate", "The cat drinks water.")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() and "cath" in result.stderr

"""Who may import whom, as written in pyproject.toml's [tool.importlinter] contracts (issue 16).

``lint-imports`` reads every import statement of kit/ and tui/, those inside functions included: kit
never imports the UI; the runtime tier (dictionary, corpus, chat, translate, eval) never imports
torch or transformers, not even lazily (test_import_hygiene.py checks the same at run time); and a
pipeline stage imports only the floors below it (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason="import-linter is a dev dependency ('make install')")
    # --no-cache: a cache left by an earlier run can report imports that are no longer there.
    code = "from importlinter.cli import lint_imports_command; lint_imports_command(['--no-cache'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout

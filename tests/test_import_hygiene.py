"""The core never imports the UI, and the runtime tier never imports torch.

Checked in a fresh interpreter, because this test process has long since imported both.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_kit_never_imports_textual():
    modules = top_level(imported_after("import kit, kit.workspace, kit.db, kit.progress, kit.cli"))
    assert "textual" not in modules
    assert "tui" not in modules


@pytest.mark.parametrize("code", ["import kit", "import kit.cli", "import kit.infer", "import tui.app"])
def test_runtime_tier_does_not_import_torch(code):
    modules = top_level(imported_after(code))
    assert "torch" not in modules, f"{code!r} imported torch"
    assert "transformers" not in modules, f"{code!r} imported transformers"


def test_the_probe_can_see_an_import():
    # The check above would pass vacuously if the probe never reported modules.
    assert "textual" in top_level(imported_after("import textual"))

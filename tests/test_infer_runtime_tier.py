"""The runtime tier stays light: chat, translate and eval never import torch or transformers."""

from __future__ import annotations

import subprocess
import sys


def test_runtime_modules_do_not_import_torch():
    code = (
        "import sys\n"
        "import kit.infer.chat, kit.infer.translate, kit.infer.glossary, kit.infer.wordbyword\n"
        "import kit.infer.conversations, kit.infer.default_model, kit.evaluate, kit.cli.infer_cmds\n"
        "from kit.infer.engine import load_llama\n"
        "from kit.infer.default_model import default_model_gguf\n"
        "load_llama(default_model_gguf(), n_ctx=64, n_threads=1)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'textual'))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""Model weights are never unpickled: every model load in the kit asks for safetensors (or GGUF).

transformers falls back to ``pytorch_model.bin`` (a pickle, which can run code when loaded)
when a folder has no safetensors, unless ``use_safetensors=True``. The kit's folders are made
by the kit, but a folder a user points it at is not, so the fallback must be impossible.
"""

from __future__ import annotations

import ast
from pathlib import Path

KIT = Path(__file__).resolve().parents[1] / "kit"
MODEL_CLASSES = ("AutoModel", "AutoModelForCausalLM", "LlamaForCausalLM", "PeftModel")


def _model_loads():
    for path in sorted(KIT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "from_pretrained" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id in MODEL_CLASSES:
                yield path.relative_to(KIT.parent), node


def test_every_model_load_in_the_kit_passes_use_safetensors_true():
    loads = list(_model_loads())
    assert len(loads) >= 4  # transtok, finetune loop, models intake/loading, gguf verify
    missing = []
    for path, node in loads:
        kw = {k.arg: k.value for k in node.keywords}
        value = kw.get("use_safetensors")
        if not (isinstance(value, ast.Constant) and value.value is True):
            missing.append(f"{path}:{node.lineno}")
    assert not missing, f"model loads that could unpickle pytorch_model.bin: {missing}"


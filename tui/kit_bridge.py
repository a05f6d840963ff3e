"""The one place the app reaches into ``kit`` for a stage function.

Stages are optional at run time: the runtime tier has no torch, and while the
kit is being built a stage may simply not exist yet. Either way the user gets a
sentence saying what is missing, never an ImportError traceback.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from kit.errors import TaalkitError

TRAIN_TIER = {"torch", "transformers", "peft", "accelerate", "safetensors", "sentencepiece"}


class StageMissing(TaalkitError):
    """A kit stage this build does not provide (not installed or not written yet)."""


def kit_module(module: str):
    """Import ``kit.<module>``, turning a missing stage or tier into a :class:`StageMissing`."""
    try:
        return importlib.import_module(f"kit.{module}")
    except ImportError as err:
        missing = (err.name or "").split(".")[0]
        if missing in TRAIN_TIER:
            raise StageMissing(
                f"this step needs the training tools ({missing}); install them with "
                f"pip install 'taalkit[train]'"
            ) from err
        if (err.name or "").startswith(f"kit.{module}") or err.name == "kit":
            raise StageMissing(f"kit.{module} is not available yet in this build of taalkit") from err
        raise


def kit_function(module: str, name: str) -> Callable[..., Any]:
    """``kit.<module>.<name>``, or a :class:`StageMissing` naming what is not there."""
    fn = getattr(kit_module(module), name, None)
    if fn is None:
        raise StageMissing(f"kit.{module}.{name} is not available yet in this build of taalkit")
    return fn


def available(module: str) -> bool:
    """Whether ``kit.<module>`` exists, without importing it (stages import torch: seconds)."""
    import importlib.util

    return importlib.util.find_spec(f"kit.{module}") is not None

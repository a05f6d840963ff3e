"""Rendering a model's chat template within bounds: a GGUF from a stranger must not hang a chat.

A chat template is a Jinja program inside the model file. jinja2's sandbox already stops it
reading attributes it should not (no ``__class__`` walks, no file access) and caps one
``range()`` at 100 000, but two nested ranges still loop 10¹⁰ times, ``'x' * 10**10`` asks for
10 GB, and a recursive macro runs until Python's recursion limit. Rendering here therefore has:

* a time limit (:data:`RENDER_SECONDS`), checked on every line the compiled template runs
  (a trace function: jinja templates compile to Python code, so their loops are traced);
* an output limit (:data:`MAX_OUTPUT_CHARS`), counted while the text is generated;
* ``*`` and ``**`` bounded before they run, so one operator cannot build a huge string or number.

Anything the template raises becomes a :class:`TemplateError` naming the limit or the error.
Runtime tier: jinja2 only.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..errors import TaalkitError

#: A real template renders a conversation in milliseconds.
RENDER_SECONDS = 5.0
#: More than any context window holds (a 128k-token context is ~500k characters).
MAX_OUTPUT_CHARS = 2_000_000
_MAX_REPEAT = 100_000  # the longest string or list that ``*`` may build
_MAX_POWER = 10_000  # the largest exponent ``**`` may take


class TemplateError(TaalkitError):
    """The model's chat template failed or went over a limit."""


class _OverBudget(BaseException):
    """Raised inside the template's frames; a BaseException so template code cannot swallow it."""


def bounded_environment(**options):
    """An ``ImmutableSandboxedEnvironment`` whose ``*`` and ``**`` are bounded."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context, operator, left, right):
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_POWER:
                raise TemplateError(f"the model's chat template computes a power of {right}; refusing it")
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                            and len(seq) * max(times, 0) > _MAX_REPEAT:
                        raise TemplateError("the model's chat template repeats a text or list "
                                            f"{times} times; refusing it")
            return super().call_binop(context, operator, left, right)

    env = BoundedEnvironment(**options)
    env.globals.pop("lipsum", None)  # generates text of any size on request; no real template needs it
    return env


def render_bounded(template, variables: dict[str, Any], *, seconds: float = RENDER_SECONDS,
                   max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """``template.render(**variables)`` that stops at ``seconds`` or ``max_chars`` with a clear error."""
    deadline = time.monotonic() + seconds
    ticks = 0

    def tracer(frame, event, arg):
        nonlocal ticks
        ticks += 1
        if ticks % 64 == 0 and time.monotonic() > deadline:
            raise _OverBudget
        return tracer

    previous = sys.gettrace()
    pieces: list[str] = []
    size = 0
    sys.settrace(tracer)
    try:
        for piece in template.generate(**variables):
            size += len(piece)
            if size > max_chars:
                raise TemplateError(f"the model's chat template produced more than {max_chars} characters; "
                                    "its template is broken or hostile")
            pieces.append(piece)
    except _OverBudget:
        raise TemplateError(f"the model's chat template ran for more than {seconds:g} s without finishing; "
                            "its template is broken or hostile") from None
    except TaalkitError:
        raise
    except RecursionError:
        raise TemplateError("the model's chat template recursed without end") from None
    except Exception as err:  # the template is data from the model file: any failure is its own
        raise TemplateError(f"the model's chat template failed: {type(err).__name__}: {err}") from None
    finally:
        sys.settrace(previous)
    return "".join(pieces)


__all__ = ["bounded_environment", "render_bounded", "TemplateError", "RENDER_SECONDS", "MAX_OUTPUT_CHARS"]

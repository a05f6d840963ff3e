"""A hostile chat template in a GGUF cannot hang chat or translate (issue 14, case 11).

Real jinja2 rendering through :class:`kit.infer.engine.ChatTemplate`, in a child process with a
generous wall-clock guard so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_RENDER = """
import sys
from kit.errors import TaalkitError
from kit.infer.engine import ChatTemplate
source = sys.stdin.read()
try:
    out = ChatTemplate(source, time_limit_s=0.5).render([{"role": "user", "content": "hi"}])
    print("rendered", len(out))
except TaalkitError as err:
    print("error:", err)
"""

HOSTILE = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested string loops": "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "huge repeat": "{{ 'x' * 10000000000 }}",
    "huge power": "{{ 7 ** 100000000000 }}",
    "endless output": "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_fails_with_a_clear_message(name):
    result = subprocess.run([sys.executable, "-c", _RENDER], input=HOSTILE[name], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("error: the model's chat template"), result.stdout


def test_a_real_template_still_renders():
    from tests.conftest import CHAT_TEMPLATE
    from kit.infer.engine import ChatTemplate

    out = ChatTemplate(CHAT_TEMPLATE).render([{"role": "user", "content": "Shwmae?"}])
    assert out == "<|im_start|>user\nShwmae?<|im_end|>\n<|im_start|>assistant\n"

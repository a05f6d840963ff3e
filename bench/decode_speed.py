"""Decode speed of the kit's chat path beside bare llama-cpp-python, same GGUF, same prompt, one run.

    .venv/bin/python bench/decode_speed.py                      # the embedded SmolLM2 Q4_1
    .venv/bin/python bench/decode_speed.py --model WS/gguf/cy-q4_1.gguf --tokens 128 --repeats 5

Both paths use one llama.cpp model loaded with the kit's CPU defaults and greedy decoding, so they
produce the same tokens; runs alternate (kit, bare, bare, kit, ...) so background load hits both
alike, and the median is compared. Decode tokens/s = tokens after the first / time after the first
(prompt processing excluded, as llama.cpp reports it). The kit must stay within 5% of bare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.infer.chat import ChatSession  # noqa: E402
from kit.infer.default_model import default_model_gguf  # noqa: E402
from kit.infer.engine import ChatTemplate, load_llama, physical_cores  # noqa: E402

QUESTION = "Write a long story about a cat who travels around the world."


def bare(llm, prompt: str, max_tokens: int) -> tuple[int, float, float]:
    """llama-cpp-python as its README shows it: create_completion(stream=True)."""
    started = time.perf_counter()
    first = last = None
    tokens = 0
    for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True):
        if chunk["choices"][0].get("finish_reason"):
            continue
        tokens += 1
        last = time.perf_counter()
        first = first or last
    return tokens, (tokens - 1) / (last - first), last - started


def kit(llm, max_tokens: int) -> tuple[int, float, float, str]:
    session = ChatSession(llm, temperature=0.0, max_tokens=max_tokens)
    started = time.perf_counter()
    reply = session.send(QUESTION)
    for _ in reply:
        pass
    return reply.stats.tokens, reply.tokens_per_s, time.perf_counter() - started, reply.prompt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    path = args.model or default_model_gguf()
    threads = args.threads or physical_cores()
    llm = load_llama(path, n_ctx=2048, n_threads=threads)
    prompt = ChatTemplate.from_llama(llm).render([{"role": "user", "content": QUESTION}])

    load = os.getloadavg()[0]
    kit(llm, 8)  # warm-up: page in the weights, fill caches
    rows = {"bare llama-cpp-python": [], "taalkit ChatSession": []}
    for i in range(args.repeats):
        # ABBA order: neither path always runs first (cache warmth, a neighbour's burst of load).
        for which in (("kit", "bare") if i % 2 == 0 else ("bare", "kit")):
            if which == "kit":
                n, tps, wall, kit_prompt = kit(llm, args.tokens)
                assert kit_prompt == prompt, "the kit must send the very same prompt"
                rows["taalkit ChatSession"].append((n, tps, wall))
            else:
                rows["bare llama-cpp-python"].append(bare(llm, prompt, args.tokens))

    print(f"model: {path.name}  threads: {threads}  n_ctx: 2048  max_tokens: {args.tokens}  "
          f"repeats: {args.repeats} (alternating)  load average before: {load:.1f}")
    print(f"{'path':<24}{'tokens':>8}{'decode tok/s (median)':>24}{'min':>8}{'max':>8}{'wall s (median)':>17}")
    medians = {}
    for name, runs in rows.items():
        speeds = [r[1] for r in runs]
        medians[name] = statistics.median(speeds)
        print(f"{name:<24}{runs[0][0]:>8}{medians[name]:>24.1f}{min(speeds):>8.1f}{max(speeds):>8.1f}"
              f"{statistics.median(r[2] for r in runs):>17.2f}")
    ratio = medians["taalkit ChatSession"] / medians["bare llama-cpp-python"]
    verdict = "PASS" if ratio >= 0.95 else "FAIL"
    print(f"kit / bare = {ratio:.3f}  ({verdict}: the kit must be within 5% of bare llama-cpp-python)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

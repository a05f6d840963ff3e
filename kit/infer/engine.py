"""One llama.cpp model loaded with laptop defaults, its chat template, and a token stream.

Chat and translation share this: both render messages with the model's *own* chat
template (read from the GGUF metadata, so an adapted model that kept SmolLM2's template
chats the way it was trained) and pull tokens one at a time so a stop lands between
tokens, never inside llama.cpp.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from ..errors import ResourceError, TaalkitError

# ChatML, SmolLM2's format: used only when a GGUF carries no template and its family has none.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

DEFAULT_N_CTX = 2048
DEFAULT_N_BATCH = 256


def physical_cores() -> int:
    """Physical cores, not hyper-threads: llama.cpp decode is memory-bound and extra
    SMT threads only contend with each other."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except Exception:  # psutil is optional in the runtime tier
        n = None
    return max(1, n or os.cpu_count() or 1)


def load_llama(path: os.PathLike | str, *, n_ctx: int = DEFAULT_N_CTX, n_threads: Optional[int] = None,
               n_batch: int = DEFAULT_N_BATCH, seed: int = 0):
    """Open a GGUF with CPU defaults; a bad file becomes one clear line, not a C++ trace."""
    from llama_cpp import Llama

    path = Path(path)
    if not path.is_file():
        raise TaalkitError(f"{path}: no such GGUF file")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise TaalkitError(f"{path}: not a GGUF file (bad magic)", next_step="export")
    threads = n_threads or physical_cores()
    try:
        return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                     n_batch=min(n_batch, n_ctx), seed=seed, verbose=False)
    except (ValueError, RuntimeError) as err:
        raise ResourceError(f"{path}: llama.cpp could not load it ({err}); try a smaller --n-ctx "
                            "or re-export the model") from err


class ChatTemplate:
    """Renders a message list with the GGUF's ``tokenizer.chat_template`` (jinja2, sandboxed)."""

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "", *,
                 time_limit_s: Optional[float] = None) -> None:
        from .sandbox import RENDER_SECONDS, bounded_environment

        def raise_exception(message):
            raise TaalkitError(f"the model's chat template refused the conversation: {message}")

        self.time_limit_s = RENDER_SECONDS if time_limit_s is None else time_limit_s
        env = bounded_environment(trim_blocks=True, lstrip_blocks=True)  # time, size and operator bounds
        env.globals["raise_exception"] = raise_exception
        self.source = source
        self._template = env.from_string(source)
        self.bos_token, self.eos_token = bos_token, eos_token

    @classmethod
    def from_llama(cls, llm) -> "ChatTemplate":
        return cls(template_source(llm.metadata), bos_token=_token_text(llm, llm.token_bos()),
                   eos_token=_token_text(llm, llm.token_eos()))

    def render(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        from .sandbox import render_bounded

        return render_bounded(self._template, dict(messages=messages, add_generation_prompt=add_generation_prompt,
                                                   bos_token=self.bos_token, eos_token=self.eos_token),
                              seconds=self.time_limit_s)


def template_source(metadata: dict) -> str:
    """The GGUF's own chat template; without one, its family's turn format; else ChatML.

    Why the family: a base model's GGUF (the embedded Gemma-3-270M) carries no template, and ChatML's
    ``<|im_start|>`` is no token of Gemma's vocabulary — it would be read as a handful of
    punctuation pieces, and the unadapted base would be judged on a format nothing it was trained on
    (nor the kit's adapted Gemma models, which carry the family's format) ever used."""
    source = metadata.get("tokenizer.chat_template")
    if source:
        return source
    from ..models.families import family_reading_gguf

    family = family_reading_gguf(metadata.get("general.architecture"))
    return getattr(family, "default_chat_template", None) or CHATML_TEMPLATE


def prompt_ids(llm, prompt: str) -> list[int]:
    """A rendered prompt's token ids, with the beginning-of-sequence token once.

    Why: llama.cpp adds BOS where the model asks for one (``add_bos_token``), and a chat template
    that renders ``{{ bos_token }}`` itself (Gemma's) then starts with two — a sequence the model
    never saw in training, and llama.cpp warns that it "will likely reduce response quality"."""
    ids = list(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
    wanted = list(llm.tokenize(b"", add_bos=True, special=True))  # [BOS] where the model asks for one
    return ids if ids[:len(wanted)] == wanted else wanted + ids


def _token_text(llm, token_id: int) -> str:
    if token_id is None or token_id < 0:
        return ""
    return llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")


@dataclass
class StreamStats:
    """What one generation produced: the measured decode speed is shown to the user."""

    prompt_tokens: int = 0
    tokens: int = 0
    first_token_s: float = 0.0  # prompt processing + first token
    decode_s: float = 0.0  # time for tokens after the first
    finish_reason: str = ""
    pieces: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: tokens after the first divided by the time they took."""
        if self.tokens < 2 or self.decode_s <= 0:
            return 0.0
        return (self.tokens - 1) / self.decode_s


class NoRepeatNGram:
    """A llama.cpp logits processor: never generate an n-gram of tokens the answer already holds.

    Why: a briefly tuned small model under greedy decoding falls into loops ("Recipient: Recipient:
    Recipient: …") until the token limit, which costs time and chrF. Only the generated tokens
    count (the prompt may hold the same words on purpose: the source text, the draft). Written by
    hand because llama-cpp-python has a repetition *penalty* but no n-gram ban; O(answer length)
    per token on numpy arrays.
    """

    def __init__(self, n: int = 3) -> None:
        self.n = int(n)
        self.start: Optional[int] = None

    def __call__(self, input_ids, scores):
        import numpy as np

        if self.start is None:
            self.start = len(input_ids)  # the first call sees the prompt only
        answer = np.asarray(input_ids[self.start:])
        n = self.n
        if n < 1 or len(answer) < n:
            return scores
        if n == 1:
            scores[answer] = -np.inf
            return scores
        prefix = answer[-(n - 1):]
        windows = np.lib.stride_tricks.sliding_window_view(answer[:-1], n - 1)
        hits = np.nonzero((windows == prefix).all(axis=1))[0]
        if len(hits):
            scores[answer[hits + n - 1]] = -np.inf
        return scores


class DraftBias:
    """A logits processor that favours the tokens of a draft, each as many times as the draft has it.

    Dictionary-guided decoding: the word-by-word draft's tokens get ``bias`` added to their logits
    until the answer has used them up, so the model leans towards the dictionary's words but stays
    free to reorder, inflect, or write a word the draft lacks. A consumed token is no longer helped,
    so copying the draft twice is not.
    """

    def __init__(self, token_ids, bias: float) -> None:
        from collections import Counter

        self.left = Counter(int(t) for t in token_ids if t is not None and t >= 0)
        self.bias = float(bias)
        self.start: Optional[int] = None
        self.seen = 0

    def __call__(self, input_ids, scores):
        import numpy as np

        if self.start is None:
            self.start = len(input_ids)
            self.seen = self.start
        for t in input_ids[self.seen:]:
            if self.left.get(int(t), 0) > 0:
                self.left[int(t)] -= 1
        self.seen = len(input_ids)
        ids = [t for t, n in self.left.items() if n > 0 and t < len(scores)]
        if ids and self.bias:
            scores[np.asarray(ids)] += self.bias
        return scores


class BanFirst:
    """A logits processor that forbids some tokens as the answer's first token (an echoed instruction)."""

    def __init__(self, token_ids) -> None:
        self.token_ids = sorted({int(t) for t in token_ids if t is not None and t >= 0})
        self.start: Optional[int] = None

    def __call__(self, input_ids, scores):
        import numpy as np

        if self.start is None:
            self.start = len(input_ids)
        if len(input_ids) == self.start and self.token_ids:
            scores[np.asarray(self.token_ids)] = -np.inf
        return scores


def stream_tokens(llm, prompt: str, *, max_tokens: int, stats: StreamStats, temperature: float = 0.0,
                  top_p: float = 0.95, stop: Optional[list[str]] = None, cancel=None,
                  seed: Optional[int] = None, repeat_penalty: Optional[float] = None,
                  logits_processors: Optional[list] = None) -> Iterator[str]:
    """Yield text pieces, one per generated token, filling ``stats`` as it goes.

    ``cancel`` (a :class:`kit.progress.CancelToken`) is polled before each token; a stop
    ends the stream quietly with ``stats.finish_reason == "stopped"`` and the partial text kept.
    ``repeat_penalty`` is llama.cpp's own (None: llama-cpp-python's default); ``logits_processors`` (e.g.
    :class:`NoRepeatNGram`, fresh per call: they keep the prompt length) see every step's scores.
    """
    ids = prompt_ids(llm, prompt)
    stats.prompt_tokens = len(ids)
    started = time.perf_counter()
    first_at = None
    extra = {} if repeat_penalty is None else {"repeat_penalty": repeat_penalty}
    if logits_processors:
        from llama_cpp import LogitsProcessorList

        extra["logits_processor"] = LogitsProcessorList(logits_processors)
    stream = llm.create_completion(ids, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                   stop=stop or [], stream=True, seed=seed, **extra)
    try:
        for chunk in stream:
            if cancel is not None and cancel.cancelled:
                stats.finish_reason = "stopped"
                return
            choice = chunk["choices"][0]
            piece = choice.get("text") or ""
            if choice.get("finish_reason"):
                stats.finish_reason = choice["finish_reason"]
            else:
                stats.tokens += 1
                now = time.perf_counter()
                if first_at is None:
                    first_at = now
                    stats.first_token_s = now - started
                else:
                    stats.decode_s = now - first_at
            if piece:
                stats.pieces.append(piece)
                yield piece
    finally:
        stream.close()
        if not stats.finish_reason:
            stats.finish_reason = "stopped"

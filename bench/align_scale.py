"""Time and peak memory of the word aligner at 15k, 100k and 1M sentence pairs, before and after streaming.

Run from the repository root::

    .venv/bin/python bench/align_scale.py                              # 15k, 100k, 1M; 'before' up to 100k
    .venv/bin/python bench/align_scale.py --sizes 15000,100000 --before-up-to 100000

The corpus is the shipped Welsh pairs (``data/cy/train_en_cy.tsv``, 15,349 pairs) repeated to the
size asked, split into words by two byte-level BPE tokenizers trained on its sides here (the
aligner's input in ``transtokenize``: one word id per word). Each (implementation, size) runs in a
fresh subprocess so its peak RSS (``ru_maxrss``) is its own. "before" is the aligner as first
committed (git ``BASELINE``, read with ``git show``), which held every (sentence, target position,
source position) entry in memory at once; "after" is today's ``kit.transtok.align`` (chunked EM).
Both get the same word ids; ``links`` and the links' checksum show the results are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PAIRS = REPO / "data/cy/train_en_cy.tsv"
BASELINE = "2fe4ac5"  # the commit that introduced the in-memory aligner (the last before streaming)


def read_pairs() -> list[tuple[str, str]]:
    out = []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
            out.append((parts[0], parts[1]))
    return out


def train_tokenizers(pairs, folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    for side, texts in (("source", [p[0] for p in pairs]), ("target", [p[1] for p in pairs])):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=8000, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(texts, trainer=trainer)
        tok.save(str(folder / f"{side}.json"))


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(impl: str, size: int, folder: Path) -> dict:
    """One measurement: tokenize the base pairs, repeat to ``size`` (real copies), align, report."""
    from types import SimpleNamespace

    import numpy as np
    from tokenizers import Tokenizer

    from kit.transtok.evidence import WordVocab, tokenize_words

    if impl == "before":
        sys.path.insert(0, str(folder))
        import align_before as aligner  # noqa: E402  (written by the parent from git)
    else:
        from kit.transtok import align as aligner
    pairs = read_pairs()
    sv, tv = WordVocab(), WordVocab()
    src = tokenize_words(SimpleNamespace(backend_tokenizer=Tokenizer.from_file(str(folder / "source.json"))),
                         [p[0] for p in pairs], sv)
    tgt = tokenize_words(SimpleNamespace(backend_tokenizer=Tokenizer.from_file(str(folder / "target.json"))),
                         [p[1] for p in pairs], tv)
    reps = -(-size // len(src))
    src = [a.copy() for _ in range(reps) for a in src][:size]
    tgt = [a.copy() for _ in range(reps) for a in tgt][:size]
    rss_before = current_rss()
    t0 = time.perf_counter()
    links = aligner.align(src, tgt, n_source_vocab=len(sv), n_target_vocab=len(tv), iterations=5)
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256()
    for a in (links.sentence, links.target_word, links.source_word):
        digest.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return {"impl": impl, "pairs": size, "seconds": seconds, "peak_rss": peak_rss(), "rss_input": rss_before,
            "links": int(len(links.sentence)), "digest": digest.hexdigest()[:12],
            "words": int(sum(len(a) for a in src) + sum(len(a) for a in tgt))}


def measure(impl: str, size: int, folder: Path, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", impl, "--pairs", str(size), "--folder", str(folder)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"impl": impl, "pairs": size, "error": f"over {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"impl": impl, "pairs": size, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="15000,100000,1000000")
    ap.add_argument("--before-up-to", type=int, default=100000,
                    help="measure the in-memory aligner only up to this many pairs (it needs ~45 kB a pair)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--child", choices=("before", "after"), help=argparse.SUPPRESS)
    ap.add_argument("--pairs", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.pairs, args.folder)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="align-scale-") as tmp:
        folder = Path(tmp)
        pairs = read_pairs()
        train_tokenizers(pairs, folder)
        before = subprocess.run(["git", "show", f"{BASELINE}:kit/transtok/align.py"], cwd=REPO,
                                capture_output=True, text=True)
        have_before = before.returncode == 0
        if have_before:
            (folder / "align_before.py").write_text(before.stdout, encoding="utf-8")
        rows = []
        for size in sizes:
            for impl in ("before", "after"):
                if impl == "before" and (not have_before or size > args.before_up_to):
                    continue
                r = measure(impl, size, folder, args.timeout)
                rows.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    print(f"shipped pairs: {len(pairs)}; load average at start (1/5/15 min): {load}; "
          f"after: chunks of {__import__('kit.transtok.align', fromlist=['x']).CHUNK_ENTRIES:,} entries")
    print()
    print("| pairs | aligner | seconds | s per 100k pairs | peak RSS (MB) | RSS of the input (MB) | links | links checksum |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['pairs']:,} | {r['impl']} | {r['error']} | | | | | |")
            continue
        print(f"| {r['pairs']:,} | {r['impl']} | {r['seconds']:.1f} | {r['seconds'] / r['pairs'] * 1e5:.1f} | "
              f"{r['peak_rss'] / 2**20:.0f} | {r['rss_input'] / 2**20:.0f} | {r['links']:,} | {r['digest']} |")
    by = {(r["impl"], r["pairs"]): r for r in rows if "error" not in r}
    print()
    print("| pairs | after / before: seconds | after / before: peak RSS | same links |")
    print("|---:|---:|---:|---|")
    for size in sizes:
        b, a = by.get(("before", size)), by.get(("after", size))
        if a and b:
            print(f"| {size:,} | {a['seconds'] / b['seconds']:.2f} | {a['peak_rss'] / b['peak_rss']:.2f} | "
                  f"{'yes' if a['digest'] == b['digest'] else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``taalkit transtokenize``: give the source model the target vocabulary; ``explain TOKEN``: why."""

from __future__ import annotations

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option_after_verb

METHOD_CHOICES = ("transtok", "fvt", "mean", "random")


@main.group("transtokenize", invoke_without_command=True)
@click.option("--method", "-m", type=click.Choice(METHOD_CHOICES), default="transtok", show_default=True,
              help="transtok = dictionary + parallel + identical evidence, each row blended with FVT by how "
                   "much evidence it has; the others are baselines.")
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda", "mps")), default="auto", show_default=True,
              help="Where the embeddings are averaged and the held-out text scored (auto: CUDA when present).")
@click.option("--precision", type=click.Choice(("auto", "bf16", "fp32")), default="auto", show_default=True,
              help="Scoring in bf16 where the device supports it (auto), or force one; embeddings stay fp32.")
@click.option("--iterations", type=click.IntRange(1, 50), default=5, show_default=True,
              help="EM iterations of the word aligner.")
@click.option("--min-share", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Drop, per target token, aligned source tokens below this share of its evidence.")
@click.option("--aligner", type=click.Choice(("ibm1", "eflomal")), default="ibm1", show_default=True,
              help="Word aligner: ibm1 is built in; eflomal needs 'pip install eflomal'.")
@click.option("--compare", is_flag=True,
              help="Run every method (transtok last, so it stays the newest) and print their bits/char.")
@workspace_option_after_verb
@click.pass_context
def transtokenize_cmd(ctx: click.Context, method: str, device: str, precision: str, iterations: int,
                      min_share: float, aligner: str, compare: bool) -> None:
    """Map target tokens to source tokens and initialise the new embeddings.

    Writes models/transtok-METHOD/ (a normal Hugging Face model folder with the target
    tokenizer), records how many tokens each kind of evidence covered, and measures the new
    model's held-out bits per character (step 0 of a fine-tune, on the same texts).
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..transtok import compare_methods, transtokenize

    ws = open_workspace(ctx)
    options = dict(device=device, precision=precision, iterations=iterations, min_share=min_share, aligner=aligner)
    if compare:
        rows = compare_methods(ws, progress=ProgressPrinter(), **options)
        click.echo(_compare_table(rows))
        return
    row = transtokenize(ws, method=method, progress=ProgressPrinter(), **options)
    from ..transtok.explain import mapping_stats

    stats = mapping_stats(ws)
    click.echo(f"wrote {row['path']}  (vocab {row['vocab_size']}, method {method})")
    click.echo(_bits_line(stats))
    click.echo(_summary(stats))


def _bits_line(stats: dict) -> str:
    value = stats.get("heldout_bits_per_char")
    if value is None:
        return "held-out bits per char: not measured (the workspace has no held-out text; import more text)"
    return (f"held-out bits per char at step 0: {value:.4f} ({stats.get('heldout_texts')} held-out texts; "
            f"lower is better)")


def _compare_table(rows: list[dict]) -> str:
    best = min((r["bits_per_char"] for r in rows if r["bits_per_char"] is not None), default=None)
    lines = [f"{'method':<10} {'bits/char (step 0)':>19} {'fallback rows':>14} {'seconds':>8}"]
    for r in rows:
        value = "n/a" if r["bits_per_char"] is None else f"{r['bits_per_char']:.4f}"
        mark = "  <- best" if best is not None and r["bits_per_char"] == best else ""
        lines.append(f"{r['method']:<10} {value:>19} {r['fallback']:>14} {r['seconds']:>8.1f}{mark}")
    return "\n".join(lines)


def _summary(stats: dict) -> str:
    n = stats.get("target_vocab", 0) or 1
    parts = [f"{kind} {stats[f'covered_{kind}']}" for kind in ("dictionary", "parallel", "identical", "pinned")
             if f"covered_{kind}" in stats]
    lines = []
    if parts:
        lines.append("tokens with evidence: " + ", ".join(parts) + f" (of {stats.get('target_vocab')})")
    lines.append(f"rows from: evidence {stats.get('rows_evidence', 0)}, pinned {stats.get('rows_pinned', 0)}, "
                 f"fvt {stats.get('rows_fvt', 0)}, mean {stats.get('rows_mean', 0)}, "
                 f"random {stats.get('rows_random', 0)}")
    if stats.get("fallback"):
        lines.append(f"fell back (no dictionary/parallel/identical evidence): {stats['fallback']} "
                     f"({100 * stats['fallback'] / n:.1f}%)")
    times = stats.get("times", {})
    if times:
        lines.append("seconds: " + ", ".join(f"{k[:-2]} {v:.1f}" for k, v in times.items()))
    return "\n".join(lines)


@transtokenize_cmd.command("explain")
@click.argument("token")
@click.option("--method", "-m", type=click.Choice(METHOD_CHOICES), default="transtok", show_default=True)
@click.option("--top", type=click.IntRange(1, 50), default=5, show_default=True)
@workspace_option_after_verb
@click.pass_context
def explain_cmd(ctx: click.Context, token: str, method: str, top: int) -> None:
    """Show which source tokens TOKEN was built from, and the entries/segments behind them.

    TOKEN is a target token as the tokenizer writes it ('Ġcath'), its id, or a word: then both
    ' cath' (a word of its own) and 'cath' (inside a word) are shown where both exist, spaced first.
    """
    from ..transtok import load_mapping

    from ..errors import TaalkitError

    from .explain_view import explain

    ws = open_workspace(ctx)
    mapping = load_mapping(ws, method)
    if explain(ws, mapping, token, top) is None:  # both forms of a word, spaced first (kit.cli.explain_view)
        raise TaalkitError(_not_one_token(ws, method, token))


def _not_one_token(ws, method: str, word: str) -> str:
    """Say how the target tokenizer splits a word that is not one token, so the user can pick a piece."""
    from ..transtok.explain import word_pieces

    pieces = word_pieces(ws, method, word)
    return (f"{word!r} is not a token of the target tokenizer; it splits ' {word.strip()}' into "
            f"{' '.join(pieces)} — explain one of those")

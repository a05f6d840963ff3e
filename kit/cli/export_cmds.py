"""``taalkit export``: write the current model as a GGUF for llama.cpp, quantize it, and prove it works."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option


@main.command("export")
@click.option("--quant", "-q", default="Q8_0", show_default=True,
              help="Q8_0, Q6_K, Q5_1, Q5_0, Q5_K_M, Q4_1, Q4_0, Q4_K_M, F16 or F32 (see --list-quants).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output file (default: WORKSPACE/gguf/<model>-<quant>.gguf).")
@click.option("--model", "model_name", default=None, help="Model name from 'taalkit use' (default: the current model).")
@click.option("--list-quants", is_flag=True, help="List the types with their expected size for this model.")
@click.option("--verify", "verify_file", type=click.Path(path_type=Path), default=None,
              help="Verify an existing GGUF FILE against its model instead of exporting.")
@click.option("--no-verify", is_flag=True, help="Skip the llama.cpp checks after exporting.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@workspace_option
@click.pass_context
def export_cmd(ctx: click.Context, quant, out, model_name, list_quants, verify_file, no_verify, as_json,
               workspace) -> None:
    """Export the model to GGUF (llama.cpp), quantized, and verify it against PyTorch."""
    from ..gguf import export_model

    if verify_file is not None:
        _verify_file(ctx, verify_file, model_name, as_json)
        return
    ws = open_workspace(ctx)
    if list_quants:
        _list_quants(ws, model_name, as_json)
        return
    from .current import announce_model

    announce_model(ws, ws.model(model_name), chosen=model_name is not None)
    row = export_model(ws, model=model_name, quant=quant, out=out, verify=not no_verify,
                       progress=ProgressPrinter())
    if as_json:
        click.echo(json.dumps(row, indent=2, ensure_ascii=False))
    else:
        from ..fsutil import human_bytes

        click.echo(f"wrote {ws.root / row['path']} ({row['quant']}, {human_bytes(row['size_bytes'])})")
        fallbacks = row["verification"].get("quantize", {}).get("fallbacks")
        if fallbacks:
            click.secho(f"warning: k-quant fell back for {sum(fallbacks.values())} matrices "
                        f"({', '.join(fallbacks)}): rows are not a multiple of 256", fg="yellow", err=True)
        if row["verification"]:
            _print_verification(row["verification"])
    if row["verification"] and not row["verification"].get("ok", True):
        sys.exit(1)


def _list_quants(ws, model_name, as_json: bool) -> None:
    from ..fsutil import human_bytes
    from ..gguf import list_quants

    row = ws.model(model_name)
    table = list_quants(ws.model_dir(row))
    if as_json:
        click.echo(json.dumps(table, indent=2))
        return
    click.echo(f"quantization types for {row['name']} (sizes are estimates before metadata):")
    for r in table:
        click.echo(f"  {r['quant']:<7} ≈ {human_bytes(r['expected_bytes']):>9}  {r['note']}")
        if r["warning"]:
            click.secho(f"          warning: {r['warning']}", fg="yellow")


def _verify_file(ctx, path: Path, model_name, as_json: bool) -> None:
    """Check a GGUF against the model it came from (kit.gguf.exported_model), or alone without a workspace."""
    from ..errors import WorkspaceError
    from ..gguf import exported_model, verify_export, verify_gguf

    try:
        ws = open_workspace(ctx)
    except WorkspaceError:
        ws = None
        click.echo("no workspace: checking that llama.cpp loads and runs the file only", err=True)
    if ws is not None:
        row = exported_model(ws, path, model_name)
        click.echo(f"verifying {path.name} against model {row['name']}", err=True)
        report = verify_export(ws, path, row, progress=ProgressPrinter())
    else:
        report = verify_gguf(path, None, None, reference=None, progress=ProgressPrinter())
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_verification(report)
    if not report["ok"]:
        sys.exit(1)


def _print_verification(v: dict) -> None:
    echo = click.echo
    echo(f"llama.cpp loads it: {'yes' if v.get('loads') else 'NO'} ({v.get('file_type')}, "
         f"{v.get('n_vocab')} tokens)")
    tok = v.get("tokenization")
    if tok:
        if tok["identical"]:
            echo(f"tokenization: identical to the HF tokenizer on {tok['texts']} texts ({tok['tokens']} tokens)")
        else:
            m = tok["first_mismatch"]
            click.secho(f"tokenization: {tok['mismatches']} of {tok['texts']} texts DIFFER, first at token "
                        f"{m['position']} of {m['text'][:60]!r}: HF {m['hf']} vs llama.cpp {m['llama_cpp']}",
                        fg="red")
    lg = v.get("logits")
    if lg:
        echo(f"next-token logits vs PyTorch: max |Δ| {lg['max_abs_diff']:.2e} (largest |logit| "
             f"{lg['max_abs_logit']:.1f}), top-1 equal on {lg['top1_equal']}/{lg['prompts']} prompts")
    ppl = v.get("perplexity") or {}
    if ppl.get("bits_per_char"):
        line = f"held-out bits per char {ppl['bits_per_char']:.4f}"
        ref = (v.get("reference") or {}).get("perplexity") or {}
        if ref.get("bits_per_char"):
            line += f" ({v['reference']['file_type']} reference {ref['bits_per_char']:.4f})"
        echo(line + f"; perplexity {ppl['perplexity']:.1f} per token over {ppl['tokens']} tokens")
        echo("  (bits per char is what fine-tuning and eval report and compares across tokenizers; perplexity "
             "is per token, so long target-language tokens make it large)")
    div = v.get("divergence") or {}
    if div.get("kl_mean") is not None:
        echo(f"against the reference: KL {div['kl_mean']:.4g} nats/token, top-1 agreement "
             f"{div['top1_agreement'] * 100:.1f}% over {div['tokens']} tokens")
    chat = v.get("chat")
    if chat:
        verdict = "ok" if chat["ok"] else "FAILED: " + "; ".join(chat["problems"])
        click.secho(f"chat reply ({verdict}): {chat['reply'][:120]!r}", fg=None if chat["ok"] else "yellow")
    elif "reply" in v:
        echo(f"chat reply: {v['reply'][:120]!r}")
    if not v.get("ok"):
        click.secho("verification: FAILED (the file does not match the model)", fg="red")
    elif chat and not chat["ok"]:
        click.secho("verification: the file matches the model, but the model does not chat properly yet "
                    "(more fine-tuning, or check the training data)", fg="yellow")
    else:
        click.secho("verification: OK", fg="green")

"""``taalkit chat``, ``taalkit translate``, ``taalkit eval``: the runtime verbs, llama.cpp only.

They import kit.infer inside the commands, so ``taalkit --help`` stays fast, and nothing here
touches torch: these verbs work on a laptop where only llama-cpp-python is installed.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Optional

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option


def _model_for(ws, model: Optional[Path]) -> Path:
    """--model, else the current model's newest export, else the embedded SmolLM2 (said out loud)."""
    from .current import runtime_gguf

    return runtime_gguf(ws, model)


class _StopOnCtrlC:
    """While active, Ctrl-C sets a flag the token loop checks, instead of interrupting llama.cpp."""

    def __init__(self, on_stop) -> None:
        self.on_stop = on_stop
        self.previous = None

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, lambda *_: self.on_stop())
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)
        return False


@main.command("chat")
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="GGUF file (default: the current model's newest export; see 'taalkit use').")
@click.option("--system", "system_text", default=None, help="System prompt text for this chat.")
@click.option("--prompt", "prompt_name", default=None, help="Use a saved system prompt by name.")
@click.option("--save-prompt", default=None, metavar="NAME", help="Save --system under NAME for later.")
@click.option("--n-ctx", type=int, default=2048, show_default=True, help="Context length in tokens.")
@click.option("--threads", type=int, default=None, help="CPU threads (default: physical cores).")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--max-tokens", type=int, default=512, show_default=True, help="Longest reply in tokens.")
@workspace_option
@click.pass_context
def chat_cmd(ctx, model, system_text, prompt_name, save_prompt, n_ctx, threads, temperature, max_tokens,
             workspace) -> None:
    """Chat with the model in the terminal. Ctrl-C stops a reply (kept); Ctrl-D or /quit leaves.

    In the chat: /new starts over, /export FILE.md|FILE.json saves the conversation.
    """
    from ..errors import TaalkitError, WorkspaceError
    from ..infer import conversations as store
    from ..infer.chat import ChatSession

    try:
        ws = open_workspace(ctx)
    except WorkspaceError:
        if model is None:
            raise
        ws = None  # a bare GGUF can be chatted with; nothing is saved
    if prompt_name:
        if ws is None:
            raise TaalkitError("--prompt needs a workspace (saved prompts live there)")
        system_text = store.get_system_prompt(ws, prompt_name)
    if save_prompt:
        if ws is None or not system_text:
            raise TaalkitError("--save-prompt needs a workspace and --system TEXT")
        store.save_system_prompt(ws, save_prompt, system_text)
    path = _model_for(ws, model)
    session = ChatSession.open(path, ws=ws, n_ctx=n_ctx, n_threads=threads, system_prompt=system_text,
                               temperature=temperature, max_tokens=max_tokens)
    click.secho(f"chatting with {path.name} (context {n_ctx} tokens). Ctrl-C stops a reply, Ctrl-D leaves.",
                dim=True, err=True)
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            click.echo(err=True)
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/new":
            session.reset()
            click.secho("(new conversation)", dim=True, err=True)
            continue
        if text.startswith("/export"):
            target = text[len("/export"):].strip()
            if ws is None or session.conversation_id is None or not target:
                click.secho("usage: /export FILE.md|FILE.json (after at least one message, in a workspace)",
                            fg="yellow", err=True)
            else:
                try:
                    store.export_conversation(ws, session.conversation_id, target)
                except TaalkitError as err:  # a typo in the file name must not end the chat
                    click.secho(f"not saved: {err}", fg="yellow", err=True)
                else:
                    click.secho(f"saved {target}", dim=True, err=True)
            continue
        reply = session.send(text)
        if reply.notice:
            click.secho(f"({reply.notice})", fg="yellow", err=True)
        sys.stdout.write("model> ")
        sys.stdout.flush()
        with _StopOnCtrlC(reply.stop):
            for piece in reply:
                sys.stdout.write(piece)
                sys.stdout.flush()
        sys.stdout.write("\n")
        stats = reply.stats
        status = "stopped" if reply.stopped else f"{stats.tokens} tokens"
        click.secho(f"[{status}, {reply.tokens_per_s:.1f} tokens/s]", dim=True, err=True)


@main.command("translate")
@click.argument("text", nargs=-1)
@click.option("--to", "to", default=None, help="Language to translate into (default: the workspace's target).")
@click.option("--file", "in_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Translate a file: plain lines, or a TSV's first column.")
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Output for --file (appended to: a stopped run resumes).")
@click.option("--no-glossary", is_flag=True, help="Leave the dictionary out of the prompt.")
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="GGUF file (default: the current model's newest export; see 'taalkit use').")
@workspace_option
@click.pass_context
def translate_cmd(ctx, text, to, in_path, out_path, no_glossary, model, workspace) -> None:
    """Translate TEXT (or --file IN --out OUT) with the model and the workspace dictionary.

    Each TEXT argument is one segment, translated on its own and printed on its own line: quote a
    sentence to keep it together ('taalkit translate "Open the file" "Save it"' is two segments).
    """
    from ..errors import Cancelled, TaalkitError
    from ..infer.translate import Translator, translate, translate_file
    from ..progress import CancelToken

    from ..infer.translate import direction, read_source_lines

    ws = open_workspace(ctx)
    to = to or ws.target_lang
    direction(ws, to)  # a wrong --to fails before the model is loaded
    if in_path is not None:
        if text:
            raise TaalkitError("give either TEXT or --file, not both")
        if out_path is None:
            raise TaalkitError("--file needs --out OUT (where the translations go)")
        read_source_lines(in_path)  # likewise a missing or non-UTF-8 input file
        translator = Translator(ws, model_path=_model_for(ws, model))
        cancel = CancelToken()

        def stop():
            cancel.cancel()
            click.echo("\nstopping after this line…", err=True)

        try:
            with _StopOnCtrlC(stop):
                result = translate_file(ws, in_path, out_path, to=to, glossary=not no_glossary,
                                        progress=ProgressPrinter(), cancel=cancel, translator=translator)
        except Cancelled:
            click.echo(f"stopped; {out_path} keeps the lines done so far: run the same command to continue",
                       err=True)
            ctx.exit(130)
        resumed = f" (resumed at line {result['resumed_from'] + 1})" if result["resumed_from"] else ""
        click.echo(f"translated {result['translated']} of {result['total']} lines into {out_path}{resumed}",
                   err=True)
        return
    if not text:
        raise TaalkitError("nothing to translate: give TEXT or --file IN --out OUT")
    translator = Translator(ws, model_path=_model_for(ws, model))
    for segment in text:
        if not segment.strip():
            click.echo("")
            continue
        result = translate(ws, segment, to=to, glossary=not no_glossary, translator=translator)
        click.echo(result.text)
        _report_segment(result, segment if len(text) > 1 else None, no_glossary)


def _report_segment(result, label: Optional[str], no_glossary: bool) -> None:
    """What one segment's translation used, on stderr (stdout keeps one line per segment)."""
    lead = f"[{label[:40]}] " if label else ""
    if not result.text:
        click.secho(f"{lead}note: the model gave no translation (an adapted model needs 'taalkit finetune' "
                    "before it translates)", fg="yellow", err=True)
    if result.glossary_entries:
        click.secho(f"{lead}dictionary: " + "; ".join(e.line() for e in result.glossary_entries), dim=True, err=True)
    elif not no_glossary:
        click.secho(f"{lead}dictionary: no entries for these words", dim=True, err=True)
    for match in result.matches:
        click.secho(f"{lead}similar sentence ({match.similarity:.0%} alike): {match.source} = {match.target}",
                    dim=True, err=True)
    for note in result.notes:
        click.secho(f"{lead}note: {note}", fg="yellow", err=True)
    click.secho(f"{lead}[{result.source_lang}→{result.target_lang}, {result.tokens_per_s:.1f} tokens/s]",
                dim=True, err=True)


@main.command("eval")
@click.option("--test", "test_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Held-out TSV 'source<TAB>target' (default: the shipped test set for this language).")
@click.option("--limit", type=int, default=None, help="Only the first N pairs (quicker).")
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The adapted GGUF (default: the current model's newest export; see 'taalkit use').")
@click.option("--system", "systems", multiple=True,
              type=click.Choice(["adapted", "adapted+glossary", "source", "source+glossary", "wordbyword", "memory"]),
              help="Only these systems (repeatable; default: all six).")
@click.option("--direction", "directions", multiple=True, metavar="SRC->TGT",
              help="Only this direction, in the workspace's language codes, e.g. en->cy (repeatable; "
                   "default: both).")
@click.option("--bpc/--no-bpc", "bpc", default=True, show_default=True,
              help="Also measure held-out bits per char of the target language per model.")
@click.option("--parallel", type=click.IntRange(1, 64), default=None,
              help="Lines llama.cpp decodes together (default 8; 1 = one at a time).")
@workspace_option
@click.pass_context
def eval_cmd(ctx, test_file, limit, model, systems, directions, bpc, parallel, workspace) -> None:
    """chrF / chrF++ of the adapted model ± glossary, the source model ± glossary, word-by-word and memory.

    'adapted' is the current model's newest export (see 'taalkit use'); 'source' is the unadapted
    SmolLM2-135M-Instruct as the Q4_1 GGUF embedded in taalkit.
    """
    from ..errors import TaalkitError
    from ..evaluate import DIRECTIONS, PARALLEL, SYSTEM_TABLE, SYSTEMS, _resolve_direction, evaluate, read_test_pairs

    ws = open_workspace(ctx)
    from ..shipped import test_file as shipped_test_file

    test_file = test_file or shipped_test_file(ws.source_lang, ws.target_lang)
    if test_file is None:
        raise TaalkitError("no test set: pass --test FILE.tsv (source<TAB>target per line)")
    directions = directions or DIRECTIONS
    for d in directions:
        _resolve_direction(ws, d)  # a wrong direction fails before anything loads
    systems = systems or SYSTEMS
    parallel = parallel or PARALLEL
    n = len(read_test_pairs(test_file, limit))
    model_systems = [s for s in systems if SYSTEM_TABLE[s].model]
    adapted = _model_for(ws, model) if any(s.startswith("adapted") for s in systems) and (
        model is not None or ws.current_export() is not None) else None
    click.echo(f"eval: {n} pairs × {len(directions)} direction(s) × {len(systems)} system(s): "
               f"{n * len(directions) * len(model_systems)} model translations, {parallel} at a time "
               "(an estimate follows the first batch)", err=True)
    printer = ProgressPrinter()

    def on_progress(event) -> None:
        estimate = event.metrics.get("estimate_s")
        if estimate is not None:
            click.echo(f"estimated time for the model translations: about {_minutes(estimate)} "
                       f"(measured on the first {parallel} lines)", err=True)
        printer(event)

    results = evaluate(ws, test_file, model_path=adapted, systems=systems, directions=directions, limit=limit,
                       bits_per_char=bpc, parallel=parallel, progress=on_progress)
    click.echo(format_table(results))


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def format_table(results: list[dict]) -> str:
    """One row per system, chrF and chrF++ per direction; skipped systems say why."""
    bpc_rows = [r for r in results if "bits_per_char" in r]
    results = [r for r in results if "bits_per_char" not in r]
    dirs = list(dict.fromkeys(r["direction"] for r in results))
    systems = list(dict.fromkeys(r["system"] for r in results))
    by = {(r["system"], r["direction"]): r for r in results}
    header = f"{'system':<18}" + "".join(f"{d + ' chrF':>14}{'chrF++':>9}" for d in dirs) + "  model"
    lines = [header, "-" * len(header)]
    for system in systems:
        cells, model, why = [], "", ""
        for d in dirs:
            r = by.get((system, d))
            if r is None or r.get("skipped"):
                why = r.get("skipped", "") if r else ""
                cells.append(f"{'—':>14}{'—':>9}")
            else:
                model = r["model"] if r["model"] in ("dictionary", "translation memory") else Path(r["model"]).name
                cells.append(f"{r['chrf']:>14.2f}{r['chrf_pp']:>9.2f}")
        lines.append(f"{system:<18}" + "".join(cells) + f"  {model or why}")
    for r in bpc_rows:
        lines.append(f"held-out bits per char of the {r['direction']} side, {r['system']} model: "
                     f"{r['bits_per_char']:.3f}  ({Path(r['model']).name}, lower is better)")
    n = results[0]["n"] if results else 0
    if any(r["system"].startswith("source") and not r.get("skipped") for r in results):
        lines.append("source = the unadapted SmolLM2-135M-Instruct, the Q4_1 GGUF embedded in taalkit "
                     "(the file 'model add default' dequantizes)")
    lines.append(f"({n} sentence pairs per direction; scores stored in the workspace's evaluations table)")
    return "\n".join(lines)

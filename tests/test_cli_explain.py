"""Issue 18, point 4: ``transtokenize explain WORD`` shows the spaced form first, then the piece
inside words, each with an example that contains the word. Real transtokenize on tiny real models."""

from __future__ import annotations

from click.testing import CliRunner

from conftest import TINY_ENGLISH, build_tiny_llama, train_tiny_bpe
from kit.cli import main

# "ffenestr" both as a word of its own (after a space) and at the start of a line, so the target
# vocabulary holds ' ffenestr' and 'ffenestr'; the first parallel pair holding either is about
# something else ("cathod ffenestri"), the kind of example the stored one can be.
WELSH = ["ffenestr ar gau.", "Mae'r ffenestr ar gau.", "Mae ci yn y parc.", "Agorwch y ffeil.",
         "ffenestr a drws.", "Mae'r ffenestr yn fawr."] * 8
PAIRS = [("The window is closed.", "Mae'r ffenestr ar gau."), ("A window and a door.", "ffenestr a drws."),
         ("The dog is in the park.", "Mae ci yn y parc."), ("Open the file.", "Agorwch y ffeil.")]


def test_explain_shows_both_forms_spaced_first_with_real_examples(workspace, tmp_path):
    ws = workspace
    src_tok = train_tiny_bpe(TINY_ENGLISH, vocab_size=420, out_dir=tmp_path / "src_tok")
    src = build_tiny_llama(tmp_path / "src", src_tok, seed=3)
    tgt = tmp_path / "tgt"
    tok = train_tiny_bpe(WELSH, vocab_size=300, out_dir=tgt)
    assert len(tok.tokenize(" ffenestr")) == 1 and len(tok.tokenize("ffenestr")) == 1
    ws.db["models"].insert({"name": "source", "role": "source", "path": str(src)})
    ws.db["tokenizers"].insert({"name": "cy-bpe", "path": str(tgt), "vocab_size": 300})
    cid = ws.db["corpora"].insert({"name": "p", "kind": "parallel"}).last_pk
    ws.db["segments"].insert_all([{"corpus_id": cid, "kind": "parallel", "source_text": s, "target_text": t,
                                   "split": "train", "line": i} for i, (s, t) in enumerate(PAIRS * 5)])
    runner = CliRunner()
    res = runner.invoke(main, ["-w", str(ws.root), "transtokenize"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["-w", str(ws.root), "transtokenize", "explain", "ffenestr"])
    assert res.exit_code == 0, res.output
    out = res.output
    spaced, inside = out.find("= ' ffenestr' (a word of its own"), out.find("= 'ffenestr' (inside a word")
    assert 0 <= spaced < inside, out  # both, the spaced one first
    for line in out.splitlines():
        if "parallel: segment" in line:
            assert "ffenestr" in line.split("⇄")[1], line  # every example shows the word


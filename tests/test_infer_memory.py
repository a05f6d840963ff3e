"""Translation memory: the workspace's parallel text as examples in the request and as a fallback."""

from __future__ import annotations

import pytest

from kit.infer.memory import FALLBACK_SIMILARITY, TranslationMemory, memory_lines, workspace_memory
from kit.infer.translate import Translator
from kit.infer.wordbyword import prompt_recipe, record_prompt

PAIRS = [
    ("Unable to load settings module", "Methu llwytho modiwl gosodiadau"),
    ("Unable to load the address book", "Methu llwytho'r llyfr cyfeiriadau"),
    ("Delete this message", "Dileu'r neges hon"),
    ("Open the file", "Agor y ffeil"),
    ("Notification settings", "Gosodiadau hysbysiadau"),
]


def test_the_closest_pair_comes_first_and_a_text_is_never_its_own_example():
    memory = TranslationMemory(PAIRS)
    best = memory.similar("Unable to load the settings module", 2)
    assert [m.target for m in best] == ["Methu llwytho modiwl gosodiadau", "Methu llwytho'r llyfr cyfeiriadau"]
    assert 0 < best[1].similarity < best[0].similarity <= 1
    # Exact text: similarity 1, unless excluded (a training pair must not show itself).
    assert memory.similar("Open the file", 1)[0].similarity == pytest.approx(1.0)
    assert all(m.source != "Open the file" for m in memory.similar("Open the file", 3, exclude="open  the file"))
    assert memory.similar("zzzz qqqq", 2) == []  # nothing alike: no examples rather than noise
    assert memory_lines(best[:1]) == "Similar: Unable to load settings module = Methu llwytho modiwl gosodiadau"


def test_workspace_memory_searches_either_side_of_the_training_pairs_only(workspace):
    workspace.db["segments"].insert_all([
        {"kind": "parallel", "source_text": s, "target_text": t, "split": "train"} for s, t in PAIRS
    ] + [{"kind": "parallel", "source_text": "Secret held-out line", "target_text": "Llinell gudd", "split": "heldout"}])
    forward = workspace_memory(workspace, "en", "cy")
    backward = workspace_memory(workspace, "cy", "en")
    assert forward.similar("Delete the message", 1)[0].target == "Dileu'r neges hon"
    assert backward.similar("Dileu neges", 1)[0].target == "Delete this message"
    assert all("held-out" not in m.source for m in forward.similar("Secret held-out line", 5))


@pytest.fixture
def llm(smollm2_llm):
    return smollm2_llm


@pytest.fixture
def ws(workspace, add_dictionary):
    add_dictionary(workspace, [(w, t, "en", "cy") for w, t in (
        ("open", "agor"), ("file", "ffeil"), ("unable", "analluog"), ("settings", "gosodiadau"))])
    workspace.db["segments"].insert_all([
        {"kind": "parallel", "source_text": s, "target_text": t, "split": "train"} for s, t in PAIRS])
    return workspace


def test_the_request_shows_the_similar_pairs_as_the_fine_tune_recorded(ws, llm):
    assert prompt_recipe(ws) == {"draft": True, "memory": 0}  # nothing recorded: the defaults (none shown)
    none = Translator(ws, llm=llm).translate("Unable to load settings", to="cy", glossary=False, max_tokens=4)
    assert "Similar:" not in none.prompt and none.examples == []
    record_prompt(ws, draft=True, memory=2)  # a model fine-tuned with two pairs per request is asked so
    assert prompt_recipe(ws) == {"draft": True, "memory": 2}
    result = Translator(ws, llm=llm).translate("Unable to load settings", to="cy", glossary=False, max_tokens=4)
    assert ("Translate to Welsh: Unable to load settings\n"
            "Similar: Unable to load settings module = Methu llwytho modiwl gosodiadau\n"
            "Similar: Unable to load the address book = Methu llwytho'r llyfr cyfeiriadau\n"
            "Word by word: Analluog to load gosodiadau<|im_end|>") in result.prompt
    assert [m.target for m in result.examples][:1] == ["Methu llwytho modiwl gosodiadau"]
    record_prompt(ws, draft=True)  # a model fine-tuned without (or before) the memory is asked without it
    assert prompt_recipe(ws) == {"draft": True, "memory": 0}
    plain = Translator(ws, llm=llm).translate("Unable to load settings", to="cy", glossary=False, max_tokens=4)
    assert "Similar:" not in plain.prompt and plain.examples == []


def test_a_failed_answer_falls_back_to_a_close_pair_before_the_draft(ws, llm):
    translator = Translator(ws, llm=llm, consensus=False)  # the fallback alone
    text = "Unable to load the settings module"  # close to a pair
    assert translator.memory_for("en", "cy").similar(text, 1)[0].similarity >= FALLBACK_SIMILARITY
    result = translator.translate(text, to="cy", glossary=False, max_tokens=1)  # one token: no translation
    assert result.fell_back and result.text == "Methu llwytho modiwl gosodiadau"
    assert "most similar sentence" in result.notes[-1]
    far = translator.translate("Open it, then open it again and again", to="cy", glossary=False, max_tokens=1)
    assert far.fell_back and far.text == far.draft  # nothing close enough: the dictionary's draft
    off = Translator(ws, llm=llm, memory_fallback=False, consensus=False).translate(text, to="cy", glossary=False,
                                                                                    max_tokens=1)
    assert off.fell_back and off.text == off.draft


def test_training_requests_show_other_pairs_never_their_own(ws):
    from kit.finetune.data import example_maker, translation_prompts

    examples = example_maker(ws, PAIRS, 1)

    class Plain:  # no chat template: the plain instruction line kit.finetune writes for base models
        chat_template = None

    prompts = translation_prompts(Plain(), PAIRS[:1], "en", "cy", examples=examples)
    assert prompts[0] == ("Translate to Welsh: Unable to load settings module\n"
                          "Similar: Unable to load the address book = Methu llwytho'r llyfr cyfeiriadau\n"
                          "Methu llwytho modiwl gosodiadau")
    assert prompts[1].startswith("Translate to English: Methu llwytho modiwl gosodiadau\n"
                                 "Similar: Methu llwytho'r llyfr cyfeiriadau = Unable to load the address book\n")


def test_consensus_takes_the_candidate_the_others_agree_with():
    from kit.infer.consensus import consensus

    draft = "Methu llwytho the gosodiadau modiwl"
    memory = ["Methu llwytho modiwl gosodiadau", "Methu llwytho'r llyfr cyfeiriadau"]
    # The draft shares most with both memory matches; the odd answer out is never taken.
    assert consensus(["Recipient Recipient", draft] + memory) == 1
    assert consensus(["Methu llwytho modiwl gosodiadau", "Methu llwytho modiwl", "Llwytho gosodiadau", "Ffeil"]) == 0
    assert consensus(["", "", "Agor"]) == 2 and consensus(["", ""]) == 0  # empty answers never chosen
    assert consensus(["Agor y ffeil"]) == 0


def test_the_consensus_lever_replaces_a_poor_answer_and_says_so(ws, llm):
    translator = Translator(ws, llm=llm, consensus=True, fallback=False)
    result = translator.translate("Unable to load the settings module", to="cy", glossary=False, max_tokens=3)
    assert result.chosen == "memory" and result.text == "Methu llwytho modiwl gosodiadau"
    assert "agreed best" in result.notes[-1]
    plain = Translator(ws, llm=llm, consensus=False, fallback=False).translate(
        "Unable to load the settings module", to="cy", glossary=False, max_tokens=3)
    assert plain.chosen == "model" and plain.text == plain.raw
    ws.db["segments"].delete_where()  # no memory: answer and draft alone cannot outvote each other
    alone = Translator(ws, llm=llm, consensus=True, fallback=False).translate(
        "Unable to load the settings module", to="cy", glossary=False, max_tokens=3)
    assert alone.chosen == "model" and alone.text == alone.raw


def test_a_close_training_sentence_leaves_the_models_answer_out_of_the_consensus(ws, llm):
    """Where the memory has a close sentence, an answer that merely sides with the draft cannot win."""
    from kit.infer.translate import MEMORY_TRUST

    text = "Unable to load the settings module"
    gated, always = Translator(ws, llm=llm, fallback=False), Translator(ws, llm=llm, fallback=False, memory_trust=2.0)
    plan, plan_always = gated.plan(text, to="cy", glossary=False), always.plan(text, to="cy", glossary=False)
    assert plan.matches[0].similarity >= MEMORY_TRUST and plan.answer_left_out and not plan_always.answer_left_out
    echo = plan.draft + " ."  # an answer that agrees with the draft: with it in the pool, the two out-vote the rest
    assert always.finish(plan_always, echo).chosen == "model"
    result = gated.finish(plan, echo)
    assert result.chosen != "model" and result.raw == "" and "not asked" in result.notes[-1]
    far = gated.plan("Zebras quietly eat", to="cy", glossary=False)  # nothing in the memory is close
    assert not far.matches or far.matches[0].similarity < MEMORY_TRUST
    assert not far.answer_left_out and gated.finish(far, "Sebras").chosen == "model"


def test_an_answer_that_cannot_be_chosen_is_never_decoded(ws, llm):
    """One at a time and batched alike: the close text costs no decoding, the far one is decoded, and
    each gets what the consensus would have given had the model been asked."""
    from kit.infer.batch import BatchGenerator, translate_many

    close, far = "Unable to load the settings module", "Zebras quietly eat"
    gated = Translator(ws, llm=llm)
    one = gated.translate(close, to="cy", glossary=False)
    assert one.tokens == 0 and one.raw == "" and not one.fell_back
    assert one.text == gated.finish(gated.plan(close, to="cy", glossary=False), "anything at all").text
    assert gated.translate(far, to="cy", glossary=False, max_tokens=4).tokens > 0
    done = []
    with BatchGenerator(llm, n_seq=2, ctx_per_seq=512) as generator:
        results = translate_many(gated, [far, close, far], to="cy", glossary=False, generator=generator,
                                 on_done=done.append)
    assert sorted(done) == [0, 1, 2]
    assert results[1].text == one.text and results[1].raw == ""
    assert results[0].raw and results[0].raw == results[2].raw  # the decoded ones land at their own places

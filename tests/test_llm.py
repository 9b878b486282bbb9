"""`cotmix llm`: answer grading by hand-made cases, the mixture builder, and SFT -> GRPO -> eval end to
end on a tiny randomly initialised Llama and a tokenizer built here (offline, CPU)."""

import json
import math
import random
import shutil

import pytest

from cotmix.errors import CotmixError
from cotmix.llm import answers
from cotmix.llm.answers import LONG, MALFORMED, SHORT, classify, is_correct, normalize_math, normalize_number
from cotmix.llm.mixture import build_mixture, parse_row, prompt_for, read_jsonl

# ---- answers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("response, reference, kind, correct, shape", [
    (" She sold 48/2 = 24 clips in May, so 48 + 24 = 72 in all.\n#### 72", "72", "gsm8k", True, LONG),
    (" #### 72", "72", "gsm8k", True, SHORT),
    (" #### 71", "72", "gsm8k", False, SHORT),
    (" She sold 48 + 24 = 73 clips altogether in the two months.\n#### 73", "72", "gsm8k", False, LONG),
    (" She sold 72 clips.", "72", "gsm8k", False, MALFORMED),          # no marker: malformed, not rewarded
    (" ####", "72", "gsm8k", False, MALFORMED),                        # empty answer
    (" #### $1,234.00", "1234", "gsm8k", True, SHORT),                 # commas, dollars, trailing zeros
    (" #### 0.5", ".5", "gsm8k", True, SHORT),
    (" The roots sum to one half, as Vieta's formulas say, so $\\boxed{\\dfrac{1}{2}}$.", "\\frac12", "math",
     True, LONG),
    (" \\boxed{0.5}", "\\frac{1}{2}", "math", True, SHORT),
    (" \\boxed{x = 5}", "5", "math", True, SHORT),
    (" \\boxed{90^\\circ}", "90", "math", True, SHORT),
    (" \\boxed{\\frac{1}{3}", "\\frac{1}{3}", "math", False, MALFORMED),  # unbalanced: cut off
    (" \\boxed{3/4}", "\\frac{3}{4}", "math", True, SHORT),
    (" \\boxed{\\frac{2}{3}}", "\\frac{3}{4}", "math", False, SHORT),
])
def test_grading_on_hand_made_cases(response, reference, kind, correct, shape):
    assert is_correct(response, reference, kind) is correct
    assert answers.reward(response, reference, kind) == float(correct)
    assert classify(response) == shape


def test_long_needs_five_words_of_reasoning():
    assert classify(" so 72\n#### 72") == SHORT
    assert classify(" one two three four five\n#### 72") == LONG
    assert classify(" one two three four\n#### 72") == SHORT


def test_number_and_latex_normalisation():
    assert normalize_number("-3.50 dollars") == "-3.5"
    assert normalize_number("no number") is None
    assert normalize_math("\\left( 1, 2 \\right)") == "(1,2)"
    assert normalize_math("\\text{(B)}") == "(B)"
    assert normalize_math("10\\%") == "10"
    assert normalize_math("\\sqrt2") == "\\sqrt{2}"


# ---- mixture -------------------------------------------------------------------------------------

def gsm_rows(n: int) -> list[dict]:
    """GSM8K-format problems written for the tests: a + b with a worked solution."""
    rng = random.Random(1)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        rows.append({"question": f"Tom has {a} apples and buys {b} more. How many apples does Tom have?",
                     "answer": f"Tom starts with {a} apples and buys {b} more, so he has {a}+{b}=<<{a}+{b}={a + b}>>"
                               f"{a + b} apples.\n#### {a + b}", "template": i % 5})
    return rows


def test_parse_row_strips_calculator_notes_and_reads_math():
    row = parse_row(gsm_rows(1)[0])
    assert "<<" not in row["solution"] and row["solution"].endswith(f"#### {row['answer']}")
    assert is_correct(" " + row["solution"], row["answer"], "gsm8k") and classify(" " + row["solution"]) == LONG
    math_row = parse_row({"problem": "What is 1/2 + 1/4?", "solution": "Add: $\\boxed{\\frac{3}{4}}$."})
    assert math_row == {"question": "What is 1/2 + 1/4?", "solution": "Add: $\\boxed{\\frac{3}{4}}$.",
                        "answer": "\\frac{3}{4}", "format": "math"}
    with pytest.raises(CotmixError, match="unrecognised row"):
        parse_row({"text": "hello"})


def test_mixture_is_binomial_in_p_cot_and_seeded():
    n, p = 4000, 0.25
    train, evaluation = build_mixture(gsm_rows(n), p, seed=0, eval_size=0)
    long = sum(r["kind"] == "long" for r in train)
    assert abs(long - n * p) <= 4.5 * math.sqrt(n * p * (1 - p))  # 4.5 sigma: fails with prob ~1e-5
    assert build_mixture(gsm_rows(n), p, seed=0)[0] == train and build_mixture(gsm_rows(n), p, seed=1)[0] != train
    for r in train[:50]:  # every row's completion grades as its kind and as correct
        assert str(classify(r["completion"])) == r["kind"] and is_correct(r["completion"], r["answer"], "gsm8k")


def test_mixture_holds_out_whole_groups():
    train, evaluation = build_mixture(gsm_rows(50), 0.5, seed=0, eval_size=10, group_key="template")
    eval_prompts = {r["prompt"] for r in evaluation}
    assert len(evaluation) == 10 and len(train) == sum(prompt_for(r["question"]) not in eval_prompts for r in gsm_rows(50))
    train_groups = {gsm_rows(50)[r["id"]]["template"] for r in train}
    eval_groups = {gsm_rows(50)[r["id"]]["template"] for r in evaluation}
    assert not train_groups & eval_groups and "completion" not in evaluation[0]
    # A repeated question is one problem: with 40 rows of a + b (a, b in 2..40) some texts repeat,
    # and none of an eval question's repeats is trained on.
    rows = gsm_rows(40)
    train, evaluation = build_mixture(rows, 0.5, seed=0, eval_size=8)
    repeats = len(rows) - len({r["question"] for r in rows})
    assert repeats > 0 and not {r["prompt"] for r in train} & {r["prompt"] for r in evaluation}
    assert len(train) + len(evaluation) < len(rows)  # the fixture's eval set has a repeat in training
    with pytest.raises(CotmixError, match="eval_size=50"):
        build_mixture(gsm_rows(50), 0.5, eval_size=50)


# ---- SFT -> GRPO -> eval on a tiny model --------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A 2-layer Llama (hidden 32) and a byte-level BPE tokenizer trained on the fixture text, saved
    as a local model directory (the same path a hub model would load through)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [r["question"] + " " + r["answer"] for r in gsm_rows(200)] + ["Question: Answer: ####"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<eos>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", pad_token="<eos>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=256, eos_token_id=tokenizer.eos_token_id,
                                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None))
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_mixture(tmp_path_factory):
    from cotmix.cli import main

    root = tmp_path_factory.mktemp("mix")
    source = root / "gsm.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in gsm_rows(40)))
    assert main(["llm", "mixture", "--source", str(source), "--p-cot", "0.5", "--eval-size", "8",
                 "--out", str(root / "mixture")]) == 0
    return root / "mixture"


def test_llm_sft_grpo_eval_end_to_end(tiny_lm, tiny_mixture, tmp_path, capsys):
    from cotmix.cli import main

    assert json.loads((tiny_mixture / "mixture.json").read_text())["counts"]["eval"] == 8
    assert main(["llm", "sft", "--model", str(tiny_lm), "--data", str(tiny_mixture), "--out", str(tmp_path / "sft"),
                 "--steps", "3", "--batch-size", "4", "--lr", "1e-3"]) == 0
    sft_logs = read_jsonl(tmp_path / "sft" / "metrics.jsonl")
    assert [h["step"] for h in sft_logs if "loss" in h] == [1, 2, 3]
    assert all(math.isfinite(h["loss"]) for h in sft_logs if "loss" in h)
    heldout = json.loads((tmp_path / "sft" / "summary.json").read_text())["heldout"]
    assert heldout["overlap_count"] == 0 and heldout["eval_prompts"] == 8
    assert heldout["reserved_fraction"] == 8 / (8 + heldout["train_prompts"])

    assert main(["llm", "grpo", "--model", str(tmp_path / "sft" / "model"), "--data", str(tiny_mixture),
                 "--out", str(tmp_path / "grpo"), "--steps", "2", "--prompts-per-step", "2", "--group-size", "4",
                 "--max-completion-length", "16", "--lr", "1e-4"]) == 0
    grpo_logs = [h for h in read_jsonl(tmp_path / "grpo" / "metrics.jsonl") if "reward" in h]
    assert len(grpo_logs) == 2
    assert json.loads((tmp_path / "grpo" / "summary.json").read_text())["heldout"]["overlap_count"] == 0
    for h in grpo_logs:  # TRL's metric names, and our weight-0 long-fraction probe beside the reward
        assert 0.0 <= h["reward"] <= 1.0 and 0.0 <= h["rewards/is_long/mean"] <= 1.0
        assert 1 <= h["completions/mean_length"] <= 16

    capsys.readouterr()
    assert main(["llm", "eval", "--model", str(tmp_path / "grpo" / "model"), "--data", str(tiny_mixture),
                 "--k", "2", "--max-new-tokens", "12", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n_prompts"] == 8  # the core's vocabulary (cotmix.eval.metrics), intervals included
    lo, hi = metrics["greedy_accuracy_ci95"]
    assert lo <= metrics["greedy_accuracy"] <= hi
    assert metrics["long_fraction"] + metrics["short_fraction"] + metrics["malformed_fraction"] == pytest.approx(1.0)
    assert 0 <= metrics["pass@1"] <= metrics["pass@2"] <= 1 and metrics["pass@1"] == pytest.approx(metrics["sampled_accuracy"])
    assert 1 <= metrics["greedy_length_mean"] <= 12


def test_llm_experiment_holds_out_whole_templates_and_resumes(tiny_lm, tmp_path, capsys):
    """The whole experiment on the tiny model; its gsm.jsonl is written here, so the generation stage
    is skipped. Eval problems share no template with training, and a rerun redoes nothing."""
    from cotmix.cli import main

    out = tmp_path / "exp"
    out.mkdir()
    rows = gsm_rows(40)  # 5 templates x 8 problems
    (out / "gsm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["llm", "experiment", "--out", str(out), "--model", str(tiny_lm), "--eval-size", "8", "--k", "0",
            "--max-new-tokens", "8", "--sft-steps", "2", "--sft-batch-size", "4", "--grpo-steps", "1",
            "--group-size", "2"]
    assert main(argv) == 0
    train_templates = {rows[r["id"]]["template"] for r in read_jsonl(out / "mixture" / "train.jsonl")}
    eval_templates = {rows[r["id"]]["template"] for r in read_jsonl(out / "mixture" / "eval.jsonl")}
    assert len(eval_templates) == 1 and train_templates == set(range(5)) - eval_templates
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"base", "sft", "grpo", "sft_more", "heldout", "setting"}
    assert summary["heldout"]["overlap_count"] == 0
    assert all(summary[stage]["n_prompts"] == 8 for stage in ("base", "sft", "grpo", "sft_more"))
    # the control arm saw as many samples as GRPO generated: 1 step x 1 prompt x 2 completions, batch 4
    assert json.loads((out / "sft_more" / "args.json").read_text())["steps"] == 1

    capsys.readouterr()
    assert main(argv) == 0  # every stage's output is there: nothing is retrained
    assert capsys.readouterr().out.count("done already") == 9

    # Carried without its weights, part-done: the weights are trained again, and so are the
    # evaluations that read them (not kept from the old weights); base's stays.
    base_eval = (out / "eval_base.json").read_bytes()
    (out / "summary.json").unlink()
    for model in out.glob("*/model"):
        shutil.rmtree(model)
    stale = {name: (out / f"eval_{name}.json").stat().st_mtime_ns for name in ("sft", "grpo", "sft_more")}
    assert main(argv) == 0
    assert all((out / f"eval_{name}.json").stat().st_mtime_ns > t for name, t in stale.items())
    assert (out / "eval_base.json").read_bytes() == base_eval and (out / "summary.json").is_file()

    (out / "grpo" / "summary.json").unlink()  # as a stage trained before the held-out count left it
    assert main(argv) == 2
    assert "grpo/summary.json: missing" in capsys.readouterr().err


def test_llm_heldout_count_catches_a_leaked_eval_problem(tiny_mixture, tmp_path):
    from cotmix.llm.train import heldout_block

    train = [r["prompt"] for r in read_jsonl(tiny_mixture / "train.jsonl")]
    evaluation = [r["prompt"] for r in read_jsonl(tiny_mixture / "eval.jsonl")]
    assert heldout_block(train, tiny_mixture)["overlap_count"] == 0
    leaked = heldout_block(train + evaluation[3:5], tiny_mixture)  # two eval problems slipped into training
    assert leaked["overlap_count"] == 2 and leaked["eval_prompts"] == 8


def test_llm_refuses_bad_input_with_one_line(tiny_mixture, tmp_path, capsys):
    from cotmix.cli import main

    assert main(["llm", "eval", "--model", str(tmp_path), "--data", str(tiny_mixture)]) == 2
    assert "not a model directory" in capsys.readouterr().err
    assert main(["llm", "eval", "--model", str(tmp_path), "--data", str(tmp_path / "none")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["llm", "mixture", "--source", "x.jsonl", "--p-cot", "1.5", "--out", str(tmp_path / "m")]) == 2
    assert "--p-cot=1.5: must be in [0.0, 1.0]" in capsys.readouterr().err and not (tmp_path / "m").exists()


# ---- chained sums: the procedural source ----------------------------------------------------------

def test_chain_sums_are_distinct_worked_additions_that_the_mixture_reads_as_gsm8k():
    from cotmix.llm.answers import LONG, SHORT, classify, is_correct
    from cotmix.llm.chain_sum import build_chain_sums
    from cotmix.llm.mixture import build_mixture, parse_row

    rows = build_chain_sums(500, terms=4, digits=2, seed=3)
    assert len({r["question"] for r in rows}) == 500
    for r in rows:
        assert len(r["numbers"]) == 4 and all(10 <= n <= 99 for n in r["numbers"])
        *steps, final = r["answer"].split("\n")
        assert final == f"#### {sum(r['numbers'])}" and len(steps) == 3
        total = r["numbers"][0]
        for step, n in zip(steps, r["numbers"][1:]):  # each line is one right addition of the running sum
            assert step == f"{total} + {n} = {total + n}"
            total += n
        parsed = parse_row(r)
        assert parsed["format"] == "gsm8k" and parsed["answer"] == str(sum(r["numbers"]))
        assert classify(" " + parsed["solution"]) == LONG and is_correct(" " + parsed["solution"], parsed["answer"], "gsm8k")
    assert classify(" #### 12") == SHORT
    train, evaluation = build_mixture(rows, 0.25, 0, 100)
    assert len(evaluation) == 100 and len(train) == 400
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in evaluation}
    assert build_chain_sums(50, seed=3) == rows[:50]  # same seed, same problems
    with pytest.raises(CotmixError, match="at most 50 distinct problems"):
        build_chain_sums(51, terms=2, digits=1)


def test_grpo_measures_split_the_reward_by_mode_without_optimising_them():
    from cotmix.llm.train import correct_answer, is_long, long_correct, short_correct

    completions = [" 12 + 30 = 42\n42 + 5 = 47\n#### 47", " 12 + 30 = 42\n42 + 5 = 48\n#### 48", " #### 47",
                   " #### 46", " no answer"]
    answer, fmt = ["47"] * 5, ["gsm8k"] * 5
    assert correct_answer(completions, answer, fmt) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert is_long(completions) == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert long_correct(completions, answer, fmt) == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert short_correct(completions, answer, fmt) == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_llm_experiment_on_chain_sums_without_the_control_arm(tiny_lm, tmp_path):
    from cotmix.cli import main

    out = tmp_path / "sums"
    argv = ["llm", "experiment", "--out", str(out), "--model", str(tiny_lm), "--source", "chain-sum",
            "--problems", "40", "--terms", "3", "--eval-size", "8", "--k", "0", "--max-new-tokens", "8",
            "--sft-steps", "1", "--sft-batch-size", "4", "--grpo-steps", "1", "--group-size", "2", "--no-sft-more"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"base", "sft", "grpo", "heldout", "setting"} and summary["setting"]["source"] == "chain-sum"
    assert summary["heldout"]["overlap_count"] == 0 and summary["sft"]["n_prompts"] == 8
    assert len(read_jsonl(out / "chain_sum.jsonl")) == 40
    assert main(argv[:-1] + ["--source", "gsm-symbolic"]) == 2  # another source in the same --out is refused


# ---- the LLM study: verdict from fixed criteria, table and figure, redrawn by `cotmix report` -------

def _stage(accuracy, long_fraction, long_accuracy=0.9, short_accuracy=0.1, n=400):
    def f(x):
        return {"_ci95": [max(0.0, x - 0.05), min(1.0, x + 0.05)]}
    metrics = {"n_prompts": n}
    for key, value in (("greedy_accuracy", accuracy), ("long_fraction", long_fraction),
                       ("long_accuracy", long_accuracy), ("short_accuracy", short_accuracy)):
        metrics |= {key: value, f"{key}_ci95": f(value)["_ci95"]}
    return metrics


def test_llm_study_verdict_follows_its_criteria_and_premise():
    from cotmix.llm.study import premise, verdict

    won = {"sft": _stage(0.2, 0.25), "sft_more": _stage(0.2, 0.25), "grpo": _stage(0.9, 0.9)}
    lost = {"sft": _stage(0.2, 0.25), "sft_more": _stage(0.22, 0.25), "grpo": _stage(0.25, 0.3)}
    no_premise = {"sft": _stage(0.2, 0.25, long_accuracy=0.3), "sft_more": _stage(0.2, 0.25), "grpo": _stage(0.9, 0.9)}
    assert premise(won) and not premise(no_premise)
    assert verdict([won, won])[0] == "met"
    # each count carries its Clopper-Pearson interval: 1 of 2 is [0.013, 0.987], 2 of 2 [0.158, 1]
    assert verdict([won, lost])[0] == "mixed" and "RL beats as much more SFT: 1 of 2 [0.01, 0.99]" in verdict([won, lost])[1]
    assert "RL beats as much more SFT: 2 of 2 [0.16, 1.00]" in verdict([won, won])[1]
    assert verdict([lost])[0] == "not met"
    word, lines = verdict([no_premise, won])  # a run without the premise is not counted for or against
    assert word == "met" and lines[0].endswith("1 of 2 [0.01, 0.99] runs")
    assert verdict([no_premise])[0] == "untestable"


def test_published_llm_study_gets_an_index_row_with_its_computed_verdict(tmp_path):
    """`cotmix publish --index` lists an LLM study beside the sweeps: its verdict is verdict()'s over
    the committed runs, and the count of done runs is against the p_cots x seeds it asked for."""
    from cotmix.experiments.index import write_index

    study = tmp_path / "llm-x"
    won = {"base": _stage(0.0, 0.0), "sft": _stage(0.2, 0.25), "sft_more": _stage(0.2, 0.25), "grpo": _stage(0.9, 0.9)}
    lost = won | {"grpo": _stage(0.22, 0.3)}
    for name, p_cot, seed, stages in (("p0.1-seed0", 0.1, 0, won), ("p0.1-seed1", 0.1, 1, lost)):
        (study / name).mkdir(parents=True)
        (study / name / "summary.json").write_text(json.dumps(
            stages | {"setting": {"p_cot": p_cot, "seed": seed}, "heldout": {"overlap_count": 0}}))
    (study / "llm_study.json").write_text(json.dumps({"p_cots": [0.1], "seeds": 3}))
    rows = [line for line in write_index(tmp_path)[0].read_text().splitlines() if line.startswith("| [llm-x]")]
    assert len(rows) == 1 and "**mixed**" in rows[0] and "RL beats as much more SFT: 1 of 2" in rows[0]
    assert "2 of 3 done" in rows[0]


def test_llm_study_runs_each_arm_and_seed_and_report_redraws_it(tiny_lm, tmp_path, capsys):
    import pandas as pd

    from cotmix.cli import main

    out = tmp_path / "study"
    argv = ["llm", "study", "--out", str(out), "--model", str(tiny_lm), "--source", "chain-sum", "--problems", "40",
            "--terms", "3", "--eval-size", "8", "--k", "2", "--max-new-tokens", "8", "--sft-steps", "1",
            "--sft-batch-size", "4", "--grpo-steps", "2", "--group-size", "2", "--p-cots", "0.2,0.8", "--seeds", "1"]
    assert main(argv) == 0
    table = pd.read_parquet(out / "results.parquet")
    assert sorted(table["name"]) == ["p0.2-seed0", "p0.8-seed0"] and (table["overlap_count"] == 0).all()
    assert {"grpo/greedy_accuracy_lo", "sft_more/long_fraction", "sft/short_accuracy"} <= set(table.columns)
    curves = pd.read_parquet(out / "curves.parquet")
    assert sorted(curves.groupby("name")["step"].max()) == [2, 2]  # GRPO's log, per step and run
    assert "rewards/long_correct/mean" in curves.columns
    report = (out / "report.md").read_text()
    assert "**Verdict: " in report and "premise" in report and (out / "report.png").stat().st_size > 0

    (out / "report.md").unlink()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0 and (out / "report.md").read_text() == report
    for model in out.glob("*/*/model"):  # what a session saves: the small files, no weights
        shutil.rmtree(model)
    assert main(argv) == 0 and not list(out.glob("*/*/model"))  # finished runs are not retrained
    assert (out / "report.md").read_text() == report
    trained = {p: p.stat().st_mtime_ns for p in out.glob("*/summary.json")}
    assert main(argv[:-1] + ["2"]) == 0  # one more seed: only its experiments run
    assert sorted(pd.read_parquet(out / "results.parquet")["name"]) == ["p0.2-seed0", "p0.2-seed1", "p0.8-seed0",
                                                                        "p0.8-seed1"]
    assert all(p.stat().st_mtime_ns == t for p, t in trained.items())
    assert json.loads((out / "llm_study.json").read_text())["seeds"] == 2
    assert main(argv + ["--sft-steps", "2"]) == 2  # a changed setting in the same --out is refused
    assert "other settings (sft_steps)" in capsys.readouterr().err
    assert main(argv + ["--p-cot", "0.5"]) == 2  # a study sets p_cot per run


def test_gpu_llm_script_packs_a_study_without_weights(tiny_lm, tmp_path):
    """scripts/gpu_llm.sh, here on the CPU at a tiny size: the study runs under its deadline and
    OUT/llm.tar.gz holds its results and logs but no model weights."""
    import os
    import subprocess
    import sys
    import tarfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    tiny = ["--model", str(tiny_lm), "--problems", "40", "--terms", "3", "--eval-size", "8", "--k", "0",
            "--max-new-tokens", "8", "--sft-steps", "1", "--sft-batch-size", "4", "--grpo-steps", "1",
            "--prompts-per-step", "1", "--group-size", "2", "--p-cots", "0.5", "--seeds", "1"]
    env = os.environ | {"PY": sys.executable, "DEADLINE": "240"}
    done = subprocess.run(["bash", "scripts/gpu_llm.sh", str(tmp_path / "work"), str(tmp_path / "out"), *tiny],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with tarfile.open(tmp_path / "out" / "llm.tar.gz") as tar:
        names = tar.getnames()
    assert "llm-chainsum-gpu/p0.5-seed0/summary.json" in names and "llm-chainsum-gpu/report.md" in names
    assert not [n for n in names if "/model/" in n or n.endswith("/model") or "checkpoints" in n]

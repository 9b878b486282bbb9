"""`cotmix eval`, `cotmix sample`, `cotmix plot` and `cotmix config`: looking at checkpoints, runs and configs.

    cotmix eval      --checkpoint PATH [eval.key=value ...] [--pass-k] [--json]
    cotmix sample    --checkpoint PATH [-n 8] [--temperature 1.0] [--seed 0]
    cotmix plot      RUN_DIR [RUN_DIR ...] [--out FILE.png]   (several: one comparison figure)
    cotmix config    [--preset NAME] [key=value ...]   (every key, its value and its help)
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from cotmix.api import arm_phases
from cotmix.cli.common import add_arm_arg, add_config_args, print_metrics
from cotmix.config import MAX_SEED, MIN_TEMPERATURE, Config, load_config
from cotmix.errors import CotmixError
from cotmix.options import describe_fields
from cotmix.registry import TASKS


def cmd_eval(args) -> int:
    from cotmix import api
    from cotmix.train.checkpoint import resolve_checkpoint

    metrics = api.evaluate(args.checkpoint, args.overrides, pass_k=args.pass_k, arm=args.arm)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics, f"{resolve_checkpoint(args.checkpoint, arm_phases(args.arm))} on {metrics['n_prompts']} test prompts")
    return 0


MAX_SAMPLES = 100_000


def cmd_sample(args) -> int:
    import torch

    from cotmix.api import prepare
    from cotmix.loops.posttrain import posttrain_config
    from cotmix.model.device import model_device, place
    from cotmix.model.sampler import generate
    from cotmix.model.transformer import build_model
    from cotmix.tasks import Kind
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    overrides = runtime_overrides(args.overrides)
    if not 1 <= args.n <= MAX_SAMPLES:
        raise CotmixError(f"-n {args.n}: must be in [1, {MAX_SAMPLES:,}] (each sample is printed)")
    if not (args.temperature == 0 or MIN_TEMPERATURE <= args.temperature <= 10):
        raise CotmixError(f"--temperature {args.temperature}: must be 0 (greedy) or in [{MIN_TEMPERATURE}, 10]")
    if not 0 <= args.seed <= MAX_SEED:
        raise CotmixError(f"--seed {args.seed}: must be in [0, {MAX_SEED}]")
    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint, arm_phases(args.arm)))
    cfg = posttrain_config(ckpt.config, overrides)
    task = prepare(cfg)
    model = place(build_model(cfg.model, task), cfg)
    ckpt.load_model(model)
    gen = torch.Generator().manual_seed(args.seed)
    prompts = task.heldout_prompts(args.n, args.seed)  # never a training input
    out = generate(model, prompts.to(model_device(model)), max_new_tokens=task.long_response_len,
                   temperature=args.temperature, eos_id=task.eos_id, pad_id=task.pad_id, generator=gen)
    tokens = out.tokens.cpu()
    kinds = task.classify(prompts, tokens)
    correct = task.answer_correct(prompts, tokens)
    decoding = "greedy" if args.temperature == 0 else f"temperature {args.temperature}"
    print(f"{len(prompts)} samples on held-out prompts from {ckpt.path} ({decoding})")
    for i in range(len(prompts)):
        prompt_text, response_text = task.decode(prompts[i], tokens[i])
        verdict = "correct" if correct[i] else "wrong"
        print(f"{prompt_text} {response_text:<{task.long_response_len + 5}}  {str(Kind(int(kinds[i]))):<9} {verdict}")
    return 0


RUNTIME_KEYS = ("threads", "device", "precision")


def runtime_overrides(overrides: list[str]) -> list[str]:
    """`sample` changes where and how fast a model runs, never what it is: threads, device, precision."""
    for item in overrides:
        if item.partition("=")[0] not in RUNTIME_KEYS:
            raise CotmixError(f"{item!r}: sample takes only {', '.join(k + '=' for k in RUNTIME_KEYS)} "
                              "(the model's own config is fixed; eval takes eval.* too)")
    return overrides


def cmd_plot(args) -> int:
    from cotmix.experiments.report.run_figures import compare_runs, plot_run

    settings = [d for d in args.run_dirs if "=" in d and "/" not in d and not Path(d).exists()]
    if settings:  # a sweep's run folders have '=' in their names too: only a path that is not there is a setting
        raise CotmixError(f"cotmix plot takes no key=value settings (got {' '.join(settings)}); it draws from "
                          "metrics files")
    run_dirs = [Path(d) for d in args.run_dirs]
    for run_dir in run_dirs:
        if not any((run_dir / name).is_file() for name in ("metrics.jsonl", "metrics.jsonl.gz")):
            raise CotmixError(f"{run_dir}: not a run directory (no metrics.jsonl)")
    if len(run_dirs) == 1:
        print(plot_run(run_dirs[0], args.out))
    elif not args.out:
        raise CotmixError("plot with several runs draws one comparison: name its file with --out FILE.png")
    else:
        print(compare_runs(run_dirs, Path(args.out)))
    return 0


def cmd_config(args) -> int:
    cfg = load_config(args.preset, args.config, args.overrides)
    values = cfg.to_dict()
    value = lambda key: functools.reduce(lambda d, k: d[k], key.split("."), values)  # noqa: E731
    shared = [row for row in describe_fields(Config()) if row[0] != "task.options"]
    if args.markdown:  # docs/config.md is this: every key, then each built-in task's own settings
        print("| key | value | meaning |\n| --- | --- | --- |")
        for key, _, help_text in shared:
            print(f"| `{key}` | `{value(key)}` | {help_text.replace('|', '/')} |")
        for name in sorted(n for n in TASKS.names() if TASKS[n].__module__.startswith("cotmix.")):
            print(f"\n### task.name={name}\n\n| key | default | meaning |\n| --- | --- | --- |")
            for key, default, help_text in own_settings(name):
                print(f"| `{key}` | `{default}` | {help_text.replace('|', '/')} |")
        return 0
    for key, _, help_text in shared:
        print(f"{key:<28} {value(key)!s:<12} {help_text}")
    for key, _, help_text in own_settings(cfg.task.name):
        print(f"{key:<28} {value(key)!s:<12} {cfg.task.name}: {help_text}")
    return 0


def own_settings(task_name: str) -> list[tuple[str, object, str]]:
    """(task.KEY, default, help) of each setting the task declares (its Options dataclass)."""
    declared = getattr(TASKS[task_name], "Options", None)
    return describe_fields(declared(), "task.") if declared else []


def add_parsers(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint on held-out prompts")
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint directory, or run directory (its RL model if any, else its last NTP checkpoint)")
    add_arm_arg(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. eval.n_prompts=4096")
    p.add_argument("--pass-k", action="store_true", help="also compute pass@1,2,4,8")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("sample", help="print readable samples of a checkpoint on held-out prompts")
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint directory, or run directory (its RL model if any, else its last NTP checkpoint)")
    add_arm_arg(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="threads=, device= or precision= only")
    p.add_argument("-n", type=int, default=8, help="number of prompts")
    p.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("plot", help="draw curves.png of a run directory, or compare several runs in one figure")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", help="output PNG (default RUN_DIR/curves.png; with several runs, required)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("config", help="print every config key with its value and help")
    add_config_args(p)
    p.add_argument("--markdown", action="store_true", help="a Markdown table (docs/config.md is this, with defaults)")
    p.set_defaults(func=cmd_config)

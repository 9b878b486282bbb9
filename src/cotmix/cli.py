"""The `cotmix` command line.

    cotmix pretrain  [--preset NAME] [--config FILE] [key=value ...] --out DIR [--resume]
    cotmix posttrain --from RUN_OR_CHECKPOINT [...] [key=value ...] --out DIR [--resume]
    cotmix run       [--preset NAME] [--config FILE] [key=value ...] --out DIR [--resume]
    cotmix eval      --checkpoint PATH [eval.key=value ...] [--json]
    cotmix sample    --checkpoint PATH [-n 8] [--temperature 1.0] [--seed 0]
    cotmix plot      RUN_DIR [--out FILE.png]
    cotmix config    [--preset NAME] [key=value ...]   (every key, its value and its help)
    cotmix sweep     GRID.yaml|STUDY --out DIR [--workers N] [--address ADDR]  (grids on Ray)
    cotmix results   DIR [--where SQL] [--columns a,b] [--csv]
    cotmix report    DIR [--out report.html]
    cotmix llm ...   GSM8K/MATH mixtures with pretrained LMs, SFT then GRPO (see cotmix.llm.cli)

Any user error (bad key or value, missing or corrupt checkpoint, occupied --out) prints one
line `cotmix: error: ...` and exits with status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cotmix.config import Config, CotmixError, describe_fields, load_config
from cotmix.presets import PRESETS


# A run directory given to eval/sample means its final model: after RL if it has one.
FINAL_MODEL = ("posttrain", "pretrain")


def _setup(cfg: Config) -> None:
    """Torch threads, and the device checked before anything is written (a run asking for
    a GPU on a machine without one stops here, with nothing half-written)."""
    import torch

    from cotmix.device import resolve_device

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    resolve_device(cfg.device)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help=f"named configuration: {', '.join(sorted(PRESETS))}")
    p.add_argument("--config", help="YAML or JSON file of config values (nested by section)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides, e.g. task.p_cot=0.25")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="run directory (must be empty or new unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def cmd_pretrain(args) -> int:
    from cotmix.experiment import prepare_run_dir
    from cotmix.pretrain import train_ntp

    cfg = load_config(args.preset, args.config, args.overrides)
    if args.resume:
        cfg = _resumed_config(Path(args.out), cfg, args)
    _setup(cfg)
    prepare_run_dir(Path(args.out), cfg, args.resume)
    entry = train_ntp(cfg, Path(args.out), resume=args.resume, progress=not args.no_progress)
    _print_metrics(entry["eval"], f"pretrain: {entry['steps']} steps, {entry['samples']:,} samples, {entry['wall_s']:.0f} s")
    return 0


def _resumed_config(out: Path, cfg: Config, args) -> Config:
    """With --resume the run's own config.json is authoritative; extra overrides are refused."""
    if not (out / "config.json").is_file():
        raise CotmixError(f"--resume: {out} holds no run (no config.json); drop --resume to start one")
    if args.overrides or args.preset or args.config:
        raise CotmixError("--resume continues the run exactly as configured; drop --preset/--config/key=value")
    return _saved_config(out)


def _saved_config(run_dir: Path) -> Config:
    from cotmix.config import config_from_dict

    try:
        return config_from_dict(json.loads((run_dir / "config.json").read_text()))
    except (json.JSONDecodeError, CotmixError) as exc:
        raise CotmixError(f"{run_dir / 'config.json'}: corrupt ({str(exc).splitlines()[0]})") from None


def cmd_run(args) -> int:
    from cotmix.experiment import format_table, run_experiment
    from cotmix.plots import plot_run

    cfg = load_config(args.preset, args.config, args.overrides)
    if args.resume:
        cfg = _resumed_config(Path(args.out), cfg, args)
    _setup(cfg)
    summary = run_experiment(cfg, Path(args.out), resume=args.resume, progress=not args.no_progress)
    png = plot_run(Path(args.out))
    print()
    print(format_table(summary))
    print(f"\nfigure: {png}\nsummary: {Path(args.out) / 'summary.json'}")
    return 0


def cmd_posttrain(args) -> int:
    from cotmix.checkpoint import load_checkpoint, resolve_checkpoint
    from cotmix.experiment import prepare_run_dir
    from cotmix.rl.posttrain import posttrain, posttrain_config

    # --from takes several paths, so key=value items typed after it land there too. A sweep's run
    # directories have "=" in their names ("task.p_cot=0.01,seed=1"), so an existing path stays a path.
    is_override = [("=" in a and not Path(a).exists()) for a in args.from_]
    args.overrides = [a for a, o in zip(args.from_, is_override) if o] + args.overrides
    args.from_ = [a for a, o in zip(args.from_, is_override) if not o]
    if not args.from_:
        raise CotmixError("--from needs at least one run directory or checkpoint")
    starts = [load_checkpoint(resolve_checkpoint(path)) for path in args.from_]
    if args.resume and args.overrides:
        raise CotmixError("--resume continues the run exactly as configured; drop the key=value overrides")
    out = Path(args.out)
    plans = []  # (run directory, config, start checkpoint, resuming): all checked before anything is written
    for start in starts:
        run_dir = out if len(starts) == 1 else out / f"from_{start.path.parent.parent.parent.name}_{start.path.name}"
        resuming = args.resume and (run_dir / "config.json").is_file()
        cfg = _saved_config(run_dir) if resuming else posttrain_config(start.config, args.overrides)
        plans.append((run_dir, cfg, start, resuming))
    if len({plan[0] for plan in plans}) != len(plans):
        raise CotmixError("--from names the same checkpoint twice")
    for run_dir, cfg, start, resuming in plans:
        _setup(cfg)
        prepare_run_dir(run_dir, cfg, resuming)
        entry = posttrain(cfg, run_dir, start, resume=args.resume, progress=not args.no_progress)
        _print_metrics(entry["eval"], f"posttrain from {start.path}: {entry['steps']} steps, "
                                      f"{entry['samples']:,} samples, {entry['wall_s']:.0f} s -> {run_dir}")
    return 0


def cmd_eval(args) -> int:
    from cotmix.checkpoint import load_checkpoint, resolve_checkpoint
    from cotmix.device import place
    from cotmix.evaluate import evaluate
    from cotmix.model import build_model
    from cotmix.rl.posttrain import posttrain_config
    from cotmix.tasks import make_task

    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint, FINAL_MODEL))
    cfg = posttrain_config(ckpt.config, args.overrides)
    _setup(cfg)
    task = make_task(cfg.task)
    model = place(build_model(cfg.model, task), cfg)
    ckpt.load_model(model)
    metrics = evaluate(model, task, cfg.eval, with_pass_k=args.pass_k)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics, f"{ckpt.path} on {cfg.eval.n_prompts} held-out prompts")
    return 0


def cmd_sample(args) -> int:
    import torch

    from cotmix.checkpoint import load_checkpoint, resolve_checkpoint
    from cotmix.device import model_device, place
    from cotmix.model import build_model
    from cotmix.sampler import generate
    from cotmix.tasks import KIND_NAMES, make_task

    if args.n < 1 or args.temperature < 0:
        raise CotmixError(f"-n {args.n} --temperature {args.temperature}: need n >= 1 and temperature >= 0")
    ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint, FINAL_MODEL))
    task = make_task(ckpt.config.task)
    model = place(build_model(ckpt.config.model, task), ckpt.config)
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
        print(f"{prompt_text} -> {response_text:<{task.long_response_len + 5}}  {KIND_NAMES[int(kinds[i])]:<9} {verdict}")
    return 0


def cmd_plot(args) -> int:
    from cotmix.plots import plot_run

    run_dir = Path(args.run_dir)
    if not (run_dir / "metrics.jsonl").is_file():
        raise CotmixError(f"{run_dir}: not a run directory (no metrics.jsonl)")
    print(plot_run(run_dir, args.out))
    return 0


def cmd_theory(args) -> int:
    from cotmix.theory.experiments import TheoryConfig, format_theory_table, run_theory

    cfg = TheoryConfig(d=args.d, lam=args.lam, lam_chain=args.lam_chain, steps=args.steps,
                       chain_steps=args.chain_steps, batch=args.batch, star_rounds=args.star_rounds,
                       star_samples=args.star_samples, star_batch=args.star_batch, seeds=args.seeds, seed=args.seed)
    for name in ("calibration_grid", "threshold_grid", "star_p0"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    result = run_theory(cfg, Path(args.out), progress=(lambda msg: None) if args.no_progress else print)
    print(format_theory_table(result))
    print(f"\nwrote {Path(args.out) / 'theory.json'} and calibration.png, threshold.png, star.png")
    return 0


def cmd_bench(args) -> int:
    try:
        from cotmix.bench.measure import TINY, BenchSize, format_bench, run_bench
        import transformers, trl  # noqa: F401  (the peers)
    except ImportError as exc:
        raise CotmixError(f"cotmix bench needs the bench extra ({exc.name} is missing): pip install -e '.[bench]'") from None
    from cotmix.checkpoint import write_json_atomic
    from cotmix.device import resolve_device

    result = run_bench(TINY if args.tiny else BenchSize(), peers=not args.no_peers, device=resolve_device(args.device),
                       progress=(lambda msg: None) if args.no_progress else print)
    print(format_bench(result))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    print(f"\nwrote {out}")
    return 0


def _float_list(text: str) -> list[float]:
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def cmd_config(args) -> int:
    cfg = load_config(args.preset, args.config, args.overrides)
    values = dict((key, value) for key, value, _ in describe_fields(cfg))
    for key, _, help_text in describe_fields():
        print(f"{key:<28} {values[key]!s:<12} {help_text}")
    return 0


def _print_metrics(metrics: dict, header: str) -> None:
    print(header)
    width = max(24, *(len(key) for key in metrics))
    for key, value in metrics.items():
        shown = "-" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)
        print(f"  {key:<{width}} {shown}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cotmix", description="RL after next-token prediction: parity with "
                                     "short and long demonstrations (Tsilivis et al., ICLR 2026).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="NTP pre-training on fresh samples of D(p_cot)")
    _add_config_args(p), _add_run_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("run", help="pre-train, post-train with RL, and the NTP-only baseline; table + figure")
    _add_config_args(p), _add_run_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("posttrain", help="RL post-training from one or more NTP checkpoints")
    p.add_argument("--from", dest="from_", nargs="+", required=True, metavar="RUN_OR_CHECKPOINT",
                   help="a run directory (its last pre-training checkpoint) or checkpoint directories")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. posttrain.algorithm=star")
    _add_run_args(p)
    p.set_defaults(func=cmd_posttrain)

    p = sub.add_parser("eval", help="evaluate a checkpoint on held-out prompts")
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint directory, or run directory (its RL model if any, else its last NTP checkpoint)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. eval.n_prompts=4096")
    p.add_argument("--pass-k", action="store_true", help="also compute pass@1,2,4,8")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("sample", help="print readable samples of a checkpoint")
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint directory, or run directory (its RL model if any, else its last NTP checkpoint)")
    p.add_argument("-n", type=int, default=8, help="number of prompts")
    p.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("plot", help="draw curves.png of a run directory")
    p.add_argument("run_dir")
    p.add_argument("--out", help="output PNG (default RUN_DIR/curves.png)")
    p.set_defaults(func=cmd_plot)

    from cotmix.theory.experiments import TheoryConfig

    t = TheoryConfig()
    p = sub.add_parser("theory", help="the paper's theorems on the autoregressive linear model, with plots")
    p.add_argument("--out", default="runs/theory", help="output directory (theory.json and PNGs)")
    p.add_argument("--d", type=int, default=t.d, help="input bits")
    p.add_argument("--calibration-grid", type=_float_list, help="p_cot values for calibration, e.g. 0.05,0.1,0.2")
    p.add_argument("--threshold-grid", type=_float_list, help="p_cot values around 1/3 for greedy accuracy")
    p.add_argument("--star-p0", type=_float_list, help="starting p_cot of the STaR runs")
    p.add_argument("--star-rounds", type=int, default=t.star_rounds, help="STaR rounds (0 = skip)")
    p.add_argument("--star-samples", type=int, default=t.star_samples, help="responses sampled per STaR round")
    p.add_argument("--star-batch", type=int, default=t.star_batch, help="minibatch of kept samples in STaR")
    p.add_argument("--lam", type=float, default=t.lam, help="L2 of positions 1 and 2a (less bias, slower)")
    p.add_argument("--lam-chain", type=float, default=t.lam_chain, help="L2 of the chain positions")
    p.add_argument("--steps", type=int, default=t.steps, help="horizon of positions 1 and 2a (minibatches)")
    p.add_argument("--chain-steps", type=int, default=t.chain_steps, help="horizon of the chain positions")
    p.add_argument("--batch", type=int, default=t.batch, help="minibatch of pre-training samples")
    p.add_argument("--seeds", type=int, default=t.seeds, help="independent runs per setting")
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_theory)

    p = sub.add_parser("bench", help="throughput against Hugging Face transformers and TRL (needs the bench extra)")
    p.add_argument("--out", default="runs/bench.json", help="JSON output")
    p.add_argument("--tiny", action="store_true", help="tiny shapes: checks that the benchmark runs")
    p.add_argument("--no-peers", action="store_true", help="cotmix only (no transformers/TRL)")
    p.add_argument("--device", default="auto", help="auto (a CUDA GPU if torch sees one), cpu, cuda or cuda:N")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_bench)

    from cotmix.sweep.cli import add_sweep_parsers  # argparse only, like the llm commands below

    add_sweep_parsers(sub)

    from cotmix.llm.cli import add_llm_parser  # argparse only: transformers/TRL load when a command runs

    add_llm_parser(sub)

    p = sub.add_parser("config", help="print every config key with its value and help")
    _add_config_args(p)
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # argparse fills a positional list from one stretch of arguments only, so the overrides in
    # `run key=v --out DIR key2=v` would leave key2=v unrecognised; collect them wherever they are.
    args, extra = parser.parse_known_args(argv)
    stray = [a for a in extra if a.startswith("-") or "=" not in a or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    try:
        return args.func(args)
    except CotmixError as exc:
        print(f"cotmix: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        how = "with --resume" if hasattr(args, "resume") else "the same command"  # a sweep resumes by itself
        print(f"cotmix: interrupted (rerun {how} to continue)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

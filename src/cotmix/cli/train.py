"""`cotmix pretrain`, `cotmix posttrain` and `cotmix run`: the commands that train.

    cotmix pretrain  [--preset NAME] [--config FILE] [key=value ...] --out DIR [--resume]
    cotmix posttrain --from RUN_OR_CHECKPOINT [...] [key=value ...] --out DIR [--resume]
    cotmix run       [--preset NAME] [--config FILE] [key=value ...] --out DIR [--resume]
"""

from __future__ import annotations

from pathlib import Path

from cotmix.cli.common import add_config_args, add_run_args, print_metrics, resumed_config, saved_config
from cotmix.config import load_config
from cotmix.errors import CotmixError


def cmd_pretrain(args) -> int:
    from cotmix import api

    cfg = load_config(args.preset, args.config, args.overrides)
    if args.resume:
        cfg = resumed_config(Path(args.out), args)
    entry = api.pretrain(cfg, Path(args.out), resume=args.resume, progress=not args.no_progress)
    print_metrics(entry["eval"], f"pretrain: {entry['steps']} steps, {entry['samples']:,} samples, {entry['wall_s']:.0f} s")
    return 0


def cmd_run(args) -> int:
    from cotmix import api
    from cotmix.experiments.pipeline import format_table
    from cotmix.experiments.report.run_figures import plot_run

    cfg = load_config(args.preset, args.config, args.overrides)
    if args.resume:
        cfg = resumed_config(Path(args.out), args)
    summary = api.run(cfg, Path(args.out), resume=args.resume, progress=not args.no_progress)
    png = plot_run(Path(args.out))
    print()
    print(format_table(summary))
    print(f"\nfigure: {png}\nsummary: {Path(args.out) / 'summary.json'}")
    return 0


def cmd_posttrain(args) -> int:
    from cotmix import api
    from cotmix.loops.posttrain import posttrain_config
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

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
        cfg = saved_config(run_dir) if resuming else posttrain_config(start.config, args.overrides)
        plans.append((run_dir, cfg, start, resuming))
    if len({plan[0] for plan in plans}) != len(plans):
        raise CotmixError("--from names the same checkpoint twice")
    for run_dir, cfg, start, resuming in plans:
        entry = api.posttrain(start, run_dir, args.overrides, resume=args.resume, progress=not args.no_progress)
        print_metrics(entry["eval"], f"posttrain from {start.path}: {entry['steps']} steps, "
                                      f"{entry['samples']:,} samples, {entry['wall_s']:.0f} s -> {run_dir}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("pretrain", help="NTP pre-training on fresh samples of D(p_cot)")
    add_config_args(p), add_run_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("run", help="pre-train, post-train with RL, and the NTP-only baseline; table + figure")
    add_config_args(p), add_run_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("posttrain", help="RL post-training from one or more NTP checkpoints")
    p.add_argument("--from", dest="from_", nargs="+", required=True, metavar="RUN_OR_CHECKPOINT",
                   help="a run directory (its last pre-training checkpoint) or checkpoint directories")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. posttrain.algorithm=star")
    add_run_args(p)
    p.set_defaults(func=cmd_posttrain)

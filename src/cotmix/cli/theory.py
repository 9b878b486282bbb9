"""`cotmix theory`: the paper's theorems on the autoregressive linear model, with plots.

    cotmix theory [--d 20] [--star-p0 0.02,0.1,0.25] [--star-rounds 6] [...] --out DIR

Every flag is a field of cotmix.theory.config.TheoryConfig (its default and range in --help).
"""

from __future__ import annotations

from pathlib import Path

from cotmix.errors import warn
from cotmix.options import add_arguments, from_arguments
from cotmix.theory.config import TheoryConfig


def cmd_theory(args) -> int:
    from cotmix.theory.experiments import format_theory_table, run_theory

    cfg = from_arguments(TheoryConfig, args)
    result = run_theory(cfg, Path(args.out), progress=(lambda msg: None) if args.no_progress else print)
    print(format_theory_table(result))
    for line in result["warnings"]:
        warn(line)
    print(f"\nwrote {Path(args.out) / 'theory.json'} and calibration.png, threshold.png, star.png")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("theory", help="the paper's theorems on the autoregressive linear model, with plots")
    p.add_argument("--out", default="runs/theory", help="output directory (theory.json and PNGs)")
    add_arguments(p, TheoryConfig)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_theory)

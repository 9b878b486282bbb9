"""`cotmix sweep`, `cotmix results` and `cotmix report`: grids of runs, one table, one HTML page.

    cotmix sweep     GRID.yaml|STUDY --out DIR [--workers N] [--engine E] [--address ADDR] [--only GLOB]
    cotmix sweep     GRID.yaml|STUDY --list
    cotmix results   DIR [--where SQL] [--columns a,b|all] [--sort SQL] [--csv] [--list-columns]
    cotmix report    DIR [--out report.html] [--partial]
    cotmix publish   NAME... [--src runs/sweeps] [--dest docs/results] [--partial]
    cotmix restore   NAME... [--src docs/results] [--dest runs/sweeps]
"""

from __future__ import annotations

import os
from pathlib import Path

from cotmix.errors import CotmixError

MAX_WORKERS, MAX_THREADS = 512, 1024  # far past any machine this runs on; more only exhausts processes


def cmd_sweep(args) -> int:
    from cotmix.experiments.runner import grid_for, run_sweep, select_runs

    if not (1 <= args.workers <= MAX_WORKERS and 1 <= args.threads <= MAX_THREADS):
        raise CotmixError(f"--workers {args.workers} --threads {args.threads}: need 1 <= workers <= {MAX_WORKERS} and "
                          f"1 <= threads <= {MAX_THREADS} (this machine has {os.cpu_count()} CPUs)")
    grid = grid_for(args.grid)
    if args.list:
        specs = select_runs(grid.runs(), args.only)
        varying = set(grid.grid).union(*grid.also)
        fixed = " ".join(f"{k}={v}" for k, v in grid.base.items() if k not in varying)
        preset = f" --preset {grid.preset}" if grid.preset else ""
        print(f"# {grid.name}: cotmix {grid.command}{preset} {fixed}".rstrip())
        for criterion in study_criteria(grid.name):
            print(f"# pre-registered: {criterion.text()}")
        print(f"# {expected_time(grid.name, len(specs))}")
        for spec in specs:
            print(spec.name)
        return 0
    if args.out is None:
        raise CotmixError("--out DIR is required to run a sweep; only --list works without it")
    statuses = run_sweep(grid, Path(args.out), args.workers, args.address, args.threads, not args.no_progress,
                         engine=args.engine, only=args.only)
    failed = [s for s in statuses if s.get("state") != "done"]
    print(f"{len(statuses) - len(failed)}/{len(statuses)} runs done; table: {Path(args.out) / 'results.parquet'}")
    for status in failed:
        print(f"  {status.get('state', 'not run')}: {status['name']}: {status.get('error', '')}")
    return 1 if failed else 0


def expected_time(name: str, runs: int, places=(Path("docs/results"), Path("docs/lab/in-progress"))) -> str:
    """What the sweep's finished runs cost where it was last published here (its table's wall_s per
    run; a partial copy in docs/lab/in-progress when it has not been published), scaled to `runs`:
    the only estimate that is a measurement. Run times vary with the machine and with each run's stop
    rule; a run that shared its pre-training with others counts only its own part."""
    from cotmix.files import read_parquet

    for place in places:
        table = Path(place) / name / "results.parquet"
        walls = sorted(w for w in (read_parquet(table).column("wall_s").to_pylist() if table.is_file() else ()) if w)
        if walls:
            break
    else:
        where = " or ".join(str(Path(place) / name) for place in places)
        return f"expected CPU time: unknown (no measured run times in {where})"
    total = sum(walls) / len(walls) * runs
    return (f"expected CPU time: about {total / 3600:.1f} core-hours for {runs} runs (median "
            f"{walls[len(walls) // 2] / 60:.0f} min a run at --threads 1, from the {len(walls)} finished in {table}); "
            f"2 workers take about half that in wall time")


def study_criteria(name: str) -> tuple:
    from cotmix.experiments.studies import STUDIES

    return STUDIES[name].criteria if name in STUDIES else ()


def cmd_results(args) -> int:
    from cotmix.experiments.results import format_table, query

    if args.list_columns:
        names, _ = query(Path(args.dir), "false", ["all"])
        print("\n".join(names))
        return 0
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    names, rows = query(Path(args.dir), args.where, columns, args.sort)
    print(format_table(names, rows, csv=args.csv))
    return 0


def cmd_report(args) -> int:
    from cotmix.experiments.report.html import build_report

    if (Path(args.dir) / "llm_study.json").is_file():  # an LLM study (cotmix llm study): its own table and figure
        from cotmix.llm.study import collect

        print(f"wrote {collect(Path(args.dir))}")
        return 0
    path = build_report(Path(args.dir), Path(args.out) if args.out else None, partial=args.partial)
    print(f"wrote {path}")
    return 0


def cmd_publish(args) -> int:
    from cotmix.experiments.index import write_index
    from cotmix.experiments.publish import check_name, publish

    if not args.names and not args.index:
        raise CotmixError("publish: name at least one sweep (cotmix publish NAME), or give --index to rewrite the index only")
    for name in args.names:  # every name is checked before the first is published
        check_name(name)
    for name in args.names:
        print(f"published {publish(name, Path(args.src), Path(args.dest), partial=args.partial)}")
    if Path(args.dest).is_dir():
        path, written = write_index(Path(args.dest))
        print(f"wrote {path} (the index: one line per study, its computed verdict)" if written else
              f"left {path} alone (not an index written by cotmix publish)")
    return 0


def cmd_restore(args) -> int:
    from cotmix.experiments.publish import check_name, restore

    for name in args.names:
        check_name(name)
    for name in args.names:
        target, count = restore(name, Path(args.src), Path(args.dest))
        print(f"{name}: restored {count} finished runs into {target}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of runs (a sweep file or a built-in study) in parallel on Ray")
    p.add_argument("grid", help="sweep YAML file, or a built-in study: fig-headline, fig-threshold, ... "
                   "(see cotmix.experiments.studies)")
    p.add_argument("--out", help="sweep directory (rerun the same command to resume); not needed with --list")
    p.add_argument("--workers", type=int, default=1, help="parallel runs; > 1 starts a local Ray instance "
                   "(or a local process pool: --engine)")
    p.add_argument("--engine", default="auto", choices=["auto", "ray", "processes"],
                   help="where parallel runs go: Ray when installed (auto), or local processes (no Ray needed)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--address", default=None, help="join an existing Ray cluster (e.g. auto or HOST:6379)")
    p.add_argument("--list", action="store_true", help="print the runs the sweep expands to and exit")
    p.add_argument("--only", action="append", metavar="GLOB",
                   help="run only the runs whose names match (repeatable), e.g. 'task.d=12,*'")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("results", help="one table of every run's config and final metrics (Parquet + DuckDB)")
    p.add_argument("dir", help="a run, a sweep, or a directory of sweeps")
    p.add_argument("--where", help="SQL condition, e.g. \"task_p_cot < 0.3 and state = 'done'\"")
    p.add_argument("--columns", help="comma-separated columns (task_p_cot or task.p_cot), or 'all' "
                                     "(default: name, state and the main metrics)")
    p.add_argument("--sort", help="SQL ORDER BY expression (default: sweep, then run name with its numbers in numeric order)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of an aligned table")
    p.add_argument("--list-columns", action="store_true", help="print the column names and exit")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("report", help="figures (PNG + SVG) and one self-contained HTML page for a directory of sweeps")
    p.add_argument("dir")
    p.add_argument("--out", help="HTML file (default: DIR/report.html)")
    p.add_argument("--partial", action="store_true",
                   help="draw unfinished runs too, as far as they got (each is named on the page)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("publish", help="copy finished sweeps' small files (no checkpoints) into docs/results/NAME "
                                       "with their table and report")
    p.add_argument("names", nargs="*", metavar="NAME", help="sweep folder names under --src")
    p.add_argument("--index", action="store_true", help="(re)write DEST/README.md, the index of the publications, "
                                                       "which publishing a sweep also does")
    p.add_argument("--src", default="runs/sweeps", help="where the sweeps are")
    p.add_argument("--dest", default="docs/results", help="where publications go (an existing one is replaced "
                                                          "only if it holds nothing but what publish writes)")
    p.add_argument("--partial", action="store_true", help="a sweep still running: draw unfinished runs where they stopped")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("restore", help="seed a sweep folder with the finished runs of its publication, so that "
                                       "rerunning the sweep runs only the rest")
    p.add_argument("names", nargs="+", metavar="NAME", help="publication folder names under --src")
    p.add_argument("--src", default="docs/results", help="where the publications are")
    p.add_argument("--dest", default="runs/sweeps", help="where the sweeps run")
    p.set_defaults(func=cmd_restore)

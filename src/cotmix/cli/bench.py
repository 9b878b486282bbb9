"""`cotmix bench`: throughput against Hugging Face transformers and TRL, measured in one run.

    cotmix bench [--out runs/bench.json] [--tiny] [--no-peers] [--device auto] [--d 20 ...]

The sizes are the fields of cotmix.bench.size.BenchSize (defaults and ranges in --help);
--tiny starts from tiny shapes instead, to check that the benchmark runs.
"""

from __future__ import annotations

from pathlib import Path

from cotmix.bench.size import TINY, BenchSize
from cotmix.errors import CotmixError
from cotmix.options import add_arguments, from_arguments


def cmd_bench(args) -> int:
    try:
        import transformers  # noqa: F401  (the peers)
        import trl  # noqa: F401

        from cotmix.bench.measure import format_bench, run_bench
    except ImportError as exc:
        raise CotmixError(f"cotmix bench needs the bench extra ({exc.name} is missing): pip install -e '.[bench]'") from None
    from cotmix.files import check_output_file, starts_with, write_json_atomic
    from cotmix.model.device import resolve_device

    size = from_arguments(BenchSize, args, base=TINY if args.tiny else None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    check_output_file(out, "--out", starts_with(b'"peak_flop_per_s"'), "benchmark result")  # before the long run
    result = run_bench(size, peers=not args.no_peers, device=resolve_device(args.device),
                       progress=(lambda msg: None) if args.no_progress else print)
    print(format_bench(result))
    write_json_atomic(out, result)
    print(f"\nwrote {out}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("bench", help="throughput against Hugging Face transformers and TRL (needs the bench extra)")
    p.add_argument("--out", default="runs/bench.json", help="JSON output")
    p.add_argument("--tiny", action="store_true", help="start from tiny shapes: checks that the benchmark runs")
    p.add_argument("--no-peers", action="store_true", help="cotmix only (no transformers/TRL)")
    p.add_argument("--device", default="auto", help="auto (a CUDA GPU if torch sees one), cpu, cuda or cuda:N")
    p.add_argument("--no-progress", action="store_true")
    add_arguments(p, BenchSize)
    p.set_defaults(func=cmd_bench)

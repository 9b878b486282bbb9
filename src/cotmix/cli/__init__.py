"""The `cotmix` command line: one module per command group, each adding its own parsers.

    train     cotmix pretrain | posttrain | run
    predict   cotmix predict (what RL will do, from a checkpoint's calibration)
    inspect   cotmix eval | sample | plot | config
    export    cotmix export | data
    sweep     cotmix sweep | results | report
    theory    cotmix theory
    bench     cotmix bench
    llm       cotmix llm gsm-symbolic | mixture | sft | grpo | eval | experiment

Any user error (bad key or value, missing or corrupt checkpoint, occupied --out) prints one
line `cotmix: error: ...` and exits with status 2, before anything is written. Building the
parser imports no torch, transformers or Ray: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import errno
import sys

from safetensors import SafetensorError

from cotmix import __version__
from cotmix.cli import bench, export, inspect, llm, predict, sweep, theory, train
from cotmix.errors import CotmixError, one_line, shortened
from cotmix.files import is_machine_error

GROUPS = (train, predict, inspect, export, sweep, theory, bench, llm)


class Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line like every other error (argparse prints the
    usage too; `--help` still shows it)."""

    def error(self, message: str):
        where = "" if self.prog == "cotmix" else f"{self.prog}: "  # `cotmix: error: cotmix: ...` said it twice
        self.exit(2, f"cotmix: error: {shortened(one_line(where + message))}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cotmix", description="RL after next-token prediction: parity with "
                                     "short and long demonstrations (Tsilivis et al., ICLR 2026).")
    parser.add_argument("--version", action="version", version=f"cotmix {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # argparse fills a positional list from one stretch of arguments only, so the overrides in
    # `run key=v --out DIR key2=v` would leave key2=v unrecognised; collect them wherever they are.
    args, extra = parser.parse_known_args(argv)
    stray = [a for a in extra if a.startswith("-") or "=" not in a or not hasattr(args, "overrides")]
    if stray and not hasattr(args, "overrides") and all("=" in a and not a.startswith("-") for a in stray):
        parser.error(f"cotmix {args.command} takes no key=value settings (got {' '.join(stray)}); see cotmix {args.command} -h")
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, so that a reader who closed the pipe is met below, not at exit
        return status
    except CotmixError as exc:
        print(f"cotmix: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `cotmix ... | head` closed our stdout: the reader wanted no more, as with any tool
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 0
    except OSError as exc:
        return _os_error(exc, args)
    except SafetensorError as exc:  # safetensors' own I/O error type (a full disk while exporting)
        return _os_error(OSError(errno.EIO, f"cannot write tensors ({str(exc).splitlines()[0][:200]})"), args)
    except KeyboardInterrupt:
        how = "with --resume" if hasattr(args, "resume") else "the same command"  # a sweep resumes by itself
        print(f"cotmix: interrupted (rerun {how} to continue)", file=sys.stderr)
        return 130


def _os_error(exc: OSError, args) -> int:
    """One line for an OSError. From the machine (a full disk): exit 1, and rerunning may work (with
    --resume where the command has it). Anything else (a missing folder, a bad name): the user's, exit 2."""
    where = f"{exc.filename}: " if exc.filename else ""
    message = f"cotmix: error: {one_line(f'{where}{exc.strerror or exc}')}"
    if not is_machine_error(exc):
        print(message, file=sys.stderr)
        return 2
    again = "rerun with --resume" if hasattr(args, "resume") else "rerun"
    print(f"{message} ({again} once it is fixed)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

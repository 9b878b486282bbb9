"""The files of a run directory and of a sweep, read and written in one place.

    RUN/config.json      the full config of the run
    RUN/metrics.jsonl    one JSON object per log or evaluation: phase, step, samples_seen, wall_s, metrics
    RUN/summary.json     one entry per finished phase, and the run's `heldout` block
    RUN/status.json      a sweep's record of the run: {"state": "running" | "done" | "failed", ...}
    SWEEP/sweep.json     the expanded grid of a sweep

Every whole-file write goes to `NAME.tmp` and is then renamed over NAME, so a reader never sees
half a file. metrics.jsonl is appended to; `rewrite_metrics` replaces it the same atomic way. A
crash (or a full disk) during an append can leave its last line torn: `read_metrics` drops such a
line, and a resumed phase rewrites the file without it.

A process that writes a run holds an OS lock on RUN/.lock (`lock_run_dir`) for as long as it runs;
a second process gets one line instead of interleaving its records with the first's. The lock dies
with its process, so a SIGKILL leaves nothing stale.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
from pathlib import Path

from cotmix.errors import CotmixError, RunBusy, warn
from cotmix.files import loads_json, read_json_file, write_json_atomic, write_text_atomic  # noqa: F401 (re-exported)

_LOCKS: dict[Path, int] = {}  # run directory -> file descriptor of its held lock


def read_json(path: Path, default=None):
    """The JSON object in `path`; `default` when the file does not exist; CotmixError when it is
    corrupt, too large or nested too deep (cotmix.files)."""
    return read_json_file(path, default)


# --- a run ------------------------------------------------------------------------------------

def prepare_run_dir(out: Path, config: dict, resume: bool) -> None:
    """Create `out` for a new run (writing config.json), or check that `--resume` finds a run there;
    either way take the run's lock. Nothing is written when the folder cannot be used."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CotmixError(f"--out {out}: is a file, not a directory")
    if resume:
        if not (out / "config.json").is_file():
            raise CotmixError(f"--resume: {out} holds no run (no config.json); drop --resume to start one")
        lock_run_dir(out)
        return
    create_empty_dir(out, "pass --resume to continue that run or choose an empty directory")
    lock_run_dir(out)
    write_json_atomic(out / "config.json", config)


def create_empty_dir(out: Path, if_busy: str) -> None:
    """Make `out` (and its parents) unless it exists with files in it: then CotmixError, ending with
    `if_busy`. Nothing a command did not make is ever written over."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CotmixError(f"--out {out}: is a file, not a directory")
    if out.exists() and any(p.name != ".lock" for p in out.iterdir()):  # a lone lock: a start that failed
        raise CotmixError(f"--out {out}: already holds files; {if_busy}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CotmixError(f"--out {out}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise CotmixError(f"--out {out}: not writable")


def lock_run_dir(run_dir: Path) -> None:
    """Hold RUN/.lock (an flock) until release_run_dir or the end of the process."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _LOCKS:
        return
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RunBusy(f"{run_dir}: another process (pid {holder}) is writing this run; wait for it to end "
                          f"or use another --out") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _LOCKS[run_dir] = fd


def release_run_dir(run_dir: Path) -> None:
    fd = _LOCKS.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


def read_config(run_dir: Path) -> dict:
    config = read_json(Path(run_dir) / "config.json")
    if config is None:
        raise CotmixError(f"{run_dir}: not a run directory (no config.json)")
    return config


def read_summary(run_dir: Path) -> dict:
    return read_json(Path(run_dir) / "summary.json", default={})


def write_summary(run_dir: Path, summary: dict) -> None:
    write_json_atomic(Path(run_dir) / "summary.json", summary)


def append_metrics(run_dir: Path, record: dict) -> None:
    with open(Path(run_dir) / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(run_dir: Path, phase: str | None = None) -> list[dict]:
    """The records of metrics.jsonl (of one phase); a torn last line, which only a crash or a full
    disk mid-append leaves, is dropped; a corrupt line before it is an error. A finished run published
    under docs/results keeps it compressed, as metrics.jsonl.gz, which is read the same way."""
    path = Path(run_dir) / "metrics.jsonl"
    packed = path.with_name("metrics.jsonl.gz")
    if path.is_file():
        text = path.read_text(errors="replace")
    elif packed.is_file():
        try:
            text = gzip.decompress(packed.read_bytes()).decode(errors="replace")
        except (OSError, EOFError) as exc:
            raise CotmixError(f"{packed}: not a readable gzip file ({exc})") from None
    else:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(loads_json(line, f"{path}: line {i + 1}"))
        except CotmixError:
            if i < len(lines) - 1:
                raise CotmixError(f"{path}: line {i + 1} is not JSON (the file is corrupt, not just cut off)") from None
            warn(f"{path}: its last line was cut off (a crash or a full disk); it is left out")
    return [r for r in records if isinstance(r, dict) and (phase is None or r.get("phase") == phase)]


def rewrite_metrics(run_dir: Path, records: list[dict]) -> None:
    write_text_atomic(Path(run_dir) / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in records))


# --- a sweep ----------------------------------------------------------------------------------

SHARED_PRETRAIN = "pretrain-cache"  # SWEEP/pretrain-cache/KEY: one pre-training for the runs that differ
                                    # only in posttrain.* (cotmix.experiments.shared_pretrain)


def read_status(run_dir: Path) -> dict:
    """A run's sweep status; {} when it has none or it was cut off mid-write (counts as unfinished)."""
    try:
        return read_json(Path(run_dir) / "status.json", default={})
    except CotmixError:
        return {}


def write_status(run_dir: Path, status: dict) -> None:
    write_json_atomic(Path(run_dir) / "status.json", status)

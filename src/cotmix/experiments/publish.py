"""`cotmix publish` and `cotmix restore`: a sweep's small files into docs/results/NAME, and back.

    cotmix publish NAME [--src runs/sweeps] [--dest docs/results] [--partial]
    cotmix restore NAME [--src docs/results] [--dest runs/sweeps]

publish copies SRC/NAME's sweep.json and, for each run, config.json, summary.json, status.json and
metrics.jsonl compressed (never a checkpoint), then builds its results.parquet and report there, so
every number the README quotes can be checked and redrawn from a clone. It builds the whole
publication in a temporary folder beside DEST/NAME and only then puts it in place, so a failure
leaves the old publication as it was, and SRC may be DEST itself (redrawing a publication in place).
A folder already at DEST/NAME is replaced only when it is a publication: every file in it is one
that publish writes.

restore goes the other way, seeding SRC/NAME's finished runs into DEST/NAME so that rerunning the
sweep there runs only the rest. Each run is copied into a fresh temporary folder and renamed into
place; a run already in DEST is never touched.

NAME is one plain folder name (letters, digits, '.', '_', '-', '='; not '.' or '..'), so neither
command can reach outside its folders.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
from pathlib import Path

from cotmix.errors import CotmixError
from cotmix.files import atomic_dir, check_output_path, usual_mode
from cotmix.rundir import read_status

RUN_FILES = ("config.json", "summary.json", "status.json")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,-]*")
# Paths (relative to a publication) of the files publish writes; nothing else may be in a folder it replaces.
PUBLISHED = re.compile(r"sweep\.json|results\.parquet|report\.html|report/[^/]+\.(png|svg)|"
                       r"runs/[^/]+/(config\.json|summary\.json|status\.json|metrics\.jsonl\.gz)")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name in (".", "..") or ".." in name:
        raise CotmixError(f"sweep name {name!r}: must be one plain folder name (letters, digits, '.', '_', '-', "
                          "'=', ','; no '/', no '..'), e.g. fig-headline")
    return name


def _folders(name: str, src: Path, dest: Path) -> tuple[Path, Path]:
    """(SRC/NAME, DEST/NAME), checked: a sweep is at the first; the second lies directly in DEST."""
    check_name(name)
    source, target = Path(src) / name, Path(dest) / name
    if not (source / "sweep.json").is_file():
        raise CotmixError(f"{source}: no sweep there (no sweep.json)")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise CotmixError(f"{target}: is {'a link' if target.is_symlink() else 'a file'}; cotmix writes only a plain folder")
    return source, target


def is_publication(folder: Path) -> bool:
    """Every file under `folder` is one that publish writes (and there are no links)."""
    for path in folder.rglob("*"):
        if path.is_symlink():
            return False
        if path.is_file() and not PUBLISHED.fullmatch(path.relative_to(folder).as_posix()):
            return False
    return True


def publish(name: str, src: Path, dest: Path, partial: bool = False) -> Path:
    """Publish SRC/NAME into DEST/NAME (see the module docstring); returns DEST/NAME."""
    from cotmix.experiments.report.html import build_report
    from cotmix.experiments.results import write_results

    source, target = _folders(name, src, dest)
    if target.exists() and not is_publication(target):
        raise CotmixError(f"{target}: holds files that publish does not write; it is left alone (move them, or "
                          "publish into another --dest)")
    if Path(dest).exists() and not Path(dest).is_dir():
        raise CotmixError(f"--dest {dest}: is a file, not a folder")
    Path(dest).mkdir(parents=True, exist_ok=True)
    check_output_path(target, "--dest")
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=f".{name}.", suffix=".tmp"))
    try:
        shutil.copyfile(source / "sweep.json", tmp / "sweep.json")
        for run in _runs(source):
            into = tmp / "runs" / run.name
            into.mkdir(parents=True)
            for file in RUN_FILES:
                if (run / file).is_file():
                    shutil.copyfile(run / file, into / file)
            _pack_metrics(run, into / "metrics.jsonl.gz")
        write_results(tmp)
        build_report(tmp, tmp / "report.html", partial=partial, shown_as=target)
        tmp.chmod(usual_mode(folder=True))  # mkdtemp makes it private
        _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _runs(sweep: Path) -> list[Path]:
    """The run folders of a sweep (not links; not the hidden temporary folders of a copy under way)."""
    return sorted(p for p in (sweep / "runs").glob("*") if p.is_dir() and not p.is_symlink()
                  and not p.name.startswith("."))


def _pack_metrics(run: Path, packed: Path) -> None:
    """metrics.jsonl compressed, with no timestamp (a republish changes no byte); a published run's
    metrics.jsonl.gz is copied as it is."""
    if (run / "metrics.jsonl").is_file():
        packed.write_bytes(gzip.compress((run / "metrics.jsonl").read_bytes(), compresslevel=9, mtime=0))
    elif (run / "metrics.jsonl.gz").is_file():
        shutil.copyfile(run / "metrics.jsonl.gz", packed)


def _swap_in(new: Path, target: Path) -> None:
    """Put the finished folder `new` at `target`: an old publication there is moved aside first and
    removed only once the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)  # a killed swap's leftover: only this function makes it
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old)


def restore(name: str, src: Path, dest: Path) -> tuple[Path, int]:
    """Seed DEST/NAME with SRC/NAME's finished runs; returns (DEST/NAME, runs restored)."""
    source, target = _folders(name, src, dest)
    spec = (source / "sweep.json").read_bytes()
    if (target / "sweep.json").is_file() and (target / "sweep.json").read_bytes() != spec:
        raise CotmixError(f"{target} holds a different sweep than {source}; restore into another --dest")
    (target / "runs").mkdir(parents=True, exist_ok=True)
    if not (target / "sweep.json").is_file():
        shutil.copyfile(source / "sweep.json", target / "sweep.json")
    restored = 0
    for run in _runs(source):
        into = target / "runs" / run.name
        if into.exists() or into.is_symlink() or read_status(run).get("state") != "done":
            continue  # never overwrite a run that is there; an unfinished one starts over (no checkpoints)
        with atomic_dir(into) as tmp:
            for file in run.iterdir():
                if file.is_file() and not file.is_symlink():
                    shutil.copyfile(file, tmp / file.name)
        restored += 1
    return target, restored

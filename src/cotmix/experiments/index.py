"""DEST/README.md: the index of the published results, one line per study.

Each line names the study, its claim (cotmix.experiments.studies), the verdict its pre-registered
criteria compute from the committed runs (cotmix.experiments.verdicts; nothing is typed by hand),
how many runs it has, and links to its report and table. `cotmix publish` rewrites the index after
every publication; `cotmix publish --index` rewrites only the index.
"""

from __future__ import annotations

from pathlib import Path

from cotmix.files import write_text_atomic

HEADER = """# Published results

One line per study: what it asks, the verdict its pre-registered criteria compute from the runs
committed here (`cotmix.experiments.studies`; a study without criteria is an open question), and
its report. Written by `cotmix publish`; do not edit by hand. The README and
[docs/results.md](../results.md) say what each result means; superseded draws, probes and the lab
notebook are under [docs/lab/](../lab/).

| study | claim or question | pre-registered verdict | runs | files |
| --- | --- | --- | --- | --- |
"""
MARK = "Written by `cotmix publish`"


def index_rows(dest: Path) -> list[str]:
    """One Markdown table row per publication under `dest` (a folder holding sweep.json, or an LLM
    study's llm_study.json), in name order."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.studies import STUDIES
    from cotmix.experiments.verdicts import study_verdict

    rows = []
    for folder in sorted(p for p in Path(dest).iterdir() if (p / "sweep.json").is_file() and not p.name.startswith(".")):
        sweep = load_sweep(folder)
        study = STUDIES.get(sweep.name)
        claim = study.claim if study else "a sweep from a config file (no claim attached)"
        if study is None or not (study.criteria or study.judged_by):
            verdict = "none (open question)" if study else "none"
        elif not sweep.runs:
            verdict = "not computed: published before run files were kept (its table only)"
        else:
            result = study_verdict(study, sweep)
            verdict = f"**{result['verdict']}** ({result['short']})"
        done = sum(r.status.get("state") == "done" for r in sweep.runs)
        runs = f"{done} of {len(sweep.runs)} done" if sweep.runs else f"{_table_rows(folder)} in the table"
        files = f"[report]({folder.name}/report.html), [table]({folder.name}/results.parquet)"
        rows.append(f"| [{folder.name}]({folder.name}/report.html) | {_cell(claim)} | {verdict} | "
                    f"{runs} | {files} |")
    return sorted(rows + _llm_rows(dest))


def _llm_rows(dest: Path) -> list[str]:
    """One row per `cotmix llm study` folder (llm_study.json), its verdict from cotmix.llm.study."""
    import json

    from cotmix.llm.study import CLAIM, load_runs, run_name, verdict

    rows = []
    for folder in sorted(p for p in Path(dest).iterdir() if (p / "llm_study.json").is_file() and not p.name.startswith(".")):
        asked = json.loads((folder / "llm_study.json").read_text())
        runs = load_runs(folder)
        word, lines = verdict(runs) if runs else ("no data", [])
        asked_for = {run_name(p, s) for p in asked["p_cots"] for s in range(asked["seeds"])}
        done = len(asked_for & {r["name"] for r in runs})
        files = f"[report]({folder.name}/report.md), [table]({folder.name}/results.parquet)"
        rows.append(f"| [{folder.name}]({folder.name}/report.md) | {_cell(CLAIM)} | **{word}** ({'; '.join(lines)}) | "
                    f"{done} of {len(asked_for)} done | {files} |")
    return rows


def write_index(dest: Path) -> tuple[Path, bool]:
    """Write DEST/README.md from the publications there (atomically): (its path, True). A README.md
    that this function did not write is left alone: (its path, False)."""
    path = Path(dest) / "README.md"
    if path.is_file() and MARK not in path.read_text(errors="replace"):
        return path, False
    write_text_atomic(path, HEADER + "\n".join(index_rows(dest)) + "\n")
    return path, True


def _table_rows(folder: Path) -> int:
    from cotmix.files import read_parquet

    return read_parquet(folder / "results.parquet").num_rows if (folder / "results.parquet").is_file() else 0


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "/")

"""`cotmix llm study`: the LLM experiment over p_cot x seeds, and its verdict from criteria fixed here.

    OUT/
      llm_study.json          what was asked (the options), so `cotmix report OUT` can redraw
      p0.1-seed0/ ...         one `cotmix llm experiment` per (p_cot, seed), resumable stage by stage
      p0.1-seed0.log ...      its output
      results.parquet         one row per finished experiment: setting, then STAGE/METRIC columns
      curves.parquet          GRPO's log per step and experiment (TRL's names)
      report.md, report.png   the table, the verdict and the figure

The claim is the paper's: SFT plateaus; RL raises accuracy by raising the share of long answers.
It is checked per experiment against the control arm (SFT continued on as many samples as GRPO
generated), with 95% Wilson intervals that must not overlap, and only where the premise holds
(after SFT, long answers mostly right and short answers mostly wrong): where it fails, the paper's
mechanism has nothing to amplify and the run says so instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from cotmix.errors import CotmixError
from cotmix.eval.stats import clopper_pearson
from cotmix.llm.options import ExperimentOptions
from cotmix.options import opt, redefault
from cotmix.rundir import write_json_atomic

STAGES = ("base", "sft", "sft_more", "grpo")
METRICS = ("greedy_accuracy", "greedy_long_fraction", "greedy_length_mean", "sampled_accuracy", "long_fraction",
           "long_accuracy", "short_accuracy", "sampled_length_mean")
CURVES = ("reward", "rewards/is_long/mean", "rewards/long_correct/mean", "rewards/short_correct/mean",
          "completions/mean_length")


@dataclass
class StudyOptions(ExperimentOptions):
    # The defaults are the study as fixed on 2026-12-04, after three premise probes and before any
    # study run (docs/lab/log.md): chained sums of four one-digit numbers, whose worked answer this
    # model gets right (0.88 after 200 SFT steps) and whose bare answer it does not (0.18).
    source: str = redefault(ExperimentOptions, "source", "chain-sum")
    problems: int = redefault(ExperimentOptions, "problems", 3000)
    digits: int = redefault(ExperimentOptions, "digits", 1)
    eval_size: int = redefault(ExperimentOptions, "eval_size", 200)
    sft_steps: int = redefault(ExperimentOptions, "sft_steps", 200)
    max_new_tokens: int = redefault(ExperimentOptions, "max_new_tokens", 48)
    grpo_steps: int = redefault(ExperimentOptions, "grpo_steps", 40)
    prompts_per_step: int = redefault(ExperimentOptions, "prompts_per_step", 2)
    p_cots: list[float] = opt([0.1, 0.25], "the p_cot of each arm", lo=0.0, hi=1.0)
    seeds: int = opt(3, "seeds 0 .. N-1 per p_cot", lo=1)
    workers: int = opt(1, "experiments at once, each in its own process", lo=1)
    collect_only: bool = opt(False, "train nothing: tabulate and draw what OUT holds")


# ---- the criteria, fixed before the runs (2026-12-03) ----------------------------------------------

def _interval(metrics: dict, key: str) -> tuple[float, float]:
    lo, hi = metrics.get(f"{key}_ci95") or (float("nan"), float("nan"))
    return lo, hi


CLAIM = ("A pretrained LM after SFT on a short/long mixture plateaus; GRPO with a final-answer reward "
         "raises its held-out greedy accuracy above as much more SFT, by raising the share of long answers "
         "(counted where the premise holds: after SFT long answers mostly right, short ones mostly wrong).")


def premise(run: dict) -> bool:
    """After SFT, long answers mostly right (Wilson lower end > 0.5), short ones mostly wrong (upper < 0.5)."""
    return _interval(run["sft"], "long_accuracy")[0] > 0.5 and _interval(run["sft"], "short_accuracy")[1] < 0.5


CRITERIA = (
    ("RL beats as much more SFT", lambda r: _interval(r["grpo"], "greedy_accuracy")[0]
     > _interval(r["sft_more"], "greedy_accuracy")[1]),
    ("by answering long more often", lambda r: _interval(r["grpo"], "long_fraction")[0]
     > _interval(r["sft"], "long_fraction")[1]),
)


def verdict(runs: list[dict]) -> tuple[str, list[str]]:
    """(met | mixed | not met | untestable, one line per criterion) over the runs whose premise holds;
    each count k of n carries its 95% Clopper-Pearson interval (the share of runs it would hold in)."""
    def count(k: int, n: int) -> str:
        lo, hi = clopper_pearson(k, n)
        return f"{k} of {n} [{lo:.2f}, {hi:.2f}]"

    testable = [r for r in runs if premise(r)]
    lines = [f"premise (after SFT, long right and short wrong): {count(len(testable), len(runs))} runs"
             if runs else "premise (after SFT, long right and short wrong): no runs"]
    if not testable:
        return "untestable", lines
    held = []
    for name, check in CRITERIA:
        k = sum(bool(check(r)) for r in testable)
        held.append(k)
        lines.append(f"{name}: {count(k, len(testable))}")
    n = len(testable)
    word = "met" if all(k == n for k in held) else "not met" if all(k == 0 for k in held) else "mixed"
    return word, lines


# ---- running ---------------------------------------------------------------------------------------

def run_name(p_cot: float, seed: int) -> str:
    return f"p{p_cot:g}-seed{seed}"


def _experiment_options(opts: StudyOptions, p_cot: float, seed: int) -> ExperimentOptions:
    fields = {f.name for f in dataclasses.fields(ExperimentOptions)}
    kept = {k: v for k, v in dataclasses.asdict(opts).items() if k in fields}
    return ExperimentOptions(**kept | {"out": str(Path(opts.out) / run_name(p_cot, seed)), "p_cot": p_cot, "seed": seed})


def finished(run: Path) -> bool:
    """RUN/summary.json holds every stage: the run is done, and a copy of its small files without
    the weights (as `scripts/gpu_llm.sh` packs it, or a session saves it) is enough to skip it."""
    path = Path(run) / "summary.json"
    return path.is_file() and all(stage in json.loads(path.read_text()) for stage in STAGES)


def _run_one(args: ExperimentOptions) -> str:
    """One experiment in this process, its output in OUT.log beside it (a worker of the pool)."""
    import torch

    from cotmix.llm.experiment import run_llm_experiment

    torch.set_num_threads(1)
    out = Path(args.out)
    with open(out.with_name(out.name + ".log"), "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            run_llm_experiment(args)
        except CotmixError as exc:
            print(f"cotmix: error: {exc}")
            return f"{args.out}: {exc}"
    return ""


# Options that say which experiments run, not how each one does: a study can grow by them (a seed or
# a p_cot at a time, one session after another) in the same --out.
GROWS = ("p_cots", "seeds")


def run_llm_study(opts: StudyOptions) -> Path:
    out = Path(opts.out)
    default = ExperimentOptions(out="")
    if (opts.p_cot, opts.seed) != (default.p_cot, default.seed):
        raise CotmixError("--p-cot and --seed are set per run by a study: give --p-cots A,B,... and --seeds N")
    asked = {k: v for k, v in dataclasses.asdict(opts).items()
             if k not in ("out", "workers", "collect_only", "p_cot", "seed")}
    if (out / "llm_study.json").is_file():
        before = json.loads((out / "llm_study.json").read_text())
        changed = sorted(k for k in asked if k not in GROWS and before.get(k) != asked[k])
        if changed and not opts.collect_only:
            raise CotmixError(f"--out {out}: holds a study with other settings ({', '.join(changed)}); "
                              "choose a new --out, or --collect-only to redraw it")
        # More p_cots or seeds add experiments without changing any: the study records them all.
        asked |= {"p_cots": sorted(set(before.get("p_cots", [])) | set(asked["p_cots"])),
                  "seeds": max(before.get("seeds", 0), asked["seeds"])}
    elif out.exists() and any(out.iterdir()):
        raise CotmixError(f"--out {out}: exists and is not an llm study; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    if not opts.collect_only:
        write_json_atomic(out / "llm_study.json", asked)
        todo = [_experiment_options(opts, p, s) for p in opts.p_cots for s in range(opts.seeds)]
        todo = [a for a in todo if not finished(Path(a.out))]
        if opts.workers == 1:
            failures = [_run_one(a) for a in todo]
        else:
            with multiprocessing.get_context("spawn").Pool(opts.workers) as pool:
                failures = pool.map(_run_one, todo, chunksize=1)
        for line in filter(None, failures):
            print(f"failed: {line}")
    return collect(out)


# ---- tables, verdict, figure ----------------------------------------------------------------------

def load_runs(out: Path) -> list[dict]:
    """Every finished experiment under OUT: {p_cot, seed, name, STAGE: metrics, curves: [GRPO log rows]}."""
    runs = []
    for summary in sorted(Path(out).glob("*/summary.json")):
        data = json.loads(summary.read_text())
        if not all(stage in data for stage in STAGES):
            continue
        log = summary.parent / "grpo" / "metrics.jsonl"
        curves = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
        runs.append({**{s: data[s] for s in STAGES}, "name": summary.parent.name, "p_cot": data["setting"]["p_cot"],
                     "seed": data["setting"]["seed"], "overlap_count": data["heldout"]["overlap_count"],
                     "curves": [c for c in curves if "reward" in c]})
    return runs


def results_table(runs: list[dict]):
    import pandas as pd

    rows = []
    for r in runs:
        row = {"name": r["name"], "p_cot": r["p_cot"], "seed": r["seed"], "overlap_count": r["overlap_count"],
               "n_prompts": r["sft"]["n_prompts"], "premise": premise(r)}
        for stage in STAGES:
            for key in METRICS:
                row[f"{stage}/{key}"] = r[stage].get(key)
                if f"{key}_ci95" in r[stage]:  # None when no response was of that kind
                    row[f"{stage}/{key}_lo"], row[f"{stage}/{key}_hi"] = r[stage][f"{key}_ci95"] or (None, None)
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return "-"
    if f"{key}_ci95" not in metrics:
        return f"{value:.1f}"
    if not metrics[f"{key}_ci95"]:
        return f"{value:.3f}"
    lo, hi = metrics[f"{key}_ci95"]
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def report_markdown(runs: list[dict], asked: dict) -> str:
    word, lines = verdict(runs)
    head = ("| run | stage | greedy acc | greedy long | sampled long | long acc | short acc | sampled len |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |")
    body = [f"| {r['name']} | {stage} | " + " | ".join(_cell(r[stage], k) for k in (
        "greedy_accuracy", "greedy_long_fraction", "long_fraction", "long_accuracy", "short_accuracy",
        "sampled_length_mean")) + " |" for r in runs for stage in STAGES[1:]]
    setting = ", ".join(f"{k}={asked[k]}" for k in ("model", "source", "terms", "digits", "p_cots", "seeds",
                                                    "sft_steps", "grpo_steps", "prompts_per_step", "group_size",
                                                    "eval_size", "k") if k in asked)
    overlap = sum(r["overlap_count"] for r in runs)
    return "\n".join([
        "# LLM study: SFT on a short/long mixture, then GRPO against more SFT", "",
        f"Setting: {setting}.", "",
        f"**Verdict: {word}** (criteria fixed before the runs in `cotmix.llm.study`).", "",
        *[f"- {line}" for line in lines], "",
        f"Held out: {runs[0]['sft']['n_prompts'] if runs else 0} eval problems per run, never trained on "
        f"(overlap counted over every trainer's prompts: {overlap}). Brackets: 95% Wilson intervals over the "
        "eval problems (greedy) or the sampled responses.", "", head, *body, ""])


def draw(runs: list[dict], path: Path, asked: dict) -> None:
    """Four panels: GRPO's long fraction, reward and length per step, and greedy accuracy per stage.
    A run whose premise fails (not counted by the verdict) is dashed, with hollow markers; `asked`
    (llm_study.json) gives the setting in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cotmix.plotting import tidy

    colours = {p: f"C{i}" for i, p in enumerate(sorted({r["p_cot"] for r in runs}))}
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    panels = (("rewards/is_long/mean", "long fraction of rollouts"), ("reward", "reward (rollouts right)"),
              ("completions/mean_length", "response length (tokens)"))
    for ax, (key, title) in zip(axes, panels):
        for r in runs:
            steps = [c["step"] for c in r["curves"] if key in c]
            ax.plot(steps, [c[key] for c in r["curves"] if key in c], color=colours[r["p_cot"]], lw=1, alpha=0.8,
                    ls="-" if premise(r) else "--", label=f"p_cot {r['p_cot']:g}" if r["seed"] == 0 else None)
        ax.set(title=title, xlabel="GRPO step")
        if key != "completions/mean_length":
            ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    ax = axes[3]
    for i, r in enumerate(runs):
        for j, stage in enumerate(("sft", "sft_more", "grpo")):
            value, (lo, hi) = r[stage]["greedy_accuracy"], r[stage]["greedy_accuracy_ci95"]
            x = j + (i - (len(runs) - 1) / 2) * 0.6 / max(1, len(runs))
            ax.errorbar(x, value, yerr=[[value - lo], [hi - value]], fmt="o", ms=3, color=colours[r["p_cot"]],
                        mfc=colours[r["p_cot"]] if premise(r) else "white")
    ax.set(title="greedy accuracy, held out (95% Wilson)", xticks=[0, 1, 2], xticklabels=["SFT", "more SFT", "GRPO"],
           ylim=(0, 1))
    n = runs[0]["sft"]["n_prompts"] if runs else 0
    setting = (f"{asked['model']} on {asked['source']} ({asked['terms']} terms of {asked['digits']} digit(s)), "
               f"SFT {asked['sft_steps']} steps, GRPO {asked['grpo_steps']} steps; ")
    fig.suptitle(f"{setting}{len(runs)} run{'s' * (len(runs) != 1)}, {n} held-out problems each; colour = p_cot; "
                 f"dashed / hollow: premise failed ({sum(not premise(r) for r in runs)} of {len(runs)}, not counted)",
                 fontsize=9)
    tidy(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=150, format="png")
    plt.close(fig)


def collect(out: Path) -> Path:
    """results.parquet, curves.parquet, report.md and report.png from what OUT holds."""
    import pandas as pd

    from cotmix.files import atomic_file, write_text_atomic

    out = Path(out)
    if not (out / "llm_study.json").is_file():
        raise CotmixError(f"{out}: no llm_study.json (not a directory written by `cotmix llm study`)")
    asked = json.loads((out / "llm_study.json").read_text())
    runs = load_runs(out)
    if not runs:
        raise CotmixError(f"{out}: no finished experiment yet (each writes NAME/summary.json when done)")
    with atomic_file(out / "results.parquet") as tmp:
        results_table(runs).to_parquet(tmp)
    curves = pd.DataFrame([{"name": r["name"], "p_cot": r["p_cot"], "seed": r["seed"],
                            **{k: c.get(k) for k in ("step", *CURVES)}} for r in runs for c in r["curves"]])
    with atomic_file(out / "curves.parquet") as tmp:
        curves.to_parquet(tmp)
    with atomic_file(out / "report.png") as tmp:
        draw(runs, tmp, asked)
    write_text_atomic(out / "report.md", report_markdown(runs, asked))
    return out / "report.md"

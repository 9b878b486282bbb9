"""The predictor checked against runs: for each run with an RL phase, cotmix.rl.predict's answer
from the run's first RL evaluation (the starting model), beside what the run then did.

A run "generalised" when its final RL greedy accuracy is >= 0.99. A prediction is right when it said
yes and the run generalised, or no and it did not; "uncertain" predictions are counted apart. Its
speed is right when the predicted steps (rounds for STaR) and the first evaluated step with greedy
>= 0.99 are within a factor of 2, both read at the run's evaluation interval (a step count below it
counts as one interval), over the runs predicted and observed to generalise. Each share carries its
95% Wilson interval and n, and the verdict against the goals fixed before study-predictor ran.

The number that matters is out of sample: runs of sweeps the predictor was neither designed nor
fitted on. DESIGN_SWEEPS are the published sweeps its rules were written after (and, with
STEP_FIT_SWEEPS among them, its step scale fitted on); every other sweep is out of sample, and the
summary gives both sets apart as well as together.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import median

from cotmix.config import config_from_dict
from cotmix.errors import CotmixError
from cotmix.eval.evaluate import GREEDY_LEARNT
from cotmix.eval.stats import wilson
from cotmix.registry import TASKS
from cotmix.rl.predict import REFERENCE_UPDATE, STEP_FIT_SWEEPS, predict, step_time
from cotmix.rundir import read_config, read_metrics, read_summary


def start_of_rl(run_dir: Path) -> tuple[dict, str] | None:
    """(measurements, where from) of the run's step-0 RL evaluation: its validation block, or for a
    run from before the validation split its test metrics; None for a run without RL."""
    first = next((r for r in read_metrics(run_dir, "posttrain") if r.get("eval")), None)
    if first is None:
        return None
    return (first["validation"], "validation") if first.get("validation") else (first, "test (pre-split run)")


# The rules were written after these (docs/theory.md, "Predicting RL"); the step scale was fitted on
# STEP_FIT_SWEEPS, a subset. study-resource-gap-small-d joined on 2026-12-04 with the rule it
# suggested (predict.CHAIN_RESOLVED).
DESIGN_SWEEPS = frozenset({"fig-headline", "fig-temperature", "fig-headline-paper", "study-resource-gap",
                           "study-star-rounds", "study-resource-gap-small-d", *STEP_FIT_SWEEPS})
GOAL_RIGHT = 0.9  # share right on "will it generalise", decided runs
GOAL_SPEED = 0.8  # share of steps within a factor of 2, runs predicted and observed to generalise


def first_generalised_step(run_dir: Path) -> int | None:
    """The first RL evaluation step with test greedy accuracy >= 0.99, or None."""
    return next((r["step"] for r in read_metrics(run_dir, "posttrain")
                 if r.get("eval") and r.get("greedy_accuracy", 0) >= GREEDY_LEARNT), None)


def within_factor_2(predicted: float, observed: float, interval: int) -> bool:
    a, b = max(predicted, interval), max(observed, interval)
    return max(a, b) / min(a, b) <= 2


def fit_step_scale(roots: list[Path]) -> dict:
    """cotmix.rl.predict.STEP_SCALE from runs: the median over the policy-gradient runs that
    generalised of observed steps x (lr x inner steps / REFERENCE_UPDATE) / the model's time at k = 1."""
    from cotmix.experiments.results import run_dirs

    rates = []
    for root in roots:
        for run_dir in run_dirs(Path(root)):
            start, steps = start_of_rl(run_dir), first_generalised_step(run_dir)
            if start is None or steps is None:
                continue
            cfg = config_from_dict(read_config(run_dir))
            task = TASKS.resolve(cfg.task.name, quiet=True)
            time = step_time(start[0].get("long_fraction") or 0.0, task.greedy_threshold())
            if cfg.posttrain.algorithm == "star" or cfg.posttrain.steps == 0 or not time:
                continue
            rates.append(steps * cfg.posttrain.lr * cfg.posttrain.inner_steps / REFERENCE_UPDATE / time)
    return {"step_scale": median(rates) if rates else None, "runs": len(rates),
            "range": [min(rates), max(rates)] if rates else None}


def sweep_of(run_dir: Path) -> str:
    """The sweep a run belongs to: the folder that holds its `runs/` folder (or the run's own parent)."""
    run_dir = Path(run_dir).resolve()
    return run_dir.parent.parent.name if run_dir.parent.name == "runs" else run_dir.parent.name


def replay(root: Path) -> dict:
    """{"rows": one per run with RL, "summary": all runs, "out_of_sample": the runs of sweeps outside
    DESIGN_SWEEPS, each with counts, shares, intervals and verdicts}."""
    from cotmix.experiments.results import run_dirs

    rows = []
    for run_dir in run_dirs(Path(root)):
        start = start_of_rl(run_dir)
        summary = read_summary(run_dir)
        final = (summary.get("posttrain") or {}).get("eval", {}).get("greedy_accuracy")
        if start is None or final is None:
            continue
        try:
            cfg = config_from_dict(read_config(run_dir))
        except CotmixError:  # a config this version cannot read
            continue
        if cfg.posttrain.steps == 0:  # an NTP-only arm: "no RL, no generalisation" would score for free
            continue
        prediction = predict(cfg, start[0])
        observed = "yes" if final >= GREEDY_LEARNT else "no"
        sweep = sweep_of(run_dir)
        row = {"run": str(Path(run_dir).relative_to(root)), "sweep": sweep, "in_sample": sweep in DESIGN_SWEEPS,
               "from": start[1], "predicted": prediction["generalises"],
               "observed": observed, "final_greedy_accuracy": final, "reason": prediction["reason"],
               "predicted_steps": prediction["steps"], "observed_steps": first_generalised_step(run_dir)}
        if row["predicted"] == observed == "yes" and row["predicted_steps"] is not None:
            row["eval_interval"] = cfg.posttrain.eval_interval
            row["speed_right"] = within_factor_2(row["predicted_steps"], row["observed_steps"],
                                                 cfg.posttrain.eval_interval)
        rows.append(row)
    return {"rows": rows, "summary": _summary(rows), "out_of_sample": _summary([r for r in rows if not r["in_sample"]])}


def _summary(rows: list[dict]) -> dict:
    decided = [r for r in rows if r["predicted"] != "uncertain"]
    right = sum(r["predicted"] == r["observed"] for r in decided)
    timed = [r["speed_right"] for r in rows if "speed_right" in r]
    out = {"runs": len(rows), "decided": len(decided), "right": right, "uncertain": len(rows) - len(decided),
           "failures": sum(r["observed"] == "no" for r in rows),
           "share_right": right / len(decided) if decided else None,
           "share_right_ci95": wilson(right, len(decided)) if decided else None,
           "timed": len(timed), "speed_right": sum(timed),
           "share_speed_right": sum(timed) / len(timed) if timed else None,
           "share_speed_right_ci95": wilson(sum(timed), len(timed)) if timed else None}
    out |= seed_spread(rows)
    out["verdict_right"] = _verdict(out["share_right"], GOAL_RIGHT)
    out["verdict_speed"] = _verdict(out["share_speed_right"], GOAL_SPEED)
    return out


def seed_spread(rows: list[dict]) -> dict:
    """The speed share's yardstick: of the timed runs, how many are within a factor of 2 of the
    geometric median of their own setting's observed steps. A setting is the sweep and the run's
    name without its seed (cotmix.experiments.grid names runs so); settings with one timed run are
    left out, a lone run being its own median. That is what a predictor knowing each setting's
    typical speed, but not the seed, would score: a share well under it says the step model misses,
    one near it that the seeds' own spread is what is left."""
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if "speed_right" in r:
            name = ",".join(part for part in Path(r["run"]).name.split(",") if not part.startswith("seed="))
            cells.setdefault((r["sweep"], name), []).append(r)
    cells = {key: cell for key, cell in cells.items() if len(cell) > 1}
    hits = 0
    for cell in cells.values():
        middle = math.exp(median(math.log(max(r["observed_steps"], r["eval_interval"])) for r in cell))
        hits += sum(within_factor_2(middle, r["observed_steps"], r["eval_interval"]) for r in cell)
    timed = sum(len(cell) for cell in cells.values())
    return {"seed_spread_runs": timed, "seed_spread_right": hits, "seed_spread_share": hits / timed if timed else None,
            "seed_spread_settings": len(cells)}


def _verdict(share: float | None, goal: float) -> str:
    return "no runs" if share is None else ("met" if share >= goal else "not met") + f" (goal >= {goal:.2f})"


def format_replay(table: dict) -> str:
    lines = [f"{'run':<60} {'sample':<6} {'from':<10} {'predicted':<10} {'observed':<8} {'final':<6} "
             "steps (predicted/observed)"]
    for r in table["rows"]:
        steps = "" if r["predicted_steps"] is None else f"{r['predicted_steps']:.0f}"
        steps += f"/{'-' if r['observed_steps'] is None else r['observed_steps']}"
        lines.append(f"{r['run'][:60]:<60} {'in' if r['in_sample'] else 'out':<6} {r['from'][:10]:<10} "
                     f"{r['predicted']:<10} {r['observed']:<8} "
                     f"{r['final_greedy_accuracy']:<6.3f} {steps}")
    lines.append("")
    for title, key in (("all runs", "summary"), ("out of sample (sweeps outside DESIGN_SWEEPS)", "out_of_sample")):
        lines += [f"{title}:", *("  " + line for line in summary_lines(table[key]))]
    return "\n".join(lines)


def summary_lines(summary: dict) -> list[str]:
    s, lines = summary, []
    if s["decided"]:
        lo, hi = s["share_right_ci95"]
        lines.append(f"right in {s['right']} of {s['decided']} decided runs ({s['share_right']:.3f} [{lo:.3f}, {hi:.3f}], "
                     f"95% Wilson): {s['verdict_right']}; {s['uncertain']} uncertain; {s['runs']} runs with RL in all, "
                     f"{s['failures']} of them not generalising")
    else:
        lines.append(f"no decided predictions ({s['runs']} runs with RL)")
    if s["timed"]:
        lo, hi = s["share_speed_right_ci95"]
        lines.append(f"steps within a factor of 2 in {s['speed_right']} of {s['timed']} ({s['share_speed_right']:.3f} "
                     f"[{lo:.3f}, {hi:.3f}]): {s['verdict_speed']}")
        lines.append(f"  yardstick: {s['seed_spread_right']} of {s['seed_spread_runs']} timed runs in "
                     f"{s['seed_spread_settings']} settings with 2+ of them are within a factor of 2 of their "
                     "setting's median (the spread across seeds alone)")
    return lines


def verdict(sweep_dir: Path) -> tuple[str, str]:
    """study-predictor's pre-registered verdict (Study.judged_by): both goals on the out-of-sample
    runs under `sweep_dir`: met, not met, or mixed (one met)."""
    s = replay(Path(sweep_dir))["out_of_sample"]
    met = [v.startswith("met") for v in (s["verdict_right"], s["verdict_speed"])]
    word = "met" if all(met) else "not met" if not any(met) else "mixed"
    return word, "; ".join(summary_lines(s))

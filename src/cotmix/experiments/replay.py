"""The predictor checked against runs: for each run with an RL phase, cotmix.rl.predict's answer
from the run's first RL evaluation (the starting model), beside what the run then did.

A run "generalised" when its final RL greedy accuracy is >= 0.99. A prediction is right when it said
yes and the run generalised, or no and it did not; "uncertain" predictions are counted apart. The
share right carries its 95% Wilson interval and n.
"""

from __future__ import annotations

from pathlib import Path

from cotmix.config import config_from_dict
from cotmix.errors import CotmixError
from cotmix.eval.evaluate import GREEDY_LEARNT
from cotmix.eval.stats import wilson
from cotmix.rl.predict import predict
from cotmix.rundir import read_config, read_metrics, read_summary


def start_of_rl(run_dir: Path) -> tuple[dict, str] | None:
    """(measurements, where from) of the run's step-0 RL evaluation: its validation block, or for a
    run from before the validation split its test metrics; None for a run without RL."""
    first = next((r for r in read_metrics(run_dir, "posttrain") if r.get("eval")), None)
    if first is None:
        return None
    return (first["validation"], "validation") if first.get("validation") else (first, "test (pre-split run)")


def replay(root: Path) -> dict:
    """{"rows": one per run with RL, "summary": counts and the share right with its interval}."""
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
        rows.append({"run": str(Path(run_dir).relative_to(root)), "from": start[1], "predicted": prediction["generalises"],
                     "observed": observed, "final_greedy_accuracy": final, "reason": prediction["reason"]})
    decided = [r for r in rows if r["predicted"] != "uncertain"]
    right = sum(r["predicted"] == r["observed"] for r in decided)
    return {"rows": rows, "summary": {"runs": len(rows), "decided": len(decided), "right": right,
                                      "uncertain": len(rows) - len(decided),
                                      "share_right": right / len(decided) if decided else None,
                                      "share_right_ci95": wilson(right, len(decided)) if decided else None}}


def format_replay(table: dict) -> str:
    lines = [f"{'run':<60} {'from':<10} {'predicted':<10} {'observed':<8} final"]
    for r in table["rows"]:
        lines.append(f"{r['run'][:60]:<60} {r['from'][:10]:<10} {r['predicted']:<10} {r['observed']:<8} "
                     f"{r['final_greedy_accuracy']:.3f}")
    s = table["summary"]
    if s["decided"]:
        lo, hi = s["share_right_ci95"]
        lines.append(f"\nright in {s['right']} of {s['decided']} decided runs ({s['share_right']:.3f} [{lo:.3f}, {hi:.3f}], "
                     f"95% Wilson); {s['uncertain']} uncertain; {s['runs']} runs with RL in all")
    else:
        lines.append(f"\nno decided predictions ({s['runs']} runs with RL)")
    return "\n".join(lines)

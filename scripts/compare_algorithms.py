"""Post-train one NTP checkpoint with each RL algorithm and report samples and wall time to
greedy accuracy >= 0.99 (issue: every algorithm generalises from the same checkpoint).

    python scripts/compare_algorithms.py runs/demo --out runs/algorithms
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

SETTINGS = {  # algorithm -> overrides; STaR needs more samples and epochs per round to move at all
    "grpo": [],
    "rloo": [],
    "reinforce": [],
    "star": ["posttrain.prompts_per_step=256", "posttrain.lr=1e-3", "posttrain.star_epochs=3", "posttrain.steps=10",
             "posttrain.eval_interval=1"],
}


def first_reaching(records, key, threshold):
    for r in records:
        if r.get("eval") and r[key] >= threshold:
            return r
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory with a pre-training phase (e.g. runs/demo)")
    parser.add_argument("--out", default="runs/algorithms")
    parser.add_argument("--reward", default="chain", choices=("chain", "e2e"))
    args = parser.parse_args()
    summary = json.loads((Path(args.run) / "summary.json").read_text())
    pre_samples = summary["pretrain"]["samples"]
    rows = []
    for algorithm, extra in SETTINGS.items():
        out = Path(args.out) / f"{algorithm}-{args.reward}"
        if not (out / "summary.json").is_file():
            cmd = [sys.executable, "-m", "cotmix.cli", "posttrain", "--from", args.run, f"posttrain.algorithm={algorithm}",
                   f"posttrain.reward={args.reward}", *extra, "--out", str(out), "--no-progress"]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        hit = first_reaching(records, "greedy_accuracy", 0.99)
        final = json.loads((out / "summary.json").read_text())["posttrain"]["eval"]
        rows.append((algorithm, hit, final))
    print(f"{'algorithm':<10} {'samples to 0.99':>16} {'wall s to 0.99':>15} {'final greedy':>13} {'greedy len':>11} {'long frac':>10}")
    for algorithm, hit, final in rows:
        samples = "-" if hit is None else f"{hit['samples_seen'] - pre_samples:,}"
        wall = "-" if hit is None else f"{hit['wall_s']:.1f}"
        print(f"{algorithm:<10} {samples:>16} {wall:>15} {final['greedy_accuracy']:>13.3f} "
              f"{final['greedy_length_median']:>11.0f} {final['long_fraction']:>10.3f}")
    base = summary.get("baseline", {}).get("eval")
    if base:
        print(f"{'NTP only':<10} {summary['baseline']['samples']:>16,} {'-':>15} {base['greedy_accuracy']:>13.3f} "
              f"{base['greedy_length_median']:>11.0f} {base['long_fraction']:>10.3f}")


if __name__ == "__main__":
    main()

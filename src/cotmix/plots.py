"""Figures from a run directory's metrics.jsonl (matplotlib, no display needed).

`plot_run(run_dir)` draws greedy accuracy and mean sampled response length against
training samples: pre-training, then the two arms (NTP+RL, NTP only), the switch to RL
marked. It is the figure `make demo` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cotmix.phase import read_metrics, read_summary  # noqa: E402

ARMS = (("pretrain", "NTP pre-training", "0.35"), ("baseline", "NTP only (continued)", "tab:blue"),
        ("posttrain", "NTP + RL", "tab:red"))


def _eval_curve(records: list[dict], key: str):
    points = [(r["samples_seen"], r[key]) for r in records if r.get("eval") and r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_run(run_dir: Path, path: Path | None = None, title: str | None = None) -> Path:
    run_dir = Path(run_dir)
    path = Path(path or run_dir / "curves.png")
    summary = read_summary(run_dir)
    records = read_metrics(run_dir)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    panels = (("greedy_accuracy", "greedy accuracy", (0.4, 1.02)),
              ("sampled_length_mean", "mean response length (sampled, tokens incl. EOS)", None))
    for ax, (key, label, ylim) in zip(axes, panels):
        for phase, name, color in ARMS:
            xs, ys = _eval_curve([r for r in records if r["phase"] == phase], key)
            if phase != "pretrain" and "pretrain" in summary:  # start each arm where pre-training ended
                pre_x, pre_y = _eval_curve([r for r in records if r["phase"] == "pretrain"], key)
                if pre_x and (not xs or xs[0] > pre_x[-1]):
                    xs, ys = [pre_x[-1]] + xs, [pre_y[-1]] + ys
            if xs:
                ax.plot(xs, ys, marker="o", markersize=3, color=color, label=name, lw=2 if phase == "posttrain" else 1.5)
        if "pretrain" in summary:
            ax.axvline(summary["pretrain"]["samples"], color="k", ls="--", lw=1)
            ax.annotate("RL starts", (summary["pretrain"]["samples"], ax.get_ylim()[1]), textcoords="offset points",
                        xytext=(4, -12), fontsize=9)
        if key == "greedy_accuracy":
            ax.axhline(0.5, color="0.6", ls=":", lw=1)
        ax.set_xlabel("training samples (demonstrations, then sampled responses)")
        ax.set_ylabel(label)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.suptitle(title or _title(run_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _title(run_dir: Path) -> str:
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        return run_dir.name
    cfg = json.loads(config_path.read_text())
    t, p = cfg["task"], cfg["posttrain"]
    return (f"parity d={t['d']}, p_cot={t['p_cot']}: NTP alone vs NTP + RL "
            f"({p['algorithm']}, {p['reward']} reward, T={p['temperature']})")

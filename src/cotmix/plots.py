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
from matplotlib.ticker import EngFormatter, MaxNLocator  # noqa: E402

from cotmix.phase import read_metrics, read_summary  # noqa: E402

ARMS = (("pretrain", "NTP pre-training", "0.35"), ("baseline", "NTP only (continued)", "tab:blue"),
        ("posttrain", "NTP + RL", "tab:red"))


def _eval_curve(records: list[dict], key: str):
    points = [(r["samples_seen"], r[key]) for r in records if r.get("eval") and r.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_run(run_dir: Path, path: Path | None = None, title: str | None = None) -> Path:
    """Two rows (greedy accuracy, mean sampled length) by two columns on one broken sample axis:
    pre-training on the left, the arms after the switch on the right (RL uses far fewer samples
    than pre-training, so one linear axis would squash it into a sliver)."""
    run_dir = Path(run_dir)
    path = Path(path or run_dir / "curves.png")
    records = read_metrics(run_dir)
    switch = read_summary(run_dir).get("pretrain", {}).get("samples")
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharey="row", constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1.4], "wspace": 0.02})
    rows = (("greedy_accuracy", "greedy accuracy"), ("sampled_length_mean", "mean response length\n(sampled, incl. EOS)"))
    for (key, label), (ax_pre, ax_post) in zip(rows, axes):
        pre_x, pre_y = _eval_curve([r for r in records if r["phase"] == "pretrain"], key)
        for phase, name, color in ARMS:
            if phase == "pretrain":
                ax_pre.plot(pre_x, pre_y, marker="o", markersize=3, color=color, label=name)
                continue
            xs, ys = _eval_curve([r for r in records if r["phase"] == phase], key)
            if pre_x and xs and xs[0] > pre_x[-1]:  # both arms start from the last pre-training point
                xs, ys = [pre_x[-1]] + xs, [pre_y[-1]] + ys
            if xs:
                ax_post.plot(xs, ys, marker="o", markersize=3, color=color, label=name, lw=2)
        if key == "greedy_accuracy" and _task_name(run_dir) == "parity":  # chance level of a parity guess
            for ax in (ax_pre, ax_post):
                ax.axhline(0.5, color="0.6", ls=":", lw=1)
        if switch is not None:
            ax_post.axvline(switch, color="k", ls="--", lw=1)
        ax_pre.set_ylabel(label)
        for ax in (ax_pre, ax_post):
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.xaxis.set_major_locator(MaxNLocator(5))
    axes[0][0].set_title("NTP pre-training", fontsize=10)
    axes[0][1].set_title("after the switch (dashed): RL vs NTP only", fontsize=10)
    # Parity sits at 0.5 or above; other tasks can start near 0, so never clip the data.
    lowest = min((r["greedy_accuracy"] for r in records if r.get("eval") and r.get("greedy_accuracy") is not None),
                 default=0.5)
    axes[0][0].set_ylim(min(0.4, lowest - 0.05), 1.03)
    axes[1][0].set_xlabel("training samples (demonstrations)")
    axes[1][1].set_xlabel("training samples (+ sampled responses for RL)")
    handles = [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    labels = [lab for ax in axes[0] for lab in ax.get_legend_handles_labels()[1]]
    axes[0][1].legend(handles, labels, loc="best")
    fig.suptitle(title or _title(run_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _task_name(run_dir: Path) -> str | None:
    config_path = run_dir / "config.json"
    return json.loads(config_path.read_text())["task"]["name"] if config_path.is_file() else None


def _title(run_dir: Path) -> str:
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        return run_dir.name
    cfg = json.loads(config_path.read_text())
    t, p = cfg["task"], cfg["posttrain"]
    size = f"d={t['d']}" if t["name"] == "parity" else f"{t['digits_a']}x{t['digits_b']} digits"
    return (f"{t['name']} {size}, p_cot={t['p_cot']}: NTP alone vs NTP + RL "
            f"({p['algorithm']}, {p['reward']} reward, T={p['temperature']})")

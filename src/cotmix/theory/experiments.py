"""`cotmix theory`: run the linear model and put the measurements next to the closed forms.

(a) calibration across p_cot, (b) greedy accuracy across p_cot around 1/3, (c) STaR rounds
with the chain reward from several p_0. Writes theory.json (predicted vs measured, per seed),
calibration.png, threshold.png and star.png, and returns the table it prints.

    cotmix theory --d 20 --out runs/theory
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import torch

from cotmix.errors import CotmixError
from cotmix.eval.stats import growth_laws
from cotmix.files import read_json_file, write_json_atomic
from cotmix.model.memory import check_fits
from cotmix.options import check_fields
from cotmix.plotting import is_figure
from cotmix.theory import closed_form as cf
from cotmix.theory.config import TheoryConfig
from cotmix.theory.linear_model import evaluate_linear
from cotmix.theory.train import pretrain_linear, star_round


def _runs(ps: list[float], seeds: int) -> torch.Tensor:
    """Each p repeated for every seed: (len(ps) * seeds,), seed-major within each p."""
    return torch.tensor(ps, dtype=torch.float32).repeat_interleave(seeds)


def _per_p(values: torch.Tensor, seeds: int) -> list[list[float]]:
    return [row.tolist() for row in values.view(-1, seeds)]


OUTPUTS = ("theory.json", "calibration.png", "threshold.png", "star.png", "complexity.png")
STAR_CHUNK = 1 << 16  # responses a STaR round samples at once (cotmix.theory.train.star_round)


def estimate_bytes(cfg: TheoryConfig) -> int:
    """Peak memory of run_theory, roughly: the features of the largest batch of rows, over all runs at
    once (about 2 x 3d floats a row, measured at d = 20: 1.4 GB at 10 runs x 262,144 rows)."""
    runs = max(len(set(cfg.calibration_grid) | set(cfg.threshold_grid)), len(cfg.star_p0)) * cfg.seeds
    rows = max(cfg.eval_samples, cfg.batch, min(cfg.star_samples, STAR_CHUNK) if cfg.star_rounds else 0)
    d = max([cfg.d, *cfg.complexity_d])
    return 4 * 2 * 3 * d * runs * rows


def check_theory_out(out: Path) -> None:
    """--out is new, empty, or an earlier `cotmix theory` folder (whose files this command may replace)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CotmixError(f"--out {out}: is {'a link' if out.is_symlink() else 'a file'}, not a folder")
    theirs = [p.name for p in out.glob("*") if out.is_dir() and not (
        (p.name == "theory.json" and _is_theory_json(p)) or (p.name in OUTPUTS and is_figure(p)))]
    if theirs:
        raise CotmixError(f"--out {out}: holds {theirs[0]!r}, which `cotmix theory` did not write; choose a new or "
                          "empty folder (an earlier theory folder may be reused)")


def _is_theory_json(path: Path) -> bool:
    try:
        obj = read_json_file(path)
    except CotmixError:
        return False
    return isinstance(obj, dict) and {"config", "pretrain", "star"} <= set(obj)


def run_theory(cfg: TheoryConfig, out: Path, progress=print) -> dict:
    check_fields(cfg, name=lambda f: "--" + f.name.replace("_", "-"))
    check_fits(estimate_bytes(cfg), f"--d {cfg.d} with {cfg.seeds} seed(s) and batches of up to "
               f"{max(cfg.eval_samples, cfg.batch, min(cfg.star_samples, STAR_CHUNK)):,} rows",
               "lower --eval-samples, --batch, --star-samples or --seeds")
    out = Path(out)
    check_theory_out(out)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(cfg.seed)
    started = time.perf_counter()
    result: dict = {"config": asdict(cfg)}

    # (a) + (b): one vectorised pre-training over every p of both grids and every seed.
    grid = sorted(set(cfg.calibration_grid) | set(cfg.threshold_grid))
    progress(f"Algorithm 3 on D(p) for {len(grid)} values of p_cot x {cfg.seeds} seed(s), d = {cfg.d}")
    model = pretrain_linear(_runs(grid, cfg.seeds), cfg.d, cfg.lam, cfg.lam_chain, cfg.steps, cfg.chain_steps,
                            cfg.batch, gen, cfg.chain_from_mixture)
    metrics = evaluate_linear(model, cfg.eval_samples, gen)
    result["pretrain"] = [
        {"p_cot": p, "predicted": {**cf.calibration(p), "greedy_accuracy": cf.greedy_accuracy(p)},
         "measured": {k: _per_p(v, cfg.seeds)[i] for k, v in metrics.items()}}
        for i, p in enumerate(grid)]

    # (c) STaR with the chain reward.
    star = {"p0": cfg.star_p0, "rounds": []}
    if cfg.star_rounds:
        model = pretrain_linear(_runs(cfg.star_p0, cfg.seeds), cfg.d, cfg.lam, cfg.lam_chain, cfg.steps,
                                cfg.chain_steps, cfg.batch, gen, cfg.chain_from_mixture)
        star["rounds"].append({"round": 0, **{k: _per_p(v, cfg.seeds) for k, v in evaluate_linear(
            model, cfg.eval_samples, gen).items()}})
        for n in range(1, cfg.star_rounds + 1):
            progress(f"STaR round {n}/{cfg.star_rounds} ({cfg.star_samples:,} samples per run)")
            model, stats = star_round(model, cfg.star_samples, cfg.lam, cfg.lam_chain, cfg.star_batch, "chain",
                                      cfg.chain_steps, gen)
            measured = evaluate_linear(model, cfg.eval_samples, gen)
            star["rounds"].append({"round": n, **{k: _per_p(v, cfg.seeds) for k, v in {**measured, **stats}.items()}})
    star["predicted"] = [[cf.star_closed_form(p0, n) for n in range(cfg.star_rounds + 1)] for p0 in cfg.star_p0]
    star["predicted_round_to_generalise"] = [cf.star_rounds_to_generalise(p0) for p0 in cfg.star_p0]
    result["star"] = star
    if cfg.complexity_d:
        result["complexity"] = sample_complexity(cfg, gen, progress)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["warnings"] = convergence_warnings(result)
    write_json_atomic(out / "theory.json", result)
    from cotmix.theory.figures import plot_theory

    plot_theory(result, out)
    return result


def generalises_after_star(cfg: TheoryConfig, d: int, p0: float, steps: int, gen: torch.Generator) -> bool:
    """Algorithm 3 for `steps` minibatches (chain positions on the mixture's long samples), then STaR
    rounds (each on steps x batch samples, up to two past the closed form's prediction): is greedy
    decoding then right >= 0.99 of the time, in every seed?"""
    runs = _runs([p0], cfg.seeds)
    model = pretrain_linear(runs, d, cfg.lam, cfg.lam_chain, steps, steps, cfg.batch, gen, chain_from_mixture=True)
    for _ in range(cf.star_rounds_to_generalise(p0) + 2):
        if (evaluate_linear(model, cfg.eval_samples, gen)["greedy_accuracy"] >= 0.99).all():
            return True
        model, _ = star_round(model, steps * cfg.batch, cfg.lam, cfg.lam_chain, cfg.batch, "chain", steps, gen)
    return bool((evaluate_linear(model, cfg.eval_samples, gen)["greedy_accuracy"] >= 0.99).all())


def sample_complexity(cfg: TheoryConfig, gen: torch.Generator, progress=print) -> dict:
    """For each d x p_cot: the fewest pre-training samples (minibatches of cfg.batch, from 4, each try
    complexity_factor times the last) after which STaR with the chain reward generalises; None when
    complexity_max_steps is not enough. Theorem 2 says this grows polynomially in d while p_cot is
    not exponentially small in d; `fits` says whether a power of d or an exponential in d fits better."""
    rows = []
    for p0 in cfg.complexity_p:
        for d in cfg.complexity_d:
            steps = 4
            while steps <= cfg.complexity_max_steps and not generalises_after_star(cfg, d, p0, steps, gen):
                steps = max(steps + 1, round(steps * cfg.complexity_factor))
            found = steps if steps <= cfg.complexity_max_steps else None
            progress(f"sample complexity d = {d}, p_cot = {p0}: "
                     f"{'> cap' if found is None else f'{found * cfg.batch:,} samples'}")
            rows.append({"d": d, "p_cot": p0, "steps": found, "samples": found and found * cfg.batch})
    return {"rows": rows, "growth": complexity_growth(rows), "fits": complexity_fits(rows),
            "cap_samples": cfg.complexity_max_steps * cfg.batch}


def complexity_growth(rows: list[dict]) -> dict:
    """Per p_cot, the slope k of log(samples) on log(d): samples ~ d^k (None with < 2 points found)."""
    out = {}
    for p0 in sorted({r["p_cot"] for r in rows}):
        pts = [(math.log(r["d"]), math.log(r["samples"])) for r in rows if r["p_cot"] == p0 and r["samples"]]
        if len({x for x, _ in pts}) < 2:
            out[str(p0)] = None
            continue
        mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
        out[str(p0)] = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return out


def complexity_fits(rows: list[dict]) -> dict:
    """Per p_cot, both candidate forms fitted by least squares on the budgets found: samples ~ d^k
    (log samples on log d) and samples ~ e^(r d) (log samples on d), each slope with its 95% t
    interval, and which leaves the smaller residual (None with fewer than 3 points: two points fit
    either form exactly). Censored d are left out, so they only bound the fits from below."""
    out = {}
    for p0 in sorted({r["p_cot"] for r in rows}):
        found = [r for r in rows if r["p_cot"] == p0 and r["samples"]]
        fits = growth_laws([r["d"] for r in found], [r["samples"] for r in found])
        out[str(p0)] = fits or {"power": None, "exponential": None, "better": None}
    return out


# A measured long fraction further than this from the closed form is not sampling noise (at the default
# 16,384 evaluation samples, 3 sd of a fraction is under 0.012): the fit had too few steps to converge.
NOT_CONVERGED = 0.1


def convergence_warnings(result: dict) -> list[str]:
    """One line per part of the run whose measurement is far from what a converged model does:
    Algorithm 3's long fraction against p_cot, and STaR's last round against 2p/(1+p)."""
    cfg, lines = result["config"], []
    off = [(row["p_cot"], sum(m := row["measured"]["long_fraction"]) / len(m), row["predicted"]["long_correct"])
           for row in result["pretrain"]]
    off = [(p, got, want) for p, got, want in off if abs(got - want) > NOT_CONVERGED]
    if off:
        p, got, want = off[0]
        lines.append(f"Algorithm 3 did not converge at {len(off)} of {len(result['pretrain'])} p_cot values (p_cot = {p}: "
                     f"long fraction {got:.3f}, a converged model's {want:.3f}); raise --steps and --chain-steps "
                     f"(now {cfg['steps']} and {cfg['chain_steps']})")
    star = result["star"]
    if star["rounds"]:
        last = star["rounds"][-1]
        behind = [(p0, sum(v) / len(v), star["predicted"][i][last["round"]])
                  for i, (p0, v) in enumerate(zip(star["p0"], last["long_fraction"]))]
        behind = [(p0, got, want) for p0, got, want in behind if want - got > NOT_CONVERGED]
        if behind:
            p0, got, want = behind[0]
            lines.append(f"STaR lags its recursion at {len(behind)} of {len(star['p0'])} p0 values (p0 = {p0}, round "
                         f"{last['round']}: long fraction {got:.3f}, 2p/(1+p) gives {want:.3f}); raise --star-samples "
                         f"(now {cfg['star_samples']:,}) or --chain-steps")
    return lines


def format_theory_table(result: dict) -> str:
    """Predicted vs measured, averaged over seeds."""
    def mean(xs):
        return sum(xs) / len(xs)

    lines = [f"Linear model, d = {result['config']['d']}: calibration after Algorithm 3",
             f"{'p_cot':>6} {'long pred':>10} {'long meas':>10} {'short acc':>10} {'greedy pred':>12} {'greedy meas':>12}"]
    for row in result["pretrain"]:
        m, pr = row["measured"], row["predicted"]
        lines.append(f"{row['p_cot']:>6.3f} {pr['long_correct']:>10.3f} {mean(m['long_fraction']):>10.3f} "
                     f"{mean(m['short_accuracy']):>10.3f} {pr['greedy_accuracy']:>12.2f} {mean(m['greedy_accuracy']):>12.3f}")
    star = result["star"]
    if star["rounds"]:
        lines += ["", "STaR with the chain reward: long fraction per round (measured / closed form) and greedy accuracy"]
        lines.append(f"{'round':>5} " + " ".join(f"{'p0=' + format(p0, 'g'):>24}" for p0 in star["p0"]))
        for r in star["rounds"]:
            n = r["round"]
            cells = [f"{mean(r['long_fraction'][i]):.3f}/{star['predicted'][i][n]:.3f} g={mean(r['greedy_accuracy'][i]):.2f}"
                     for i in range(len(star["p0"]))]
            lines.append(f"{n:>5} " + " ".join(f"{c:>24}" for c in cells))
        lines.append("predicted first round with greedy accuracy 1: "
                     + ", ".join(f"p0={p0:g}: {n}" for p0, n in zip(star["p0"], star["predicted_round_to_generalise"])))
    if "complexity" in result:
        c = result["complexity"]
        lines += ["", "Sample complexity: pre-training samples after which STaR generalises (Algorithm 3, chain "
                  "positions on the mixture's long samples)"]
        for r in c["rows"]:
            lines.append(f"  d = {r['d']:>3}, p_cot = {r['p_cot']:<5}: "
                         + (f"{r['samples']:>12,}" if r["samples"] else f"> {c['cap_samples']:,}"))
        lines.append("growth: " + ", ".join(f"p_cot={p}: " + ("-" if k is None else f"samples ~ d^{k:.2f}")
                                            for p, k in c["growth"].items()))
        for p, fit in c.get("fits", {}).items():
            power, exponential = fit["power"], fit["exponential"]
            if power and power["ci95"]:
                lines.append(f"  p_cot={p}: d^k with k {power['slope']:.2f} [{power['ci95'][0]:.2f}, "
                             f"{power['ci95'][1]:.2f}]; e^(r d) with r {exponential['slope']:.3f} "
                             f"[{exponential['ci95'][0]:.3f}, {exponential['ci95'][1]:.3f}]; better fit: {fit['better']} "
                             f"({power['points']} points)")
    lines.append(f"wall time {result['wall_s']} s")
    return "\n".join(lines)

"""`cotmix bench`: throughput of cotmix against its peers, measured in the same run.

Every number that compares two implementations is a ratio from one process on the same
shapes, data and weights, so a noisy machine shifts both sides alike. Nothing here asserts
a timing; tests only run it on a tiny shape.

    cotmix bench --out runs/bench.json          # the full table (about 3 minutes on 2 cores)
    cotmix bench --device cuda                  # the same table on a GPU (fp32 rows stay fp32)

On a GPU every timed call ends with torch.cuda.synchronize, so its wall time covers the work
it queued, and TRL runs on the same GPU.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from cotmix.bench.size import BenchSize
from cotmix.config import Config, load_config
from cotmix.model.device import synchronize
from cotmix.model.sampler import generate
from cotmix.model.transformer import build_model
from cotmix.tasks import make_task
from cotmix.tasks.base import response_lengths
from cotmix.train.losses import ntp_loss
from cotmix.train.optim import make_optimizer

CPU = torch.device("cpu")

def bench_config(d: int, flavour: str = "gpt2") -> Config:
    """The benchmarked task and model: the demo's p_cot at every d, so rows of the table compare."""
    return load_config(overrides=[f"task.d={d}", "task.p_cot=0.25", f"model.flavour={flavour}"])


def synced(fn, device: torch.device):
    """fn, then a wait for the GPU work it queued (a no-op on the CPU)."""
    def call():
        fn()
        synchronize(device)
    return call


def pretrained_weights(cfg: Config, steps: int, device: torch.device) -> dict:
    """The weights RL starts from: `steps` NTP steps on cfg's task (the full bench uses the
    demo's 800 at d = 20, p_cot = 0.25). Such a model is length-calibrated: 3/4 of its answers
    stop after 2 tokens and 1/4 run to d+1, the mixture that RL samples. A random model
    instead stops at any token."""
    from cotmix.loops.pretrain import train_ntp
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    cfg = copy.deepcopy(cfg)
    cfg.pretrain.steps = cfg.pretrain.eval_interval = cfg.pretrain.ckpt_interval = steps
    cfg.pretrain.stop_when = "none"  # a fixed number of steps to time: no rule to miss and warn about
    cfg.eval.n_prompts, cfg.device = 256, str(device)
    with tempfile.TemporaryDirectory() as tmp:
        train_ntp(cfg, Path(tmp), progress=False)
        return load_checkpoint(resolve_checkpoint(tmp)).model_tensors


def interleaved_medians(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """Median seconds of each function, timed in turns (a, b, a, b, ...) rather than one after
    the other, so a machine that speeds up or slows down during the run biases no side.
    On a GPU pass functions wrapped by `synced`."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_rate(m: int, k: int, n: int, dtype: torch.dtype = torch.float32, repeats: int = 10,
                device: torch.device = CPU) -> float:
    """Measured FLOP/s of an (m, k) @ (k, n) matmul in `dtype` on `device`."""
    a, b = torch.randn(m, k).to(device, dtype), torch.randn(k, n).to(device, dtype)
    return 2 * m * k * n / median_seconds(synced(lambda: a @ b, device), repeats, warmup=3)


def matmul_peak(dtype: torch.dtype, device: torch.device = CPU, repeats: int = 10) -> float:
    """The machine's peak as measured: FLOP/s of a square matmul in `dtype` (1024 on the CPU,
    8192 on a GPU, which a smaller one cannot fill)."""
    n = 1024 if device.type == "cpu" else 8192
    return matmul_rate(n, n, n, dtype, repeats, device)


def model_flops_per_token(model, context: int, training: bool) -> float:
    """nanoGPT's estimate: 2N per token forward (6N with backward) for the non-embedding weights,
    plus attention scores and values over `context` positions."""
    cfg = model.cfg
    n = sum(p.numel() for name, p in model.named_parameters() if "embed" not in name)
    attention = 4 * cfg.n_layer * cfg.d_model * context
    return (3 if training else 1) * (2 * n + attention)


class LogitsOnly(torch.nn.Module):
    """A Hugging Face causal LM called like a cotmix model: idx -> logits, so that it can run
    cotmix's own `ntp_loss` (the "same loss code" row: the model implementations alone)."""

    def __init__(self, hf):
        super().__init__()
        self.hf = hf

    def forward(self, idx):
        return self.hf(idx, attention_mask=torch.ones_like(idx)).logits


def _ntp_step(model, optimizer, task, batch):
    loss = ntp_loss(model, task, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _hf_ntp_step(hf, optimizer, task, batch):
    """A step the way transformers users train: the right-padded batch with its attention mask,
    prompt and PAD positions labelled -100, the model's own shifted cross-entropy."""
    sequences = batch.sequences()
    labels = sequences.masked_fill(sequences == task.pad_id, -100)
    labels[:, : task.prompt_len] = -100
    loss = hf(sequences, attention_mask=(sequences != task.pad_id).long(), labels=labels).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def bench_training(cfg: Config, size: BenchSize, peers: bool, device: torch.device = CPU) -> dict:
    """Seconds per NTP step on one batch of demonstrations. tokens_per_s counts the batch's real
    (non-PAD) tokens, the same for every row, so ratios are ratios of step times."""
    from cotmix.hf import hf_model

    task = make_task(cfg.task)
    torch.manual_seed(0)
    ours = build_model(cfg.model, task)
    batch = task.sample(size.batch, torch.Generator().manual_seed(0)).to(device)
    sequences = batch.sequences()
    tokens = int((sequences != task.pad_id).sum())
    steps = {"cotmix": (ours, _ntp_step)}
    if peers:
        steps["hf"] = (hf_model(ours, task.eos_id, task.pad_id), _hf_ntp_step)
        steps["hf_same_loss"] = (LogitsOnly(hf_model(ours, task.eos_id, task.pad_id)), _ntp_step)
        bf16 = build_model(cfg.model, task)
        bf16.autocast_dtype = torch.bfloat16  # as `precision=bf16` sets it (cotmix.model.device.place)
        steps["cotmix_bf16"] = (bf16, _ntp_step)
    timed = {name: synced(partial(step, model.to(device), make_optimizer(model, 1e-4), task, batch), device)
             for name, (model, step) in steps.items()}
    seconds = interleaved_medians(timed, size.repeats)
    result = {name: {"tokens_per_s": tokens / s, "step_s": s} for name, s in seconds.items()}
    # Positions cotmix computes: each row up to its last real token (cotmix.model.buckets), minus the last.
    computed = tokens - size.batch
    flops = model_flops_per_token(ours, sequences.shape[1] / 2, training=True) * computed / result["cotmix"]["step_s"]
    result["cotmix"]["flop_per_s"] = flops
    # The ceiling at this model's shapes: its biggest matmul (the MLP's up-projection over every
    # computed token) alone, in fp32. Small widths cannot reach the square-matmul peak.
    width = cfg.model.d_model
    result["cotmix"]["mlp_matmul_flop_per_s"] = matmul_rate(computed, width, int(cfg.model.mlp_ratio * width),
                                                            device=device)
    return result


def bench_sampling(cfg: Config, size: BenchSize, peers: bool, device: torch.device = CPU,
                   weights: dict | None = None) -> dict:
    """Generated tokens/s of 1024 prompts, one sample each, until every row has stopped; from
    random weights, or from `weights` (see pretrained_weights)."""
    from cotmix.hf import hf_model

    task = make_task(cfg.task)
    torch.manual_seed(0)
    ours = build_model(cfg.model, task).eval()
    if weights is not None:
        ours.load_state_dict(weights)
    ours.to(device)
    prompts = task.sample(size.sample_prompts, torch.Generator().manual_seed(1)).prompts.to(device)
    limit = task.long_response_len
    counted = {}

    def run_ours():
        out = generate(ours, prompts, max_new_tokens=limit, temperature=1.0, eos_id=task.eos_id, pad_id=task.pad_id,
                       generator=torch.Generator().manual_seed(0))
        counted["cotmix"] = int(out.lengths.sum())

    timed = {"cotmix": synced(run_ours, device)}
    if peers:
        hf = hf_model(ours, task.eos_id, task.pad_id).eval().to(device)

        @torch.no_grad()
        def run_hf():
            out = hf.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, max_new_tokens=limit,
                              temperature=1.0, top_k=0, top_p=1.0, eos_token_id=task.eos_id, pad_token_id=task.pad_id)
            counted["hf"] = int(response_lengths(out[:, prompts.shape[1] :], task.eos_id).sum())

        timed["hf"] = synced(run_hf, device)
    result = {name: {"step_s": s, "tokens_per_s": counted[name] / s} for name, s in
              interleaved_medians(timed, size.repeats).items()}
    context = task.prompt_len + limit / 2
    result["cotmix"]["flop_per_s"] = model_flops_per_token(ours, context, training=False) * result["cotmix"]["tokens_per_s"]
    return result


def bench_rl_step(cfg: Config, size: BenchSize, peers: bool, device: torch.device = CPU,
                  weights: dict | None = None) -> dict:
    """Seconds per GRPO step (sample, score, one update) from random weights or `weights`."""
    from cotmix.rl.algorithms import ALGORITHMS, RLContext, frozen_copy

    task = make_task(cfg.task)
    torch.manual_seed(0)
    model = build_model(cfg.model, task)
    if weights is not None:
        model.load_state_dict(weights)
    model.to(device)
    cfg.posttrain.prompts_per_step, cfg.posttrain.group_size, cfg.posttrain.inner_steps = size.rl_prompts, size.rl_group, 1
    ctx = RLContext(cfg=cfg, task=task, model=model, ref_model=frozen_copy(model), optimizer=make_optimizer(model, 1e-4),
                    data_gen=torch.Generator().manual_seed(0), sample_gen=torch.Generator().manual_seed(1),
                    max_new_tokens=task.long_response_len)
    result = {"cotmix": {"step_s": median_seconds(synced(lambda: ALGORITHMS["grpo"](ctx), device), size.repeats)}}
    if peers:
        from cotmix.bench.peers import trl_grpo_step_seconds
        from cotmix.hf import hf_model

        torch.manual_seed(0)
        fresh = build_model(cfg.model, task)
        if weights is not None:
            fresh.load_state_dict(weights)
        with tempfile.TemporaryDirectory() as workdir:
            result["trl"] = {"step_s": trl_grpo_step_seconds(hf_model(fresh, task.eos_id, task.pad_id), task, size.rl_prompts, size.rl_group,
                                                             1e-4, steps=max(2, size.repeats), workdir=workdir,
                                                             use_cpu=device.type == "cpu")}
    return result


def bench_scaling(size: BenchSize, device: torch.device = CPU) -> list[dict]:
    rows = []
    for d in size.scaling_d:
        cfg = bench_config(d)
        train = bench_training(cfg, BenchSize(d=d, batch=size.batch, repeats=size.repeats), peers=False, device=device)
        rl = bench_rl_step(cfg, BenchSize(d=d, rl_prompts=size.rl_prompts, rl_group=size.rl_group,
                                          repeats=size.repeats), peers=False, device=device)
        rows.append({"d": d, "ntp_step_s": train["cotmix"]["step_s"], "rl_step_s": rl["cotmix"]["step_s"]})
    return rows


def bench_time_to_generalise(device: torch.device = CPU) -> dict:
    """Wall time of the demo configuration (no baseline arm) until greedy accuracy >= 0.99."""
    from cotmix.api import run
    from cotmix.rundir import read_metrics

    cfg = load_config(preset="demo", overrides=["posttrain.baseline_arm=false", "posttrain.eval_interval=1",
                                                f"device={device}"])
    with tempfile.TemporaryDirectory() as tmp:
        run(cfg, Path(tmp) / "run", progress=False)
        records = read_metrics(Path(tmp) / "run")
    pre = max(r["wall_s"] for r in records if r["phase"] == "pretrain")
    hit = next((r for r in records if r["phase"] == "posttrain" and r.get("eval") and r["greedy_accuracy"] >= 0.99), None)
    return {"pretrain_s": pre, "seconds": None if hit is None else pre + hit["wall_s"],
            "rl_samples": None if hit is None else hit["samples_seen"] - min(r["samples_seen"] for r in records if r["phase"] == "posttrain")}


def check_bench_memory(size: BenchSize) -> None:
    """Refuse, before anything is allocated, shapes whose largest row needs more memory than is free
    (the peers allocate about as much again as cotmix)."""
    from cotmix.model.memory import check_fits, estimate_bytes

    cfg = bench_config(max([size.d, *size.scaling_d]), "llama")
    cfg.pretrain.batch_size, cfg.eval.batch_size = size.batch, size.sample_prompts
    cfg.posttrain.prompts_per_step, cfg.posttrain.group_size = size.rl_prompts, size.rl_group
    task = make_task(cfg.task)
    need = 2 * estimate_bytes(cfg, task.prompt_len, task.long_response_len, task.vocab_size)
    check_fits(need, f"--batch {size.batch} --sample-prompts {size.sample_prompts} --rl-prompts {size.rl_prompts} "
               f"--rl-group {size.rl_group} at d up to {cfg.task.d}", "lower them")


def quiet_peers() -> None:
    """The peers' own chatter (transformers' advice, deprecation FutureWarnings, TRL's progress bar
    and its log dict) would land between the benchmark's lines; their numbers are what is kept."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl)\b")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|trl)\b")
    try:
        from transformers.utils import logging
    except ImportError:  # --no-peers without the bench extra
        return
    logging.set_verbosity_error()
    logging.disable_progress_bar()


def run_bench(size: BenchSize = BenchSize(), flavours=("gpt2", "llama"), peers: bool = True, progress=print,
              device: torch.device = CPU) -> dict:
    check_bench_memory(size)
    quiet_peers()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    out = {"threads": torch.get_num_threads(), "device": str(device), "device_name": name, "size": size.__dict__}
    progress(f"matmul peak (fp32, bf16) on {name}")
    out["peak_flop_per_s"] = {"fp32": matmul_peak(torch.float32, device), "bf16": matmul_peak(torch.bfloat16, device)}
    weights = {}
    for flavour in flavours:
        cfg = bench_config(size.d, flavour)
        progress(f"{flavour}: NTP training, sampling from random weights")
        out[f"train_{flavour}"] = bench_training(cfg, size, peers, device)
        out[f"sample_{flavour}"] = bench_sampling(cfg, size, peers, device)
        progress(f"{flavour}: {size.pretrain_steps} NTP steps, then sampling from the pre-trained model")
        weights[flavour] = pretrained_weights(cfg, size.pretrain_steps, device)
        out[f"sample_{flavour}_pretrained"] = bench_sampling(cfg, size, peers, device, weights[flavour])
    progress("GRPO step from the pre-trained model vs TRL GRPOTrainer")
    out["rl_step"] = bench_rl_step(bench_config(size.d), size, peers, device, weights.get("gpt2"))
    progress("scaling with d")
    out["scaling"] = bench_scaling(size, device)
    if size.time_to_generalise:
        progress("time to generalise (demo configuration)")
        out["time_to_generalise"] = bench_time_to_generalise(device)
    return out


def format_bench(r: dict) -> str:
    peak = r["peak_flop_per_s"]
    lines = [f"{r.get('device_name', 'CPU')}: torch threads {r['threads']}; matmul peak fp32 {peak['fp32'] / 1e9:.1f} GFLOP/s, "
             f"bf16 {peak['bf16'] / 1e9:.1f} GFLOP/s", "",
             f"{'measurement':<34} {'cotmix':>14} {'peer':>14} {'ratio':>7}"]

    def row(label, ours, peer, unit, higher_is_better=True):
        if peer is None:
            lines.append(f"{label:<34} {ours:>10.3g} {unit:<3} {'-':>14} {'-':>7}")
            return
        ratio = ours / peer if higher_is_better else peer / ours
        lines.append(f"{label:<34} {ours:>10.3g} {unit:<3} {peer:>10.3g} {unit:<3} {ratio:>6.2f}x")

    for flavour in ("gpt2", "llama"):
        if f"train_{flavour}" not in r:
            continue
        t, s = r[f"train_{flavour}"], r[f"sample_{flavour}"]
        row(f"NTP train tok/s ({flavour} vs HF)", t["cotmix"]["tokens_per_s"], t.get("hf", {}).get("tokens_per_s"), "t/s")
        row("  same loss code: model alone", t["cotmix"]["tokens_per_s"], t.get("hf_same_loss", {}).get("tokens_per_s"), "t/s")
        if "cotmix_bf16" in t:
            row("  bf16 autocast (vs cotmix fp32)", t["cotmix_bf16"]["tokens_per_s"], t["cotmix"]["tokens_per_s"], "t/s")
        row(f"sampling tok/s ({flavour} vs generate)", s["cotmix"]["tokens_per_s"], s.get("hf", {}).get("tokens_per_s"), "t/s")
        if f"sample_{flavour}_pretrained" in r:
            pre = r[f"sample_{flavour}_pretrained"]
            row("  from the pre-trained model", pre["cotmix"]["tokens_per_s"], pre.get("hf", {}).get("tokens_per_s"), "t/s")
        lines.append(f"{'  NTP share of fp32 peak':<34} {t['cotmix']['flop_per_s'] / peak['fp32']:>13.1%}")
        if "mlp_matmul_flop_per_s" in t["cotmix"]:
            lines.append(f"{'    its MLP matmul alone reaches':<34} {t['cotmix']['mlp_matmul_flop_per_s'] / peak['fp32']:>13.1%}")
        lines.append(f"{'  sampling share of fp32 peak':<34} {s['cotmix']['flop_per_s'] / peak['fp32']:>13.1%}")
    rl = r["rl_step"]
    row("GRPO step s, pre-trained (vs TRL)", rl["cotmix"]["step_s"], rl.get("trl", {}).get("step_s"), "s", higher_is_better=False)
    lines += ["", f"{'d':>5} {'NTP step s':>11} {'RL step s':>10}"]
    lines += [f"{x['d']:>5} {x['ntp_step_s']:>11.4f} {x['rl_step_s']:>10.4f}" for x in r["scaling"]]
    if "time_to_generalise" in r:
        g = r["time_to_generalise"]
        lines.append(f"\ntime to greedy accuracy >= 0.99 (demo config): "
                     f"{'not reached' if g['seconds'] is None else format(g['seconds'], '.1f') + ' s'} "
                     f"(pre-training {g['pretrain_s']:.1f} s)")
    return "\n".join(lines)

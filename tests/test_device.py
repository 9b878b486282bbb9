"""Device and precision: auto-detection, one-line errors for a GPU that is not there, and
bf16 autocast giving the same answers as fp32 (checked on the CPU, which has bf16 too)."""

import copy
import os
import subprocess
import sys

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from cotmix.errors import ConfigError
from cotmix.eval.evaluate import _decode_in_chunks
from cotmix.experiments.results import run_row
from cotmix.loops.pretrain import train_ntp
from cotmix.model.device import autocast_dtype, place, resolve_device
from cotmix.model.transformer import build_model
from cotmix.rundir import read_summary
from cotmix.tasks import make_task
from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint
from cotmix.train.losses import ntp_loss


def test_auto_means_cuda_only_when_torch_sees_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert autocast_dtype(torch.device("cpu"), "auto") is None  # fp32 on the CPU
    assert autocast_dtype(torch.device("cuda"), "auto") == torch.bfloat16
    assert autocast_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU on this machine; use device=cpu"):
        resolve_device("cuda:0")
    with pytest.raises(ConfigError, match="allowed values are auto, cpu, cuda, cuda:N"):
        resolve_device("gpu")


@pytest.mark.parametrize("setting, fragment", [
    ("device=cuda", "device=cuda: torch sees no CUDA GPU on this machine"),
    ("device=tpu", "device='tpu': allowed values are auto, cpu, cuda, cuda:N"),
    ("precision=fp16", "precision='fp16': allowed values are auto, fp32, bf16"),
])
def test_unusable_device_is_one_line_exit_2_and_nothing_written(tmp_path, setting, fragment):
    out = tmp_path / "run"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a machine that has one
    result = subprocess.run([sys.executable, "-m", "cotmix.cli", "pretrain", *TINY, setting, "--out", str(out)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert not out.exists()


def _pair(tiny_cfg):
    """A task and the same initial weights placed on the CPU at fp32 and at bf16."""
    cfg32, cfg16 = tiny_cfg("device=cpu", "precision=fp32"), tiny_cfg("device=cpu", "precision=bf16")
    task = make_task(cfg32.task)
    torch.manual_seed(0)
    fp32 = build_model(cfg32.model, task)
    return task, place(fp32, cfg32), place(copy.deepcopy(fp32), cfg16)


def test_bf16_autocast_loss_matches_fp32_and_gradients_flow(tiny_cfg):
    task, fp32, bf16 = _pair(tiny_cfg)
    assert bf16.autocast_dtype == torch.bfloat16 and fp32.autocast_dtype is None
    batch = task.sample(64, torch.Generator().manual_seed(0))
    logits = bf16(batch.sequences())
    assert logits.dtype == torch.float32  # losses and log-probs stay fp32
    loss32, loss16 = ntp_loss(fp32, task, batch), ntp_loss(bf16, task, batch)
    # bf16 keeps 8 mantissa bits: relative error per matmul ~2^-9; the loss averages thousands of terms.
    assert loss16.item() == pytest.approx(loss32.item(), rel=1e-2)
    loss16.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in bf16.parameters())


def test_bf16_autocast_decodes_like_fp32_on_a_trained_model(calibrated):
    cfg, _, run = calibrated
    task = make_task(cfg.task)
    ckpt = load_checkpoint(resolve_checkpoint(run))
    prompts = task.sample(1024, torch.Generator().manual_seed(7)).prompts
    greedy = {}
    for precision in ("fp32", "bf16"):
        cfg.device, cfg.precision = "cpu", precision
        model = place(build_model(cfg.model, task), cfg)
        ckpt.load_model(model)
        greedy[precision], _ = _decode_in_chunks(model, task, prompts, 1024, temperature=0.0)
    # A trained model's greedy choices have clear margins, except the first token of an answer
    # whose two values are near-equally likely (that is the 1/2-accuracy coin flip); allow those.
    same = (greedy["fp32"] == greedy["bf16"]).all(dim=1).float().mean()
    assert same > 0.9, same
    assert task.answer_correct(prompts, greedy["bf16"]).float().mean() == pytest.approx(
        task.answer_correct(prompts, greedy["fp32"]).float().mean().item(), abs=0.05)


def test_a_bf16_run_trains_and_writes_fp32_cpu_checkpoints(tiny_cfg, tmp_path):
    cfg = tiny_cfg("precision=bf16", "device=cpu")
    entry = train_ntp(cfg, tmp_path, progress=False)
    assert entry["steps"] == cfg.pretrain.steps and 0 <= entry["eval"]["greedy_accuracy"] <= 1
    weights = load_file(resolve_checkpoint(tmp_path) / "model.safetensors")
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in weights.values())


def test_each_phase_records_the_kernels_torch_picked(tmp_path):
    """Numbers repeat on one machine; across CPUs torch and MKL may pick other kernels. The summary
    says which ones ran (here forced to the scalar ones and MKL's AVX2 path) and on which CPU, and
    the results table has it."""
    out = tmp_path / "run"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1", "MKL_CBWR": "AVX2"}
    result = subprocess.run([sys.executable, "-m", "cotmix.cli", "pretrain", *TINY, "--out", str(out),
                             "--no-progress"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    machine = read_summary(out)["pretrain"]["machine"]
    assert machine["kernels"] == "DEFAULT"
    assert machine["device"] == "cpu" and machine["threads"] == 1 and machine["torch"] == torch.__version__
    assert machine["mkl_cbwr"] == "AVX2" and machine["cpu"]  # MKL's pick, pinned, and the CPU it ran on
    assert run_row(out)["pretrain_machine_kernels"] == "DEFAULT"

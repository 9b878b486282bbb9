"""cotmix.train.compute: the FLOPs a phase's training cost, the estimate checked against torch's own
count of the matmuls, and the counts of a real pre-training and RL phase."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cotmix.config import load_config
from cotmix.loops.posttrain import posttrain, posttrain_config
from cotmix.loops.pretrain import train_ntp
from cotmix.model.transformer import build_model
from cotmix.rundir import read_summary
from cotmix.tasks import make_task
from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint
from cotmix.train.compute import ComputeCounter


@pytest.mark.parametrize("flavour", ["gpt2", "llama"])
def test_the_estimate_is_within_a_fifth_of_torchs_count_of_the_matmuls(flavour):
    cfg = load_config(overrides=["task.d=12", "model.d_model=64", "model.n_layer=2", f"model.flavour={flavour}"])
    model = build_model(cfg.model, make_task(cfg.task))
    idx = torch.randint(0, 3, (16, 30))
    counter = ComputeCounter()
    counter.watch(model)
    with FlopCounterMode(display=False) as measured:
        model(idx).sum().backward()
    assert counter.grad_tokens == 16 * 30 and counter.nograd_tokens == 0
    # what the estimate leaves out (attention over 30 positions, the softmax) is under a fifth here
    assert 0.8 < counter.flops / measured.get_total_flops() < 1.2
    with torch.no_grad(), FlopCounterMode(display=False) as forward:
        model(idx)
    assert counter.nograd_tokens == 16 * 30
    assert 0.8 < 2 * counter.weights * 16 * 30 / forward.get_total_flops() < 1.2
    with counter.paused():
        model(idx)
    assert counter.nograd_tokens == 16 * 30  # evaluation is not training


def test_a_phase_counts_its_training_and_not_its_evaluations(tmp_path):
    # p_cot = 1: every demonstration is long, so each step computes batch x (sequence length - 1) tokens
    cfg = load_config(overrides=["task.d=6", "task.p_cot=1.0", "model.d_model=16", "model.n_head=2",
                                 "pretrain.steps=6", "pretrain.batch_size=8", "pretrain.eval_interval=3",
                                 "pretrain.ckpt_interval=3", "pretrain.stop_when=none", "eval.n_prompts=16",
                                 "eval.validation_prompts=8", "posttrain.steps=2", "posttrain.prompts_per_step=4",
                                 "posttrain.group_size=2", "posttrain.eval_interval=1", "posttrain.stop_when=none"])
    task = make_task(cfg.task)
    (tmp_path / "pre").mkdir()
    pre = train_ntp(cfg, tmp_path / "pre", progress=False)["compute"]
    assert pre["grad_tokens"] == 6 * 8 * (task.prompt_len + task.long_response_len - 1)
    assert pre["nograd_tokens"] == 0 and pre["flops"] == 6 * pre["weights"] * pre["grad_tokens"]
    (tmp_path / "rl").mkdir()
    start = load_checkpoint(resolve_checkpoint(tmp_path / "pre"))
    posttrain(posttrain_config(start.config, []), tmp_path / "rl", start, progress=False)
    rl = read_summary(tmp_path / "rl")["posttrain"]["compute"]
    # generation runs without gradients, one token per row and step after each prompt's prefill
    assert rl["nograd_tokens"] >= 2 * 4 * task.prompt_len and rl["grad_tokens"] >= 2 * 4 * 2 * (task.prompt_len + 1)
    assert rl["flops"] == rl["weights"] * (6 * rl["grad_tokens"] + 2 * rl["nograd_tokens"])

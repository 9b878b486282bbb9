"""Next-token-prediction (NTP) pre-training on fresh demonstrations from D(p_cot).

Reads top to bottom: task and model, AdamW, then a loop that samples a fresh batch
every step, takes one optimizer step on the response tokens' cross-entropy, and logs,
evaluates and checkpoints at the configured intervals. The same loop continues NTP from
a checkpoint for the NTP-only baseline arm of `cotmix run`.

    cotmix pretrain --preset quick --out runs/quick
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from cotmix.config import Config
from cotmix.eval.evaluate import STOP_RULES, rule_met
from cotmix.model.device import model_device, place
from cotmix.model.transformer import build_model
from cotmix.rng import seeded_generator
from cotmix.tasks import Task, make_task
from cotmix.train.checkpoint import Checkpoint
from cotmix.train.losses import ntp_loss
from cotmix.train.optim import lr_at, make_optimizer
from cotmix.train.phase import Phase


def early_steps(interval: int) -> set[int]:
    """10, 20, 50, 100, 200, 500, ... below `interval`: where pre-training is evaluated early."""
    return {m * 10**k for k in range(1, 12) for m in (1, 2, 5) if m * 10**k < interval}


def train_ntp(cfg: Config, run_dir: Path, *, task: Task | None = None, phase_name: str = "pretrain",
              steps: int | None = None, start: Checkpoint | None = None, lr: float | None = None,
              resume: bool = False, progress: bool = True, eval_interval: int | None = None) -> dict:
    """Run (or resume) one NTP phase and return its summary entry.

    Without `start` this is pre-training: a fresh model, cfg.pretrain's schedule, and its stopping
    rule (pretrain.stop_when=chain_learnt ends it at the first evaluation where held-out long
    answers are right end to end at least 0.99 of the time, greedy_learnt where greedy decoding is
    right that often; pretrain.steps is the cap).
    With `start` it continues that checkpoint (weights and optimizer) for `steps` steps at the
    constant learning rate `lr`, without a stopping rule: the NTP-only arm of `cotmix run`
    (cotmix.experiments.pipeline). eval_interval overrides cfg.pretrain.eval_interval. `task`: the
    run's, when the caller has built it (default: built from cfg.task).
    """
    if (start is None) != (lr is None):
        raise ValueError("train_ntp: a continued phase (start) takes its constant lr, and pre-training neither")
    task = task or make_task(cfg.task)
    torch.manual_seed(cfg.seed)
    model = place(build_model(cfg.model, task), cfg)  # initialised on the CPU: same weights on any device
    optimizer = make_optimizer(model, cfg.pretrain.lr, cfg.pretrain.weight_decay)
    steps = cfg.pretrain.steps if steps is None else steps
    data = seeded_generator(cfg.seed, f"{phase_name}/data")
    if start is not None:
        start.load_model(model)
        start.load_optimizer(optimizer)
    phase = Phase(run_dir, phase_name, cfg, task, model, optimizer, {"data": data}, start=start)
    if resume:
        phase.resume()
    p = cfg.pretrain
    eval_every = eval_interval or p.eval_interval
    stop_when = p.stop_when if start is None else "none"

    device = model_device(model)
    model.train()
    bar = tqdm(total=steps, initial=phase.step, desc=phase_name, disable=not progress, dynamic_ncols=True,
               mininterval=0.5)
    while phase.step < steps and phase.stop_reason is None:
        step_lr = lr_at(phase.step, p, steps) if start is None else lr
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        batch = task.sample(p.batch_size, data)
        phase.observe(batch.prompts)
        loss = ntp_loss(model, task, batch.to(device), cfg.task.loss_on_prompt)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip if p.grad_clip > 0 else float("inf"))
        optimizer.step()
        phase.step += 1
        phase.samples += p.batch_size
        bar.update(1)

        if phase.due(p.log_interval, steps):
            phase.log({"loss": loss.item(), "lr": step_lr, "grad_norm": grad_norm.item()})
        if phase.due(eval_every, steps):
            phase.evaluate()
            if rule_met(stop_when, phase.decision_metrics()):
                phase.stop_reason = stop_when
        elif p.eval_early and start is None and phase.step in early_steps(eval_every):
            phase.evaluate()  # for the curves only: a decision reads the regular evaluations alone
        bar.set_postfix(loss=f"{loss.item():.4f}", greedy_acc=phase.last_eval.get("greedy_accuracy", "-"),
                        chain=phase.last_eval.get("chain_exact_accuracy", "-"))
        if phase.due(p.ckpt_interval, steps) or phase.stop_reason:
            phase.save()
    bar.close()
    phase.say_stopped(steps, "pretrain.stop_when")
    if not phase.last_eval:  # zero steps, or resumed after the last checkpoint: still report the model
        phase.evaluate()
        phase.save()
    if stop_when in STOP_RULES and phase.stop_reason is None:
        key, bar = STOP_RULES[stop_when]
        phase.warn(f"pretrain.stop_when={stop_when} was not met within pretrain.steps={steps} "
             f"(validation {key} {phase.decision_metrics().get(key, float('nan')):.3f}, the rule asks {bar}); raise "
             "pretrain.steps to let the rule end it")
    return phase.finish(batch_size=p.batch_size, params=model.num_params(),
                        stop_reason=phase.stop_reason or "steps", stop_when=stop_when)


"""The RL post-training loop: start from an NTP checkpoint, run `posttrain.steps` steps of
the chosen algorithm, evaluate (with pass@k) and checkpoint at intervals.

    cotmix posttrain --from runs/quick posttrain.algorithm=grpo posttrain.reward=chain --out runs/quick-grpo
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tqdm.auto import tqdm

from cotmix.config import Config, config_from_dict, validate
from cotmix.errors import ConfigError
from cotmix.eval.evaluate import CHAIN_LEARNT, rule_met
from cotmix.model.device import place
from cotmix.model.transformer import build_model
from cotmix.options import apply_overrides
from cotmix.registry import TASKS
from cotmix.rl.algorithms import ALGORITHMS, RLContext, frozen_copy
from cotmix.rl.predict import predict, prediction_line
from cotmix.rng import seeded_generator
from cotmix.tasks import Task, make_task
from cotmix.train.checkpoint import Checkpoint
from cotmix.train.optim import make_optimizer
from cotmix.train.phase import Phase

# The model, the task's shape (cotmix.tasks.Task.shape) and the partition are fixed by the checkpoint.
PARTITION_KEYS = ("name", "heldout_fraction", "validation_fraction", "heldout_seed")


def posttrain_config(base: Config, overrides: list[str]) -> Config:
    """The checkpoint's config with overrides applied; the model and the task's shape cannot change
    (compared by value, so no spelling of a key gets around it)."""
    cfg = validate(apply_overrides(config_from_dict(base.to_dict()), overrides))
    changed = [f"model.{k}" for k, v in dataclasses.asdict(base.model).items() if getattr(cfg.model, k) != v]
    changed += [f"task.{k}" for k in PARTITION_KEYS if getattr(cfg.task, k) != getattr(base.task, k)]
    if not changed:
        task = TASKS[base.task.name]
        before, after = task.shape(base.task), task.shape(cfg.task)
        changed = [f"task.{k}" for k in before if after.get(k) != before[k]]
    if changed:
        raise ConfigError(f"{changed[0]}: cannot change after pre-training (the checkpoint fixes the model and "
                          f"the task's shape); post-training accepts posttrain.*, eval.*, task.p_cot, seed, threads, "
                          f"device, precision")
    return cfg


def posttrain(cfg: Config, run_dir: Path, start: Checkpoint, *, task: Task | None = None, resume: bool = False,
              progress: bool = True) -> dict:
    """Run (or resume) RL from the `start` checkpoint; return the phase's summary entry. `task`: the
    run's, when the caller has built it (default: built from cfg.task)."""
    p, phase_name = cfg.posttrain, "posttrain"
    task = task or make_task(cfg.task)
    model = place(build_model(cfg.model, task), cfg)
    start.load_model(model)
    ref_model = frozen_copy(model)  # before the phase's compute counter hooks `model`: a copy would carry the hook
    data_gen = seeded_generator(cfg.seed, f"{phase_name}/data")
    sample_gen = seeded_generator(cfg.seed, f"{phase_name}/sample")
    optimizer = make_optimizer(model, p.lr)
    phase = Phase(run_dir, phase_name, cfg, task, model, optimizer, {"data": data_gen, "sample": sample_gen},
                  start=start)
    ctx = RLContext(cfg=cfg, task=task, model=model, ref_model=ref_model, optimizer=optimizer,
                    max_new_tokens=p.max_new_tokens or task.long_response_len, data_gen=data_gen, sample_gen=sample_gen,
                    observe=phase.observe)
    phase.compute.watch(ref_model)
    if not (resume and phase.resume()):
        phase.evaluate(with_pass_k=True)  # step 0: the pre-trained model, where the RL curves start
        phase.save()
    start_metrics = phase.decision_metrics(phase.last_eval if phase.step == 0 else start.state.get("last_eval", {}))
    preflight = preflight_warnings(cfg, start_metrics)
    for line in preflight:
        phase.warn(line)
    prediction = predict(cfg, start_metrics)  # before the first step, from the validation inputs only
    if progress:
        print(f"{phase_name}: {prediction_line(prediction)}", file=sys.stderr)
    step_fn = ALGORITHMS[p.algorithm]
    samples_per_step = p.prompts_per_step * p.group_size

    bar = tqdm(total=p.steps, initial=phase.step, desc=f"{phase_name} ({p.algorithm})", disable=not progress,
               dynamic_ncols=True, mininterval=0.5)
    if rule_met(p.stop_when, phase.decision_metrics()):
        phase.stop_reason = p.stop_when
    while phase.step < p.steps and phase.stop_reason is None:
        metrics = step_fn(ctx)
        phase.step += 1
        phase.samples += samples_per_step
        bar.update(1)
        phase.log({"lr": p.lr, **metrics})
        if phase.due(p.eval_interval, p.steps):
            phase.evaluate(with_pass_k=True)
            if rule_met(p.stop_when, phase.decision_metrics()):
                phase.stop_reason = p.stop_when
        if phase.due(p.ckpt_interval, p.steps) or phase.stop_reason:
            phase.save()
        bar.set_postfix(reward=f"{metrics['reward']:.3f}", length=f"{metrics['completions/mean_length']:.1f}",
                        greedy_acc=phase.last_eval.get("greedy_accuracy", "-"))
    bar.close()
    phase.say_stopped(p.steps, "posttrain.stop_when")
    return phase.finish(algorithm=p.algorithm, reward=p.reward, loss_agg=p.loss_agg, samples_per_step=samples_per_step,
                        preflight=preflight, prediction=prediction, stop_reason=phase.stop_reason or "steps", stop_when=p.stop_when)


def preflight_warnings(cfg: Config, start_eval: dict) -> list[str]:
    """What the theory predicts from a starting model whose long answers RL cannot build on. RL only
    re-weights the answers the model already gives: from a half-learnt chain it lengthens answers
    without making them right (or, with the chain reward, drives the long fraction to 0); from a
    model that almost never answers long it has nothing to amplify. Warnings, not errors:
    fig-rl-start studies exactly this regime. No RL steps (an NTP-only arm), nothing to warn about."""
    lines = []
    if cfg.posttrain.steps == 0:
        return lines
    chain = start_eval.get("chain_exact_accuracy")
    if chain is not None and chain < CHAIN_LEARNT:
        lines.append(f"RL starts from a model whose held-out long answers are right end to end only {chain:.3f} "
                     f"of the time (< {CHAIN_LEARNT}): RL amplifies the long answers as they are, so expect longer "
                     f"answers that are not more correct. Pre-train until the chain is learnt "
                     f"(pretrain.stop_when=chain_learnt, a larger pretrain.steps)")
    p = cfg.posttrain
    long_per_step = (start_eval.get("long_fraction") or 0.0) * p.prompts_per_step * p.group_size
    if start_eval.get("long_fraction") is not None and long_per_step < 1:
        lines.append(f"the starting model answers long {start_eval['long_fraction']:.4f} of the time: about "
                     f"{long_per_step:.2f} long answers per RL step of {p.prompts_per_step * p.group_size} samples, "
                     f"so RL has almost nothing to amplify; raise posttrain.prompts_per_step or group_size, or "
                     f"pre-train on more long demonstrations (task.p_cot)")
    return lines



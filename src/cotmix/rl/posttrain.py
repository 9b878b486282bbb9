"""The RL post-training loop: start from an NTP checkpoint, run `posttrain.steps` steps of
the chosen algorithm, evaluate (with pass@k) and checkpoint at intervals.

    cotmix posttrain --from runs/quick posttrain.algorithm=grpo posttrain.reward=chain --out runs/quick-grpo
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm.auto import tqdm

from cotmix.checkpoint import Checkpoint
from cotmix.config import Config, ConfigError, apply_overrides, config_from_dict, validate
from cotmix.device import place
from cotmix.model import build_model, max_new_tokens_limit
from cotmix.phase import Phase
from cotmix.pretrain import make_optimizer, seeded_generator
from cotmix.rl.algorithms import ALGORITHMS, RLContext, frozen_copy
from cotmix.tasks import make_task

FROZEN_AFTER_PRETRAINING = ("model.", "task.name", "task.d", "task.leap")


def posttrain_config(base: Config, overrides: list[str]) -> Config:
    """The checkpoint's config with overrides applied; the model and the task's shape cannot change."""
    cfg = validate(apply_overrides(config_from_dict(dataclasses.asdict(base)), overrides))
    for key in overrides:
        name = key.split("=", 1)[0].strip()
        if name.startswith(FROZEN_AFTER_PRETRAINING):
            raise ConfigError(f"{name}: cannot change after pre-training (the checkpoint fixes the model and "
                              f"task shape); post-training accepts posttrain.*, eval.*, task.p_cot, seed, threads, "
                              f"device, precision")
    check_max_new_tokens(cfg)
    return cfg


def check_max_new_tokens(cfg: Config) -> int:
    task = make_task(cfg.task)
    limit = max_new_tokens_limit(task)
    value = cfg.posttrain.max_new_tokens or task.long_response_len
    if value > limit:
        raise ConfigError(f"posttrain.max_new_tokens={value}: must be <= {limit} (twice the long response "
                          f"of task.d={cfg.task.d}) or 0 for the task's long length {task.long_response_len}")
    return value


def posttrain(cfg: Config, run_dir: Path, start: Checkpoint, *, phase_name: str = "posttrain",
              resume: bool = False, progress: bool = True) -> dict:
    """Run (or resume) RL from the `start` checkpoint; return the phase's summary entry."""
    p = cfg.posttrain
    task = make_task(cfg.task)
    model = place(build_model(cfg.model, task), cfg)
    start.load_model(model)
    ctx = RLContext(cfg=cfg, task=task, model=model, ref_model=frozen_copy(model),
                    optimizer=make_optimizer(model, p.lr), max_new_tokens=check_max_new_tokens(cfg),
                    data_gen=seeded_generator(cfg.seed, f"{phase_name}/data"),
                    sample_gen=seeded_generator(cfg.seed, f"{phase_name}/sample"))
    offset = start.state["samples_offset"] + start.state["samples"]
    phase = Phase(run_dir, phase_name, cfg, task, model, ctx.optimizer,
                  {"data": ctx.data_gen, "sample": ctx.sample_gen}, samples_offset=offset)
    if not (resume and phase.resume()):
        phase.evaluate(with_pass_k=True)  # step 0: the pre-trained model, where the RL curves start
        phase.save()
    step_fn = ALGORITHMS[p.algorithm]
    samples_per_step = p.prompts_per_step * p.group_size

    bar = tqdm(total=p.steps, initial=phase.step, desc=f"{phase_name} ({p.algorithm})", disable=not progress,
               dynamic_ncols=True, mininterval=0.5)
    while phase.step < p.steps:
        metrics = step_fn(ctx)
        phase.step += 1
        phase.samples += samples_per_step
        bar.update(1)
        phase.log({"lr": p.lr, **metrics})
        if phase.due(p.eval_interval, p.steps):
            phase.evaluate(with_pass_k=True)
        if phase.due(p.ckpt_interval, p.steps):
            phase.save()
        bar.set_postfix(reward=f"{metrics['reward']:.3f}", length=f"{metrics['completions/mean_length']:.1f}",
                        greedy_acc=phase.last_eval.get("greedy_accuracy", "-"))
    bar.close()
    return phase.finish(algorithm=p.algorithm, reward=p.reward, loss_agg=p.loss_agg,
                        samples_per_step=samples_per_step)



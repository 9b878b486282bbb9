"""The run configuration: nested opt() dataclasses (cotmix.options), and its cross-field rules.

Every field carries its help text and its allowed range, so the CLI, `cotmix config`, the docs
and the error messages all say the same thing. A run's config is the defaults, then a preset, then
a YAML/JSON file, then `key=value` overrides:

    cfg = load_config(preset="quick", overrides=["task.p_cot=0.5", "seed=3"])
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from cotmix.errors import ConfigError
from cotmix.options import (
    apply_mapping,
    apply_overrides,
    check_fields,
    did_you_mean,
    fill_options,
    opt,
    read_config_file,
)
from cotmix.presets import preset_overrides
from cotmix.registry import AGGREGATIONS, ALGORITHMS, REWARDS, STOP_RULES, TASKS

MIN_TEMPERATURE = 0.01  # below it logits / T overflow float32 (softmax of inf - inf is NaN); 0 is greedy, by name
MAX_SEED = 2**32 - 1  # seeds are mixed into 64-bit generator seeds (cotmix.rng): they must leave room
TRACKERS = ("tensorboard", "wandb")  # values of the top-level `logger` key (cotmix.train.tracking)
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d{1,3})?")  # values of the top-level `device` key


@dataclass
class TaskConfig:
    """The settings every task has. The named task's own settings (parity's task.d, multiplication's
    task.digits_a, ...) are declared by that task's Options dataclass (cotmix.tasks) and set as
    task.KEY like these; they are held in `options` and read as attributes: cfg.task.d."""

    OPEN = "options"  # a task.KEY that is not a field below is one of the task's own settings (cotmix.options)
    name: str = opt("parity", "which task generates demonstrations: a registered name (parity, multiplication, digitsum) "
                    "or module:Class for your own (docs/extending.md); its own settings are listed by "
                    "`cotmix config task.name=NAME`", choices=TASKS)
    p_cot: float = opt(0.2, "probability that a demonstration is long (chain of thought)", lo=0.0, hi=1.0)
    loss_on_prompt: bool = opt(False, "NTP loss also covers the prompt tokens (they are random: adds only noise)")
    heldout_fraction: float = opt(0.25, "share of the input space reserved for evaluation: no trainer ever sees "
                                  "those inputs, and every evaluation prompt is one of them", lo=0.0, lo_open=True,
                                  hi=0.5)
    validation_fraction: float = opt(0.125, "share of the input space reserved for decisions (stop rules, the RL "
                                     "preflight): disjoint from training and from the test inputs of "
                                     "heldout_fraction, which only report; 0 = none (decisions then read the test "
                                     "inputs, and summary.json says so)", lo=0.0, hi=0.5)
    heldout_seed: int = opt(0, "seed of the partition into training, validation and test inputs", lo=0, hi=MAX_SEED)
    options: dict = opt({}, "the task's own settings (task.KEY; task.options.KEY is the same)")

    def __getattr__(self, name: str):
        # Only reached when `name` is not a field: one of the task's own settings, or else its default.
        if name.startswith("_") or "options" not in self.__dict__:
            raise AttributeError(name)
        if name in self.options:
            return self.options[name]
        declared = getattr(TASKS.resolve(self.name, quiet=True), "Options", None)
        defaults = dataclasses.asdict(declared()) if declared else {}
        if name in defaults:
            return defaults[name]
        raise AttributeError(f"task {self.name!r} has no setting {name!r}")


@dataclass
class ModelConfig:
    flavour: str = opt("gpt2", "gpt2: learned positions, LayerNorm, GELU; llama: RoPE, RMSNorm, SwiGLU",
                       choices=("gpt2", "llama"))
    n_layer: int = opt(2, "number of transformer blocks", lo=1, hi=64)
    d_model: int = opt(64, "residual width", lo=8, hi=8192)
    n_head: int = opt(4, "attention heads; must divide d_model", lo=1, hi=256)
    mlp_ratio: float = opt(4.0, "MLP hidden width as a multiple of d_model", lo=0.25, hi=16.0)


@dataclass
class PretrainConfig:
    steps: int = opt(20000, "optimizer steps of next-token prediction (0 = none); with stop_when=chain_learnt "
                     "the cap, which pre-training rarely reaches", lo=0)
    stop_when: str = opt("chain_learnt", "chain_learnt: end pre-training at the first evaluation where held-out "
                         "long answers are right end to end >= 0.99 of the time (RL needs a learnt chain to "
                         "amplify); greedy_learnt: where greedy decoding is right >= 0.99 of the time (NTP alone "
                         "generalising); none: always run pretrain.steps; or a rule you registered",
                         choices=("none", STOP_RULES))
    batch_size: int = opt(256, "fresh demonstrations per step", lo=1)
    lr: float = opt(3e-3, "peak AdamW learning rate", lo=0.0, lo_open=True, hi=1.0)
    weight_decay: float = opt(0.0, "AdamW weight decay", lo=0.0, hi=1.0)
    warmup_steps: int = opt(50, "linear learning-rate warm-up steps", lo=0)
    schedule: str = opt("constant", "learning rate after warm-up: constant, or cosine down to min_lr_ratio at "
                        "pretrain.steps (with a stopping rule that cap is arbitrary, and a cosine tied to it "
                        "once left a d = 20 chain one position short: docs/lab/log.md, 2026-11-28)",
                        choices=("constant", "cosine"))
    min_lr_ratio: float = opt(0.01, "final lr / peak lr for the cosine schedule", lo=0.0, hi=1.0)
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0 = off)", lo=0.0)
    log_interval: int = opt(25, "steps between training-loss records in metrics.jsonl", lo=1)
    eval_interval: int = opt(250, "steps between evaluations (the last step is always evaluated)", lo=1)
    eval_early: bool = opt(True, "also evaluate at steps 10, 20, 50, 100, 200, ... below eval_interval (a 1-2-5 "
                                 "series), so the curves show the chain being learnt; no stop rule reads these")
    ckpt_interval: int = opt(250, "steps between checkpoints (the last step is always saved)", lo=1)


@dataclass
class PosttrainConfig:
    algorithm: str = opt("grpo", "RL algorithm: star, reinforce, rloo, grpo, dr_grpo, dapo (cotmix.rl.algorithms), "
                         "or module:function for your own", choices=ALGORITHMS)
    reward: str = opt("chain", "e2e: last token before EOS is the parity; chain: the response is exactly "
                      "one of the two correct formats (cotmix.rl.rewards); or module:function", choices=REWARDS)
    steps: int = opt(500, "RL steps (STaR: rounds); with stop_when=greedy_learnt the cap (at lr 1e-4, d = 20 and "
                     "p_cot = 0.1 GRPO needed about 105)", lo=0)
    prompts_per_step: int = opt(64, "fresh prompts per step", lo=1)
    group_size: int = opt(8, "samples per prompt (the GRPO/RLOO group)", lo=1)
    temperature: float = opt(1.0, "sampling temperature for RL rollouts (policy = softmax(logits / T))",
                             lo=MIN_TEMPERATURE, hi=10.0)
    top_k: int = opt(0, "sample only among the k most likely tokens (0 = all)", lo=0)
    max_new_tokens: int = opt(0, "response token limit (0 = the task's long length, d+1)", lo=0)
    lr: float = opt(1e-4, "AdamW learning rate for RL updates (at 3e-4 GRPO eroded a learnt chain once nearly every "
                    "sample was long: docs/lab/log.md, 2026-11-28)", lo=0.0, lo_open=True, hi=1.0)
    loss_agg: str = opt("auto", "auto: the algorithm's own (token_mean; dr_grpo: seq_mean_token_sum_norm); "
                        "token_mean (DAPO): average over all tokens of the batch; "
                        "seq_mean_token_mean (original GRPO): average within each sequence first, which "
                        "weights each token of a short answer more and so favours short answers; "
                        "seq_mean_token_sum_norm (Dr. GRPO): divide by a constant (sequences x max_new_tokens)",
                        choices=("auto", AGGREGATIONS))
    baseline: str = opt("mean", "REINFORCE baseline: none, or the batch mean reward", choices=("none", "mean"))
    scale_rewards: bool = opt(True, "GRPO: divide advantages by the group's reward std")
    clip_eps: float = opt(0.2, "GRPO: PPO clip range for the probability ratio", lo=0.0, lo_open=True, hi=1.0)
    clip_eps_high: float = opt(0.0, "upper clip of the ratio, 1 + clip_eps_high (DAPO's clip-higher); 0 = the same "
                               "as clip_eps (dapo: 0.28)", lo=0.0, hi=1.0)
    inner_steps: int = opt(2, "GRPO: optimizer steps on each sampled batch (ratio clipping matters from the 2nd)",
                           lo=1)
    false_positive: float = opt(0.0, "probability that a response with reward 0 is rewarded 1 anyway (a noisy "
                                "verifier); the logs keep the true reward as rewards/true_mean", lo=0.0, hi=1.0)
    kl_coef: float = opt(0.0, "weight of the KL penalty to the frozen starting model (k3 estimator)", lo=0.0)
    star_epochs: int = opt(1, "STaR: epochs of NTP over each round's kept samples", lo=1)
    star_batch_size: int = opt(256, "STaR: minibatch size of those NTP epochs", lo=1)
    star_restart: bool = opt(False, "STaR: start every round from the pre-trained weights (original STaR) "
                             "instead of the current model")
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0 = off)", lo=0.0)
    eval_interval: int = opt(5, "steps between evaluations (the last step is always evaluated)", lo=1)
    ckpt_interval: int = opt(5, "steps between checkpoints (the last step is always saved)", lo=1)
    stop_when: str = opt("greedy_learnt", "greedy_learnt: end RL at the first evaluation (step 0 included) where greedy "
                         "decoding is right >= 0.99 of the time; none: always run posttrain.steps; or another "
                         "registered rule", choices=("none", STOP_RULES))
    baseline_min_samples: int = opt(0, "cotmix run: the NTP-only arm goes on until pre-training and the arm "
                                    "together have seen at least this many demonstrations (paper: 1.28e7), and at "
                                    "least as many as RL used", lo=0)
    baseline_arm: bool = opt(True, "cotmix run: also continue NTP from the same checkpoint for as many "
                             "samples as RL consumed (the NTP-only baseline)")


@dataclass
class EvalConfig:
    n_prompts: int = opt(2048, "test prompts per evaluation (held out; every reported number is on these)", lo=1)
    validation_prompts: int = opt(512, "validation prompts per evaluation: the inputs decisions read (stop rules, "
                                  "the RL preflight), never a test or training input", lo=1)
    temperature: float = opt(1.0, "temperature of the sampled-decoding metrics", lo=MIN_TEMPERATURE, hi=10.0)
    pass_k_prompts: int = opt(256, "prompts for pass@k during post-training (8 samples each)", lo=1)
    seed: int = opt(1234, "seed of the held-out prompts (the same for every run, so runs are comparable; the "
                    "sampled decoding draws also depend on the run's seed, so seeds differ in sampling noise)", lo=0,
                    hi=MAX_SEED)
    batch_size: int = opt(2048, "prompts decoded at once", lo=1)


@dataclass
class Config:
    seed: int = opt(0, "seed of training data, initialisation and sampling", lo=0, hi=MAX_SEED)
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    posttrain: PosttrainConfig = field(default_factory=PosttrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    threads: int = opt(0, "torch CPU threads (0 = torch's default)", lo=0)
    device: str = opt("auto", "auto (the first CUDA GPU if torch sees one, else cpu), cpu, cuda or cuda:N")
    logger: str = opt("", "experiment trackers beside metrics.jsonl, comma-separated: tensorboard (event files "
                      "under RUN/tensorboard/), wandb (offline unless your W&B settings say otherwise); empty: none")
    precision: str = opt("auto", "fp32, or bf16 autocast; auto = bf16 on CUDA and fp32 on the CPU (faster there "
                         "at these widths)", choices=("auto", "fp32", "bf16"))

    def to_dict(self) -> dict:
        """The config as config.json holds it: the task's own settings beside the shared ones (task.d)."""
        out = dataclasses.asdict(self)
        own = out["task"].pop("options")
        out["task"].update(own)
        return out


def config_from_dict(mapping: dict) -> Config:
    """The config a run directory or checkpoint saved (its config.json)."""
    return validate(apply_mapping(Config(), _without_legacy_keys(mapping)))


# Before tasks declared their own settings every task section carried these, at these values unless
# set; a saved config of a task that does not declare one of them drops it where it kept its value.
_LEGACY_TASK_KEYS = {"d": 20, "leap": 1, "chain_noise": 0.0, "digits_a": 2, "digits_b": 2}


def _without_legacy_keys(mapping: dict) -> dict:
    task = mapping.get("task") if isinstance(mapping, dict) else None
    if not isinstance(task, dict):
        return mapping
    declared = getattr(TASKS.resolve(task.get("name", "parity"), quiet=True), "Options", None)
    own = {f.name for f in dataclasses.fields(declared)} if declared else set()
    kept = {k: v for k, v in task.items() if k in own or _LEGACY_TASK_KEYS.get(k, object()) != v}
    return {**mapping, "task": kept}


def validate(cfg: Config) -> Config:
    """Check every field's range and the cross-field rules; return cfg or raise ConfigError."""
    check_fields(cfg)
    m, t, p = cfg.model, cfg.task, cfg.posttrain
    if m.d_model % m.n_head:
        raise ConfigError(f"model.n_head={m.n_head}: must divide model.d_model={m.d_model}")
    if m.flavour == "llama" and (m.d_model // m.n_head) % 2:
        raise ConfigError(f"model.n_head={m.n_head}: llama's RoPE needs an even head width "
                          f"(d_model / n_head = {m.d_model // m.n_head})")
    task_options(t)
    task = TASKS[t.name].from_config(t)  # its sizes only (no held-out partition is drawn)
    if p.max_new_tokens > task.max_response_len:
        raise ConfigError(f"posttrain.max_new_tokens={p.max_new_tokens}: must be <= {task.max_response_len} (twice "
                          f"the long {t.name} answer) or 0 for the task's long length {task.long_response_len}")
    if t.heldout_fraction + t.validation_fraction > 0.75:
        raise ConfigError(f"task.heldout_fraction={t.heldout_fraction} + task.validation_fraction={t.validation_fraction}: "
                          "at most 0.75 together (a quarter of the inputs stays for training)")
    if not DEVICE_PATTERN.fullmatch(cfg.device):
        raise ConfigError(f"device={cfg.device!r}: allowed values are auto, cpu, cuda, cuda:N")
    unknown = [n for n in cfg.logger.split(",") if n.strip() and n.strip() not in TRACKERS]
    if unknown:
        raise ConfigError(f"logger={cfg.logger!r}: {unknown[0].strip()!r} is not a tracker; allowed: "
                          f"{', '.join(TRACKERS)} (comma-separated), or empty for metrics.jsonl alone")
    if p.algorithm == "rloo" and p.group_size < 2:
        raise ConfigError(f"posttrain.group_size={p.group_size}: rloo needs groups of >= 2")
    return cfg


def task_options(t: TaskConfig) -> None:
    """Type and check the task's own settings against its Options dataclass and its rules (in place;
    every one it declares is then present, at its default where not set)."""
    task = TASKS[t.name]
    declared = getattr(task, "Options", None)
    own = [f.name for f in dataclasses.fields(declared)] if declared else []
    shared = [f.name for f in dataclasses.fields(TaskConfig) if f.name != TaskConfig.OPEN]
    for key in t.options:
        if key not in own:
            raise ConfigError(f"unknown config key 'task.{key}'{did_you_mean(key, shared + own, f'task.{key}')}: "
                              f"the {t.name} task has {', '.join(own) or 'no settings of its own'}, and every task "
                              f"has {', '.join(shared)}")
    if set(own) & set(shared):
        raise ConfigError(f"task.name={t.name!r}: its Options redeclare {', '.join(sorted(set(own) & set(shared)))}, "
                          "which every task has; rename them")
    if declared is None:
        return
    options = fill_options(declared, t.options, "task.")
    task.check(options)
    t.options = dataclasses.asdict(options)


def load_config(preset: str | None = None, config_file: str | Path | None = None,
                overrides: list[str] | None = None) -> Config:
    """Defaults, then a preset, then a YAML/JSON file, then key=value overrides; validated."""
    cfg = Config()
    if preset:
        apply_mapping(cfg, preset_overrides(preset))
    if config_file:
        apply_mapping(cfg, read_config_file(config_file))
    apply_overrides(cfg, overrides or [])
    if preset:  # a preset's task settings (its parity d) do not bind a task chosen after it that has none
        declared = getattr(TASKS.resolve(cfg.task.name, quiet=True), "Options", None)
        own = {f.name for f in dataclasses.fields(declared)} if declared else set()
        for key, value in preset_overrides(preset).get("task", {}).items():
            if key in cfg.task.options and key not in own and cfg.task.options[key] == value:
                del cfg.task.options[key]
    return validate(cfg)



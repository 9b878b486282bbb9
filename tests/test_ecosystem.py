"""cotmix in the ecosystem: TensorBoard and W&B curves, Hugging Face model folders, and the mixture as
a dataset that `datasets` loads."""

import json
import math
import subprocess
import sys

import pytest
import torch

from cotmix.cli import main
from cotmix.config import load_config
from cotmix.rng import seeded_generator
from cotmix.rundir import read_metrics, release_run_dir
from cotmix.tasks import make_task
from cotmix.train.phase import Phase
from cotmix.train.tracking import scalars

TINY = ["task.d=6", "task.p_cot=0.25", "model.d_model=32", "model.n_head=2", "pretrain.steps=12",
        "pretrain.batch_size=32", "pretrain.stop_when=none", "pretrain.eval_interval=4", "pretrain.ckpt_interval=4",
        "pretrain.log_interval=2", "eval.n_prompts=16"]


def tensorboard_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of an event folder, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_curves_carry_trl_names_and_survive_a_kill_without_duplicates(tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = Phase.log

    def killed_after_step_10(self, metrics):
        record = original(self, metrics)
        if self.step == 10 and not metrics.get("eval"):
            raise KeyboardInterrupt  # after the step-8 checkpoint: steps 9-10 are logged twice
        return record

    monkeypatch.setattr(Phase, "log", killed_after_step_10)
    assert main(["pretrain", *TINY, "logger=tensorboard", "--out", str(out), "--no-progress"]) == 130
    monkeypatch.setattr(Phase, "log", original)
    release_run_dir(out)
    assert main(["pretrain", "--resume", "--out", str(out), "--no-progress"]) == 0
    series = tensorboard_scalars(out / "tensorboard" / "pretrain")
    assert {"train/loss", "train/learning_rate", "train/grad_norm", "eval/greedy_accuracy",
            "eval/chain_exact_accuracy"} <= set(series)
    records = read_metrics(out, "pretrain")
    for tag, key, evals in (("train/loss", "loss", False), ("eval/greedy_accuracy", "greedy_accuracy", True)):
        steps = [s for s, _ in series[tag]]
        assert steps == sorted(set(steps)), tag  # no duplicate points after the resume
        expected = [(r["samples_seen"], r[key]) for r in records if bool(r.get("eval")) == evals]
        assert [s for s, _ in series[tag]] == [s for s, _ in expected]
        assert all(math.isclose(v, e, rel_tol=1e-6) for (_, v), (_, e) in zip(series[tag], expected))


def test_scalar_names_follow_trl():
    record = {"phase": "posttrain", "step": 3, "samples_seen": 100, "wall_s": 1.0, "lr": 3e-4, "reward": 0.5,
              "completions/mean_length": 7.0, "loss_agg": "token_mean", "kl": 0.01}
    assert scalars(record) == {"train/learning_rate": 3e-4, "train/reward": 0.5, "train/completions/mean_length": 7.0,
                               "train/kl": 0.01}
    assert scalars({"eval": True, "samples_seen": 5, "greedy_accuracy": 1.0, "greedy_accuracy_ci95": [0.9, 1.0]}) == \
        {"eval/greedy_accuracy": 1.0}


def test_wandb_runs_offline_under_a_stable_id(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    assert main(["pretrain", *TINY, "pretrain.steps=4", "logger=wandb", "--out", str(out), "--no-progress"]) == 0
    runs = sorted(p.name for p in (out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list((out / "wandb" / runs[0]).glob("run-*.wandb"))
    assert main(["config", "logger=neptune"]) == 2


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def trained_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "run"
    args = [*TINY, f"model.flavour={request.param}", "pretrain.steps=80", "pretrain.eval_interval=80",
            "pretrain.ckpt_interval=80"]
    assert main(["pretrain", *args, "--out", str(out), "--no-progress"]) == 0
    release_run_dir(out)
    return out


HF_ONLY = """
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
folder, prompts = sys.argv[1], json.loads(sys.argv[2])
model, tok = AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
batch = tok(prompts, return_tensors="pt", padding=True)
out = model.generate(**batch, do_sample=False)
texts = []
for row in out[:, batch["input_ids"].shape[1]:].tolist():
    cut = row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
    texts.append(tok.decode(row[:cut]))
print(json.dumps({"texts": texts, "cotmix_imported": "cotmix" in sys.modules}))
"""


def test_an_exported_model_loads_with_transformers_alone_and_decodes_like_cotmix(trained_run, tmp_path, capsys):
    folder = tmp_path / "hf"
    assert main(["export", str(trained_run), "--out", str(folder)]) == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(trained_run), "-n", "12", "--temperature", "0", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    prompts = [line.split()[0] for line in lines]  # as printed, with the '=' the exported model is prompted with
    ours = [line.split()[1] for line in lines]
    result = subprocess.run([sys.executable, "-c", HF_ONLY, str(folder), json.dumps(prompts)], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    assert theirs["cotmix_imported"] is False
    assert theirs["texts"] == ours
    assert main(["export", str(trained_run), "--out", str(folder)]) == 2  # never over an existing folder


def test_the_mixture_as_a_dataset(tmp_path, capsys):
    from datasets import load_dataset

    overrides = ["task.d=10", "task.p_cot=0.3", "pretrain.batch_size=64", "eval.n_prompts=64"]
    n = 4000
    assert main(["data", *overrides, "--out", str(tmp_path / "data"), "--train-samples", str(n)]) == 0
    data = load_dataset("parquet", data_files={"train": str(tmp_path / "data" / "train.parquet"),
                                               "heldout": str(tmp_path / "data" / "heldout.parquet")})
    train, heldout = data["train"], data["heldout"]
    assert len(train) == n and len(heldout) == 64
    assert set(train.column_names) >= {"prompt", "completion", "kind", "answer"}
    long = sum(k == "long" for k in train["kind"])
    assert abs(long / n - 0.3) <= 4 * math.sqrt(0.3 * 0.7 / n)  # within 4 binomial sd of p_cot
    assert not set(train["key"]) & set(heldout["key"])  # no held-out input in the training split
    row = train[0]
    assert row["completion"].endswith("<eos>") and row["prompt"].endswith("=") and len(row["prompt"]) == 11
    # exactly cotmix's pre-training stream: the same seeded batches
    cfg = load_config(overrides=overrides)
    task = make_task(cfg.task)
    first = task.sample(64, seeded_generator(cfg.seed, "pretrain/data"))
    keys = task.input_keys(first.prompts).tolist()
    assert train["key"][:64] == keys
    assert [k == "long" for k in train["kind"][:64]] == first.is_long.tolist()
    parity = torch.tensor([int(c) for c in train[5]["prompt"][:10]]).sum().item() % 2
    assert train[5]["answer"] == str(parity)

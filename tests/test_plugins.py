"""A task that lives outside cotmix (a file in a temporary folder, named as module:Class) goes through
every command: pretrain, posttrain, run, eval, sample, sweep, results, report, export and data, with
the held-out partition and its overlap count intact."""

import json
import textwrap

import pytest

from cotmix.cli import main

PLUGIN = textwrap.dedent('''
    """A user's task: parity whose long demonstrations write every second prefix parity."""
    from cotmix.tasks import ParityTask


    class LeapTwo(ParityTask):
        @classmethod
        def describe(cls, task):
            return f"leap-2 parity d={task['d']}"

        @classmethod
        def from_config(cls, cfg):
            return cls(d=cfg.d, p_cot=cfg.p_cot, leap=2)
''')
TINY = ["task.name=my_tasks:LeapTwo", "task.d=6", "task.p_cot=0.5", "model.d_model=16", "model.n_head=2",
        "pretrain.steps=8", "pretrain.batch_size=16", "pretrain.eval_interval=4", "pretrain.ckpt_interval=4",
        "pretrain.stop_when=none", "posttrain.steps=2", "posttrain.prompts_per_step=4", "posttrain.group_size=4",
        "posttrain.eval_interval=1", "posttrain.ckpt_interval=1", "posttrain.stop_when=none", "eval.n_prompts=8",
        "eval.validation_prompts=4", "eval.pass_k_prompts=4"]


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "my_tasks.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ok(args, capsys) -> str:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_a_task_from_outside_src_goes_through_every_command(plugin, capsys):
    ok(["pretrain", *TINY, "--out", "pre"], capsys)
    summary = json.loads((plugin / "pre" / "summary.json").read_text())
    assert summary["heldout"]["overlap_count"] == 0 and summary["heldout"]["decision_test_overlap"] == 0
    assert summary["pretrain"]["eval"]["greedy_length_median"] >= 1
    ok(["posttrain", "--from", "pre", "--out", "rl", "posttrain.algorithm=dr_grpo"], capsys)
    ok(["run", *TINY, "--out", "run"], capsys)
    metrics = json.loads(ok(["eval", "--checkpoint", "run", "--json"], capsys))
    assert metrics["n_prompts"] == 8
    assert "held-out prompts" in ok(["sample", "--checkpoint", "run", "-n", "3"], capsys)
    sweep = plugin / "grid.yaml"
    sweep.write_text(json.dumps({"name": "mine", "command": "run", "base": dict(a.split("=", 1) for a in TINY),
                                 "grid": {"task.p_cot": [0.25, 0.5]}, "seeds": [0]}))
    ok(["sweep", sweep, "--out", "sweeps/mine", "--no-progress"], capsys)
    table = ok(["results", "sweeps", "--columns", "name,task_name,heldout_overlap_count", "--csv"], capsys)
    assert table.count("my_tasks:LeapTwo") == 2 and ",0\n" in table + "\n"
    ok(["report", "sweeps"], capsys)
    assert (plugin / "sweeps" / "report" / "mine.png").is_file()
    ok(["plot", "run"], capsys)
    from cotmix.experiments.report.data import Sweep

    assert Sweep.of_run(plugin / "run").runs[0].title().startswith("leap-2 parity d=6")  # the task's own name
    ok(["export", "run", "--out", "hf"], capsys)
    assert (plugin / "hf" / "model.safetensors").is_file()
    ok(["data", *TINY, "--train-samples", "32", "--out", "data"], capsys)
    from cotmix.config import load_config
    from cotmix.tasks import make_task

    task = make_task(load_config(overrides=TINY).task)
    assert type(task).__name__ == "LeapTwo" and task.leap == 2  # the user's class, its own settings
    assert task.partition.has_validation and task.partition.reserved_count == 16

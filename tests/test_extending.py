"""docs/extending.md runs as written: each Python block is executed in order, in one namespace, so
the guide's task, algorithm, reward and figure cannot drift from the code."""

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_every_python_example_of_the_guide_runs(tmp_path, monkeypatch, capsys):
    from cotmix.registry import ALGORITHMS, FIGURES, REWARDS, TASKS

    for registry in (ALGORITHMS, FIGURES, REWARDS, TASKS):  # the guide's entries go when the test ends
        registry.names()
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
        monkeypatch.setattr(registry, "_where", dict(registry._where))

    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), namespace)
    assert "tensor(" in capsys.readouterr().out  # the reward example prints its rewards
    from cotmix.config import load_config

    leap = load_config(overrides=["task.name=parity-leapn", "task.d=9", "task.options.leap=4"]).task
    assert TASKS["parity-leapn"].from_config(leap).leap == 4
    assert {"grpo_seq_mean"} <= set(ALGORITHMS.names()) and "e2e_or_short" in REWARDS.names()
    assert "final_accuracy" in FIGURES.names() and list(tmp_path.iterdir()) == []

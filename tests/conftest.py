"""Shared fixtures: tiny configs that train in seconds on 2 CPU cores."""

import contextlib
import os

import pytest
import torch

from cotmix.config import load_config

# Two cores: two threads for one pytest process, one each under `make test`'s two xdist workers.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)

TINY = ["task.d=6", "task.p_cot=0.25", "model.d_model=32", "model.n_head=2",
        "pretrain.steps=20", "pretrain.batch_size=32", "pretrain.log_interval=5",
        "pretrain.eval_interval=10", "pretrain.ckpt_interval=10",
        "posttrain.steps=4", "posttrain.prompts_per_step=8", "posttrain.group_size=4",
        "posttrain.eval_interval=2", "posttrain.ckpt_interval=2",
        "eval.n_prompts=64", "eval.pass_k_prompts=8"]

# Learns the chain in a few hundred steps while the short answer (parity of 10 bits) stays out of
# reach; a fixed, decayed budget (not the stopping rule) so that the stop-or-continue probability has
# settled too. d = 10 has 1024 inputs, 256 held out.
CALIBRATION = ["task.d=10", "model.d_model=32", "model.n_head=2", "pretrain.steps=1000", "pretrain.lr=3e-3",
               "pretrain.schedule=cosine", "pretrain.stop_when=none", "pretrain.batch_size=128",
               "pretrain.eval_interval=1000", "pretrain.ckpt_interval=1000", "pretrain.log_interval=100",
               "pretrain.eval_early=false", "eval.n_prompts=4096"]  # no early evaluations: no test draws curves


@pytest.fixture
def tiny_cfg():
    def make(*overrides):
        return load_config(overrides=TINY + list(overrides))
    return make


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory):
    """A tiny NTP model at p_cot = 0.25 (about 10 s): chain learnt, parity not.
    Returns (config, final eval metrics, run directory)."""
    from cotmix.loops.pretrain import train_ntp

    cfg = load_config(overrides=CALIBRATION + ["task.p_cot=0.25"])
    run = tmp_path_factory.mktemp("calibrated")
    return cfg, train_ntp(cfg, run, progress=False)["eval"], run


FAILING_ALGORITHM = "fails_at_first_step"  # valid by every check config makes; fails once it runs
FAILING_RUN = f"posttrain.algorithm={FAILING_ALGORITHM}"


def fail_at_first_step(ctx):
    raise RuntimeError("this algorithm fails at its first step, on purpose")


@contextlib.contextmanager
def failing_algorithm():
    """FAILING_ALGORITHM registered for the duration (so no test that lists the algorithms sees it)."""
    from cotmix.registry import ALGORITHMS

    ALGORITHMS.register(FAILING_ALGORITHM, fail_at_first_step)
    try:
        yield
    finally:
        del ALGORITHMS._entries[FAILING_ALGORITHM], ALGORITHMS._where[FAILING_ALGORITHM]


TINY_SWEEP = {"name": "tiny", "preset": "tiny", "grid": {"task.p_cot": [0.2, 0.5]}, "seeds": [0, 1]}
FAILING_SWEEP = TINY_SWEEP | {"also": [{"posttrain.algorithm": FAILING_ALGORITHM}]}  # tiny_sweep's grid


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """Four tiny runs plus one that raises at run time (its RL algorithm, FAILING_ALGORITHM, fails
    its first step). Returns (sweep directory, statuses)."""
    from cotmix.experiments.grid import grid_from_dict
    from cotmix.experiments.runner import run_sweep

    out = tmp_path_factory.mktemp("sweeps") / "tiny"
    with failing_algorithm():
        statuses = run_sweep(grid_from_dict(FAILING_SWEEP), out, progress=False, log=lambda *_: None)
    return out, statuses


# `make test-fast` (pytest -m "not slow") is the inner loop, under 2 minutes on 2 cores: it leaves out
# what trains a model past a few steps. Such a test is marked slow here when it uses a trained fixture
# or lives in a module that drives whole commands end to end; any other is marked where it is defined.
TRAINED_FIXTURES = {"calibrated", "tiny_sweep", "tiny_run", "trained_run", "tiny_linear"}
END_TO_END = {"test_cli", "test_runner", "test_outputs", "test_ecosystem", "test_plugins", "test_bench",
              "test_device", "test_fuzz", "test_llm", "test_notebook", "test_extending"}


def pytest_collection_modifyitems(items):
    for item in items:
        if TRAINED_FIXTURES & set(getattr(item, "fixturenames", ())) or item.module.__name__ in END_TO_END:
            item.add_marker(pytest.mark.slow)

"""Checkpoints: safetensors + JSON round trip; missing or corrupt ones fail with one clear line."""

import pytest
import torch

from cotmix.config import load_config
from cotmix.errors import CotmixError
from cotmix.model.transformer import build_model
from cotmix.tasks import make_task
from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from cotmix.train.optim import make_optimizer


@pytest.fixture
def saved(tmp_path):
    cfg = load_config(overrides=["task.d=6", "model.d_model=16", "model.n_head=2"])
    task = make_task(cfg.task)
    model = build_model(cfg.model, task)
    opt = make_optimizer(model, 1e-3)
    model(torch.randint(0, 5, (2, 8))).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(3)
    torch.rand(5, generator=gen)  # advance it, so the saved state is not the seed state
    path = save_checkpoint(tmp_path / "step_000001", model, cfg, {"step": 1}, opt, {"data": gen})
    return path, cfg, model, opt, gen


def test_round_trip_restores_weights_optimizer_and_generator(saved):
    path, cfg, model, opt, gen = saved
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "state.json", "trainer.safetensors"]
    ckpt = load_checkpoint(path)
    assert ckpt.config == cfg and ckpt.state == {"step": 1}
    task = make_task(cfg.task)
    fresh = build_model(cfg.model, task)
    ckpt.load_model(fresh)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    fresh_opt = make_optimizer(fresh, 1e-3)
    ckpt.load_optimizer(fresh_opt)
    for old_param, new_param in zip(model.parameters(), fresh.parameters()):
        a, b = opt.state[old_param], fresh_opt.state[new_param]
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    restored = torch.Generator()
    ckpt.load_generator("data", restored)
    assert torch.equal(torch.rand(4, generator=restored), torch.rand(4, generator=gen))


def test_resolve_run_directory_to_latest_checkpoint(saved, tmp_path):
    path = saved[0]
    run = tmp_path / "run"
    (run / "checkpoints" / "pretrain").mkdir(parents=True)
    for step in (5, 10):
        (run / "checkpoints" / "pretrain" / f"step_{step:06d}").symlink_to(path, target_is_directory=True)
    assert resolve_checkpoint(run).name == "step_000010"
    assert resolve_checkpoint(path) == path


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "model.safetensors").write_bytes(b"garbage"), "corrupt"),
    (lambda p: (p / "trainer.safetensors").write_bytes((p / "trainer.safetensors").read_bytes()[:50]), "corrupt"),
    (lambda p: (p / "state.json").write_text("{not json"), "corrupt"),
    (lambda p: (p / "state.json").unlink(), "missing state.json"),
    (lambda p: (p / "state.json").write_text('{"config": {"task": {"p_cot": 7}}, "state": {}}'), "corrupt config"),
    (lambda p: (p / "state.json").write_text('{"config": {"task": {"name": "absent_plugin_mod:MyTask"}}, "state": {}}'),
     "names code that does not load here .*absent_plugin_mod.*PYTHONPATH"),
])
def test_damaged_checkpoint_is_reported_not_loaded(saved, damage, message):
    path = saved[0]
    damage(path)
    with pytest.raises(CotmixError, match=message) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CotmixError, match="no such"):
        resolve_checkpoint(tmp_path / "nothing")
    with pytest.raises(CotmixError, match="neither a checkpoint"):
        resolve_checkpoint(tmp_path)


def test_weights_of_another_shape_are_refused(saved):
    path = saved[0]
    other = load_config(overrides=["task.d=6", "model.d_model=32", "model.n_head=2"])
    with pytest.raises(CotmixError, match="do not fit"):
        load_checkpoint(path).load_model(build_model(other.model, make_task(other.task)))

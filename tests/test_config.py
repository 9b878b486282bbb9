"""Config: overrides are typed, every bad value names key, value and what is allowed."""

import pytest

from cotmix.config import Config, config_from_dict, load_config
from cotmix.errors import ConfigError
from cotmix.options import describe_fields


def test_overrides_are_coerced_to_field_types():
    cfg = load_config(overrides=["task.d=30", "task.p_cot=0.3", "task.loss_on_prompt=true", "model.flavour=llama"])
    assert (cfg.task.d, cfg.task.p_cot, cfg.task.loss_on_prompt, cfg.model.flavour) == (30, 0.3, True, "llama")
    assert isinstance(cfg.task.d, int) and isinstance(cfg.task.p_cot, float)


@pytest.mark.parametrize("override, fragment", [
    ("task.p_cot=1.5", "task.p_cot=1.5: must be in [0.0, 1.0]"),
    ("task.p_cot=-0.1", "task.p_cot=-0.1"),
    ("task.d=1", "task.d=1: must be in [2, 512]"),
    ("model.n_head=3", "model.n_head=3: must divide model.d_model=64"),
    ("pretrain.steps=-1", "pretrain.steps=-1: must be >= 0"),
    ("pretrain.lr=0", "pretrain.lr=0.0: must be in (0.0, 1.0]"),
    ("task.dd=3", "unknown config key 'task.dd' (did you mean 'task.d'?): the parity task has d, leap"),
    ("nope=3", "unknown config key 'nope'"),
    ("task=3", "is a section"),
    ("task.d=2.5", "task.d='2.5': expected an integer"),
    ("task.p_cot=abc", "expected a number"),
    ("task.loss_on_prompt=maybe", "expected a boolean"),
    ("model.flavour=rnn", "allowed values are gpt2, llama"),
    ("task.leap=20", "task.leap=20: must be < task.d=20"),
    ("task.d", "is not key=value"),
])
def test_bad_values_are_rejected_with_one_clear_line(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_llama_needs_even_head_width():
    with pytest.raises(ConfigError, match="even head width"):
        load_config(overrides=["model.flavour=llama", "model.d_model=36", "model.n_head=4"])


def test_yaml_file_then_overrides_take_precedence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task:\n  d: 12\n  p_cot: 0.4\nseed: 7\n")
    cfg = load_config(config_file=path, overrides=["task.p_cot=0.1"])
    assert (cfg.task.d, cfg.task.p_cot, cfg.seed) == (12, 0.1, 7)


def test_unparseable_or_missing_config_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(config_file=bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(config_file=tmp_path / "missing.yaml")


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="available: .*quick"):
        load_config(preset="nope")


def test_every_field_is_documented_and_settable_by_the_key_it_is_listed_under():
    """Every listed key, a task's own settings included, has help and takes its own default back
    through the CLI's path."""
    from cotmix.cli.inspect import own_settings

    as_text = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    shared = [row for row in describe_fields(Config()) if row[0] != "task.options"]
    own = {name: own_settings(name) for name in ("parity", "multiplication", "digitsum")}
    assert all(help_text for _, _, help_text in shared + sum(own.values(), []))
    for key, default, _ in shared:
        assert dict((k, v) for k, v, _ in describe_fields(load_config(overrides=[f"{key}={as_text(default)}"])))[key] == default
    for name, rows in own.items():
        assert rows, f"{name} declares its settings"
        for key, default, _ in rows:
            cfg = load_config(overrides=[f"task.name={name}", f"{key}={as_text(default)}"])
            assert cfg.to_dict()["task"][key.removeprefix("task.")] == default


def test_a_task_takes_only_the_settings_it_declares():
    """chain_noise is parity's: multiplication refuses it (with its own settings named); a preset's
    parity d does not bind a task chosen after it, but an explicit one is refused."""
    with pytest.raises(ConfigError, match="the multiplication task has digits_a, digits_b"):
        load_config(overrides=["task.name=multiplication", "task.chain_noise=0.1"])
    assert load_config(overrides=["task.chain_noise=0.1"]).task.chain_noise == 0.1
    assert load_config("tiny", overrides=["task.name=multiplication"]).to_dict()["task"].keys() >= {"digits_a", "digits_b"}
    assert "d" not in load_config("tiny", overrides=["task.name=multiplication"]).to_dict()["task"]
    with pytest.raises(ConfigError, match="unknown config key 'task.d'"):
        load_config(overrides=["task.name=multiplication", "task.d=8"])


def test_saved_configs_from_before_tasks_owned_their_settings_load_unchanged():
    """A config.json that carried every task's fields (parity's with digits_a = 2) loads, and keeps
    every setting its task has."""
    old = Config().to_dict()
    old["task"].update({"digits_a": 2, "digits_b": 2, "options": {}, "d": 12})
    assert config_from_dict(old).to_dict()["task"] == load_config(overrides=["task.d=12"]).to_dict()["task"]
    old["task"].update({"name": "multiplication", "digits_a": 3, "d": 20, "leap": 1, "chain_noise": 0.0})
    assert config_from_dict(old).task.options == {"digits_a": 3, "digits_b": 2}
    old["task"]["d"] = 8  # not the value every task carried: a setting multiplication does not have
    with pytest.raises(ConfigError, match="unknown config key 'task.d'"):
        config_from_dict(old)


def test_docs_config_md_is_the_generated_table(capsys):
    """docs/config.md is `cotmix config --markdown`; a key added or changed without it fails here."""
    from pathlib import Path

    from cotmix.cli import main

    assert main(["config", "--markdown"]) == 0
    table = capsys.readouterr().out.strip()
    doc = (Path(__file__).parent.parent / "docs" / "config.md").read_text()
    assert table in doc


def test_redefault_changes_the_default_and_keeps_the_help_and_range():
    """The LLM study's defaults are its pre-registered setting; each keeps the base option's check."""
    import dataclasses

    from cotmix.llm.options import ExperimentOptions
    from cotmix.llm.study import StudyOptions

    base = {f.name: f for f in dataclasses.fields(ExperimentOptions)}
    study = {f.name: f for f in dataclasses.fields(StudyOptions)}
    assert (study["digits"].default, base["digits"].default) == (1, 2)
    assert study["digits"].metadata == base["digits"].metadata and study["digits"].metadata["hi"] == 9
    assert StudyOptions(out="x").source == "chain-sum" and ExperimentOptions(out="x").source == "gsm-symbolic"

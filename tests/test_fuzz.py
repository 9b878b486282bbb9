"""Property-based fuzzing of every input surface: whatever is typed, the outcome is success, or exactly
one `cotmix: error:` line on stderr with exit code 2, never a traceback, and nothing left half-written.

A few hundred examples in `make test`; COTMIX_FUZZ_EXAMPLES=2000 runs more of each.
"""

import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotmix.cli import main
from cotmix.config import Config, load_config
from cotmix.errors import ConfigError
from cotmix.options import describe_fields

EXAMPLES = int(os.environ.get("COTMIX_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
KEYS = [key for key, _, _ in describe_fields(Config())]

values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.sampled_from(["", "nan", "inf", "-0", "1e400", "0x10", "true", "cuda:7", "llama", "star",
                                    "multiplication", "../x", "1,2", "\x00", "é"]),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(["task", "task.", ".d", "model.d_model.x", "nope"]),
                 st.text(max_size=10))


def cli(args: list[str]) -> int:
    """`cotmix ARGS` in this process; argparse's own usage errors end in SystemExit, as on the shell."""
    try:
        return main(args)
    except SystemExit as exc:  # --help, or a flag without its value (`--where -1`)
        return exc.code


def outcome(capsys, code: int) -> None:
    """Success, or exactly one error line with exit 2 (never a traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:
        lines = [line for line in err.strip().splitlines() if not line.startswith("cotmix: warning:")]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("cotmix: error:"), (code, err)


def text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@FUZZ
@given(st.lists(st.tuples(keys, values), max_size=4))
def test_config_parser_returns_a_config_or_one_config_error(pairs):
    try:
        cfg = load_config(overrides=[f"{k}={text(v)}" for k, v in pairs])
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(cfg, Config) and 0 <= cfg.task.p_cot <= 1 and math.isfinite(cfg.posttrain.lr)


@FUZZ
@given(st.lists(st.tuples(keys, values), max_size=4))
def test_cotmix_config_command(capsys, pairs):
    outcome(capsys, cli(["config", *[f"{k}={text(v)}" for k, v in pairs]]))


@FUZZ
@given(st.tuples(st.sampled_from(KEYS), values).filter(lambda kv: not _valid(*kv)))
def test_training_commands_refuse_a_bad_value_and_write_nothing(tmp_path_factory, capsys, kv):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    for command in ("pretrain", "run"):
        code = cli([command, f"{kv[0]}={text(kv[1])}", "--out", str(out)])
        outcome(capsys, code)
        assert code == 2 and not out.exists()


def _valid(key, value) -> bool:
    try:
        load_config(overrides=[f"{key}={text(value)}"])
        return True
    except ConfigError:
        return False


sweep_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(0, 1),
                                      st.sampled_from(["tiny", "run", "pretrain", "../x", "a/b", "task.d"])),
                            lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(st.sampled_from(["task.d", "task.p_cot", "seed", "x"]),
                                                                    inner, max_size=3)), max_leaves=8)
sweep_files = st.dictionaries(st.sampled_from(["name", "command", "preset", "base", "grid", "also", "seeds", "junk"]),
                              sweep_values, max_size=5)


@FUZZ
@given(sweep_files)
def test_sweep_files(tmp_path_factory, capsys, sweep):
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "s.yaml"
    path.write_text(json.dumps(sweep))  # JSON is YAML
    outcome(capsys, cli(["sweep", str(path), "--list"]))
    assert sorted(p.name for p in folder.iterdir()) == ["s.yaml"]  # --list writes nothing


@pytest.fixture(scope="module")
def results_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    (root / "a").mkdir()
    (root / "a" / "config.json").write_text(json.dumps(load_config().to_dict()))
    return root


@FUZZ
@given(st.one_of(st.text(max_size=40), st.sampled_from(["1=1", "task_d > 3", "name LIKE 'a%'", "1; SELECT 1",
                                                        "(SELECT * FROM read_text('/etc/passwd'))"])),
       st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["name", "task_d DESC"])))
def test_results_queries(results_root, capsys, where, sort):
    args = ["results", str(results_root), "--where", where] + (["--sort", sort] if sort is not None else [])
    outcome(capsys, cli(args))
    assert sorted(p.name for p in results_root.iterdir()) == ["a", "results.parquet"]  # the query wrote nothing


@FUZZ
@given(st.dictionaries(st.sampled_from(["model.safetensors", "trainer.safetensors", "state.json"]),
                       st.one_of(st.binary(max_size=64), st.sampled_from([b"{}", b'{"config": {}, "state": {}}',
                                                                          b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "])),
                       max_size=3))
def test_eval_and_sample_of_garbage_checkpoints(tmp_path_factory, capsys, files):
    ckpt = tmp_path_factory.mktemp("ckpt")
    for name, content in files.items():
        (ckpt / name).write_bytes(content)
    outcome(capsys, cli(["eval", "--checkpoint", str(ckpt)]))
    outcome(capsys, cli(["sample", "--checkpoint", str(ckpt)]))


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(["--d", "--star-rounds", "--lam", "--star-p0", "--steps", "--seeds"]),
                          st.text(max_size=6), st.sampled_from(["-1", "0", "nan", "0.5,2", "x"])), max_size=4))
def test_theory_flags(tmp_path_factory, capsys, argv):
    out = tmp_path_factory.mktemp("theory")
    outcome(capsys, cli(["theory", "--out", str(out / "t"), "--no-progress", "--star-rounds", "0", "--steps", "1",
                         "--chain-steps", "1", "--eval-samples", "8", "--calibration-grid", "0.2",
                         "--threshold-grid", "0.4", "--star-samples", "64", "--batch", "8", *argv]))


# --- the commands that write: report, results on hostile tables, publish/restore, export, data, sample ---

json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
                                     st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                           max_leaves=10)
run_file = st.one_of(json_values.map(json.dumps), st.sampled_from(["[" * 5000 + "]" * 5000, "{", "\x00", ""]),
                     st.just(json.dumps({"state": "done"})))
names = st.one_of(st.text(max_size=12), st.sampled_from(["..", ".", "../x", "a/b", "/", "-x", "x" * 300,
                                                         "a\nb", "\x1b[2J", "report.html", "."]))


def temporaries(root) -> list:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@FUZZ
@given(st.dictionaries(st.sampled_from(["sweep.json", "runs/r/config.json", "runs/r/summary.json",
                                        "runs/r/status.json", "runs/r/metrics.jsonl", "report"]), run_file,
                       max_size=5), names, st.booleans())
def test_report_of_hostile_sweeps(tmp_path_factory, capsys, files, out_name, partial):
    root = tmp_path_factory.mktemp("report")
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    outcome(capsys, cli(["report", str(root), *(["--partial"] if partial else []), "--out", str(root / out_name)]))
    assert temporaries(root) == []
    changed = [p for p, content in before.items() if not p.is_file() or p.read_bytes() != content]
    assert changed == [], changed  # a report replaces only its own page and figures, none of which were there


@FUZZ
@given(st.binary(max_size=256), st.sampled_from(["fig", "a\r\nb", "\x1b[31mred"]), st.booleans())
def test_results_of_hostile_tables(tmp_path_factory, capsys, table, folder, prefix):
    root = tmp_path_factory.mktemp("tables")
    (root / folder).mkdir()
    (root / folder / "results.parquet").write_bytes((b"PAR1" if prefix else b"") + table)
    for args in (["results", str(root)], ["results", str(root / folder)], ["results", str(root), "--csv"]):
        outcome(capsys, cli(args))
    assert temporaries(root) == [] and sorted(p.name for p in (root / folder).iterdir()) == ["results.parquet"]


@FUZZ
@given(names, st.sampled_from(["publish", "restore"]))
def test_publish_and_restore_names(tmp_path_factory, capsys, name, command):
    root = tmp_path_factory.mktemp("publish")
    (root / "src" / "s" / "runs").mkdir(parents=True)
    (root / "src" / "s" / "sweep.json").write_text("{}")
    (root / "dest" / "keep").mkdir(parents=True)
    (root / "dest" / "keep" / "thesis.tex").write_text("years")
    code = cli([command, name, "--src", str(root / "src"), "--dest", str(root / "dest")])
    outcome(capsys, code)
    assert (root / "dest" / "keep" / "thesis.tex").read_text() == "years" and (root / "src" / "s").is_dir()
    assert temporaries(root) == []


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from cotmix.loops.pretrain import train_ntp
    from cotmix.rundir import prepare_run_dir, release_run_dir

    run = tmp_path_factory.mktemp("tiny") / "run"
    cfg = load_config(overrides=["task.d=6", "model.d_model=16", "model.n_head=2", "pretrain.steps=2",
                                 "pretrain.batch_size=8", "pretrain.stop_when=none", "eval.n_prompts=8"])
    prepare_run_dir(run, cfg.to_dict(), resume=False)
    train_ntp(cfg, run, progress=False)
    release_run_dir(run)
    return run


@FUZZ
@given(names)
def test_export_to_any_name(tiny_run, tmp_path_factory, capsys, name):
    root = tmp_path_factory.mktemp("export")
    (root / "taken").mkdir()
    (root / "taken" / "x").write_text("keep")
    code = cli(["export", str(tiny_run), "--out", str(root / name)])
    outcome(capsys, code)
    assert (root / "taken" / "x").read_text() == "keep" and temporaries(root) == []


sizes = st.one_of(st.integers(-5, 2**80), st.sampled_from(["nan", "1e9", "", "x", "-0", "1" + "0" * 5000]))


@FUZZ
@given(sizes, st.one_of(st.sampled_from(["parquet", "jsonl"]), st.text(max_size=6)), names)
def test_data_sizes_formats_and_names(tmp_path_factory, capsys, n, fmt, name):
    root = tmp_path_factory.mktemp("data")
    small = isinstance(n, int) and n <= 64
    code = cli(["data", "task.d=6", "eval.n_prompts=8", "--train-samples", str(n if small or not isinstance(n, int)
                                                                               else n * 10**6), "--format", fmt,
                "--out", str(root / name)])
    outcome(capsys, code)
    assert temporaries(root) == []
    if code != 0:
        assert list(root.iterdir()) == [] or name in ("", ".", "/") or "/" in name


@FUZZ
@given(st.one_of(st.integers(-3, 2**70), sizes), st.one_of(st.floats(), st.sampled_from(["0", "1e-40", "1e-3"])),
       st.one_of(st.integers(-2**70, 2**70), sizes))
def test_sample_flags(tiny_run, capsys, n, temperature, seed):
    n = n if not isinstance(n, int) or n < 64 else n * 1000  # never print a large sample: sizes are refused
    outcome(capsys, cli(["sample", "--checkpoint", str(tiny_run), "-n", str(n), "--temperature", str(temperature),
                         "--seed", str(seed)]))


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(["--batch", "--eval-samples", "--star-samples", "--seed", "--seeds",
                                           "--calibration-grid", "--complexity-d"]),
                          st.sampled_from(["", ",", "10" * 30, str(2**64), "-1", "1e12", "0.2,0.4"])), max_size=6))
def test_theory_sizes_seeds_and_grids(tmp_path_factory, capsys, argv):
    out = tmp_path_factory.mktemp("theory") / "t"
    code = cli(["theory", "--out", str(out), "--no-progress", "--star-rounds", "0", "--steps", "1", "--chain-steps",
                "1", "--eval-samples", "8", "--threshold-grid", "0.4", "--batch", "8", *argv])
    outcome(capsys, code)
    if code != 0:
        assert not out.exists()

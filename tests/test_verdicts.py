"""cotmix.experiments.verdicts: a study's pre-registered criteria give met / mixed / not met from the
data, with k of n and an exact interval; every built-in study with a claim has criteria."""

import pytest

from cotmix.eval.stats import clopper_pearson
from cotmix.experiments.studies import STUDIES
from cotmix.experiments.verdicts import Criterion, judge, verdict_line


@pytest.mark.parametrize("k, n, lo, hi", [(0, 3, 0.0, 0.7076), (3, 3, 0.2924, 1.0), (2, 3, 0.0943, 0.9916),
                                          (5, 10, 0.1871, 0.8129), (0, 1, 0.0, 0.975)])
def test_clopper_pearson_matches_the_exact_interval(k, n, lo, hi):
    got = clopper_pearson(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-4) and got[1] == pytest.approx(hi, abs=1e-4)


def run(d=20, p=0.25, post=None, base=None, pre=None, unfinished=()):
    config = {"task": {"d": d, "p_cot": p}, "posttrain": {"steps": 40}}
    summary = {}
    for phase, metrics in (("posttrain", post), ("baseline", base), ("pretrain", pre)):
        if metrics is not None:
            summary[phase] = {"eval": metrics} | ({"unfinished": True} if phase in unfinished else {})
    return config, summary


RL = Criterion("RL", "posttrain", "greedy_accuracy", ">=", 0.99)
LONG = Criterion("long", "posttrain", "greedy_length_median", ">=", "d+1")
CHANCE = Criterion("chance", "baseline", "greedy_accuracy", "chance")


def test_met_mixed_not_met_and_no_data():
    good = run(post={"greedy_accuracy": 1.0, "greedy_length_median": 21},
               base={"greedy_accuracy": 0.49, "greedy_accuracy_ci95": [0.47, 0.51]})
    slipped = run(post={"greedy_accuracy": 0.987, "greedy_length_median": 21},
                  base={"greedy_accuracy": 0.53, "greedy_accuracy_ci95": [0.51, 0.55]})
    assert judge((RL, LONG, CHANCE), [good, good, good])["verdict"] == "met"
    result = judge((RL, LONG, CHANCE), [good, good, slipped])
    assert result["verdict"] == "mixed" and [r["verdict"] for r in result["criteria"]] == ["mixed", "met", "mixed"]
    assert result["criteria"][0]["k"] == 2 and result["criteria"][0]["n"] == 3
    assert judge((RL,), [slipped])["verdict"] == "not met"
    assert judge((RL, LONG), [good, slipped, slipped])["verdict"] == "mixed"
    assert judge((RL, CHANCE), [slipped])["verdict"] == "not met"  # one criterion not met decides
    assert judge((RL,), [])["verdict"] == "no data"


def test_the_bar_d_plus_1_reads_each_runs_d_and_where_selects_settings():
    short = run(d=50, post={"greedy_length_median": 21})
    assert judge((LONG,), [short])["verdict"] == "not met"  # 21 < 51
    above = Criterion("above", "pretrain", "greedy_accuracy", ">=", 0.99, where={"task.p_cot": [0.4]})
    runs = [run(p=0.25, pre={"greedy_accuracy": 0.5}), run(p=0.4, pre={"greedy_accuracy": 1.0})]
    result = judge((above,), runs)
    assert result["verdict"] == "met" and result["criteria"][0]["n"] == 1


def test_runs_still_to_come_leave_a_criterion_pending_unless_it_is_already_mixed():
    done = run(post={"greedy_accuracy": 1.0})
    slipped = run(post={"greedy_accuracy": 0.9})
    running = run(post={"greedy_accuracy": 1.0}, unfinished=("posttrain",))
    not_started = {"task": {"d": 20, "p_cot": 0.25}}
    result = judge((RL,), [done, running], planned=[not_started])
    assert result["verdict"] == "pending" and result["criteria"][0]["missing"] == 2
    assert "pending (1 of the 1 decided runs meet it, 2 of 3 not there yet)" in verdict_line(result)
    assert result["criteria"][0]["ci95"] is None  # no share to bound before the runs are in
    assert judge((RL,), [slipped, running])["verdict"] == "pending"  # all missed so far: may still be mixed
    assert judge((RL,), [done, slipped, running])["verdict"] == "mixed"  # nothing to come can change that
    # A criterion every run has already missed is not met, whatever the others still wait for.
    off_chance = {"greedy_accuracy": 0.53, "greedy_accuracy_ci95": [0.51, 0.55]}
    rl_running = run(post={"greedy_accuracy": 1.0}, base=off_chance, unfinished=("posttrain",))
    result = judge((RL, CHANCE), [slipped + (True,), rl_running])
    assert [r["verdict"] for r in result["criteria"]] == ["pending", "not met"] and result["verdict"] == "not met"


def test_a_finished_run_without_the_metric_misses_it():
    # A done run with no post-training (its preflight stopped it) will never get the metric.
    no_rl = run(pre={"greedy_accuracy": 0.5})
    assert judge((RL,), [run(post={"greedy_accuracy": 1.0}) + (True,), no_rl + (True,)])["verdict"] == "mixed"
    assert judge((RL,), [no_rl])["verdict"] == "pending"  # without `finished` it is taken as under way


def test_a_partial_copy_counts_the_runs_its_spec_has_not_started(tmp_path):
    """A partial copy of a 2 x 2 sweep holding one finished run, named with its keys in the other
    order from sweep.json's sorted ones: three runs are still to come, and the verdict waits."""
    import json

    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.verdicts import study_verdict

    folder = tmp_path / "fig-size"
    spec = {"name": "fig-size", "command": "run", "preset": "tiny", "base": {}, "also": [], "seeds": [0],
            "grid": {"model.d_model": [64, 128], "model.n_layer": [2, 4]}}
    (folder / "runs").mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(spec))
    (started := folder / "runs" / "model.n_layer=2,model.d_model=64,seed=0").mkdir()
    from cotmix.experiments.grid import grid_from_dict

    first = "model.d_model=64,model.n_layer=2,seed=0"  # the same run, keys in sweep.json's order
    config = next(r for r in grid_from_dict(spec).runs() if r.name == first).config()
    (started / "config.json").write_text(json.dumps(config.to_dict()))
    (started / "status.json").write_text(json.dumps({"state": "done"}))
    (started / "summary.json").write_text(json.dumps({"pretrain": {"eval": {"greedy_accuracy": 0.5,
                                                                              "greedy_accuracy_ci95": [0.45, 0.55]}}}))
    sweep = load_sweep(folder)
    assert len(sweep.not_started()) == 3
    result = study_verdict(STUDIES["fig-size"], sweep)
    assert result["verdict"] == "pending" and "(3 to come)" in result["short"]


def test_every_study_with_a_claim_has_criteria_that_name_real_phases_and_keys():
    from cotmix.experiments.studies import study_grid
    from cotmix.registry import load_attribute

    for name, study in STUDIES.items():
        if name == "study-phase-diagram":  # an open question with no hypothesis
            assert study.criteria == ()
            continue
        if study.judged_by:  # a claim about the runs together, judged by its own function
            assert not study.criteria and callable(load_attribute(study.judged_by, "judged_by", name)), name
            continue
        assert study.criteria, name
        spec = study_grid(name)
        keys = set(spec["grid"]) | set(spec["base"]) | {k for extra in spec["also"] for k in extra} | \
            {k for arm in (spec.get("arms") or {}).values() for k in arm}
        for criterion in study.criteria:
            assert criterion.phase in ("pretrain", "posttrain", "baseline"), name
            assert set(criterion.where) <= keys, (name, criterion.where)

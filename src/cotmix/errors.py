"""What the user is told when something is wrong: one line, never a traceback.

`CotmixError` (and `ConfigError`, for a bad config value) carry a message the CLI prints as
`cotmix: error: ...` before exiting with status 2. `warn` prints `cotmix: warning: ...` and lets
the run go on.
"""

from __future__ import annotations

import sys


class CotmixError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with 2."""


class ConfigError(CotmixError):
    """A config key or value that is not allowed; the message names the key and what is allowed."""


def warn(message: str) -> None:
    """One warning line on stderr (a run goes on; `cotmix: error:` lines are the ones that stop it)."""
    print(f"cotmix: warning: {message}", file=sys.stderr)

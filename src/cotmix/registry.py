"""Registries: the one mechanism by which cotmix finds a task, an RL algorithm, an advantage
estimator, a loss aggregation, a reward, a stop rule or a report figure by name.

    ALGORITHMS = Registry("posttrain.algorithm", builtins=("cotmix.rl.algorithms",), group="cotmix.algorithms")

    @ALGORITHMS.register("grpo")
    def grpo(ctx): ...

    ALGORITHMS["grpo"]                      # the function
    ALGORITHMS["my_pkg.rl:my_algorithm"]    # a user's function, imported on first use
    ALGORITHMS.names()                      # every registered name, for --help and error messages

A registry owns its names: registering a name twice is an error naming both places, and an
unknown name is one line listing the allowed ones (with the closest as a suggestion). Its built-in
entries live in the modules listed in `builtins`, imported the first time the registry is read, so
config validation needs no list of names written twice. Installed packages add entries through the
entry-point group `group` (in their pyproject: `[project.entry-points."cotmix.tasks"] name =
"pkg.module:Class"`), and any `module:attribute` string works without installing anything.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points

from cotmix.errors import ConfigError, CotmixError, UnimportableCode


class Registry:
    def __init__(self, kind: str, builtins: Iterable[str] = (), group: str | None = None,
                 check: Callable[[str, object], None] | None = None):
        self.kind, self.builtin_modules, self.group = kind, tuple(builtins), group
        self.check = check  # raises ConfigError when a loaded `module:attribute` is not the right kind of thing
        self._entries: dict[str, object] = {}
        self._where: dict[str, str] = {}
        self._loaded = False

    def register(self, name: str, obj=None):
        """Register `obj` under `name` (or use as a decorator: @REGISTRY.register("name"))."""
        if obj is None:
            return lambda fn: self.register(name, fn)
        where = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        if name in self._entries and self._entries[name] is not obj:
            raise CotmixError(f"{self.kind} {name!r} is registered twice: by {self._where[name]} and by {where}; "
                              "choose another name")
        if ":" in name or not name:
            raise CotmixError(f"{self.kind} name {name!r}: must be non-empty and without ':' (kept for module:attribute)")
        self._entries[name], self._where[name] = obj, where
        return obj

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtin_modules:
            importlib.import_module(module)
        if self.group:
            for ep in entry_points(group=self.group):
                if ep.name not in self._entries:
                    self.register(ep.name, load_attribute(ep.value, self.kind, ep.name))

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(self._entries)

    def __contains__(self, name: str) -> bool:
        return self.resolve(name, quiet=True) is not None

    def __getitem__(self, name: str):
        return self.resolve(name)

    def resolve(self, name: str, quiet: bool = False):
        """The entry called `name`, or loaded from `module:attribute`; ConfigError (or None if
        `quiet`) when there is none."""
        self._load()
        if name in self._entries:
            return self._entries[name]
        if isinstance(name, str) and ":" in name:
            try:
                obj = load_attribute(name, self.kind, name)
                if self.check:
                    self.check(name, obj)
            except ConfigError:
                if quiet:
                    return None
                raise
            return obj
        if quiet:
            return None
        close = difflib.get_close_matches(str(name), self._entries, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{self.kind}={name!r}: unknown{hint}; allowed: {', '.join(self._entries)}, or "
                          "module:attribute for your own")

    def check_name(self, name: str) -> str:
        """`name` if it resolves; ConfigError otherwise (config validation calls this)."""
        self.resolve(name)
        return name


def load_attribute(spec: str, kind: str, name: str):
    """The attribute named by 'package.module:attribute'; one ConfigError line when it is not there."""
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ConfigError(f"{kind}={name!r}: expected module:attribute, e.g. my_package.tasks:AdditionTask")
    try:
        obj = importlib.import_module(module)
    except Exception as exc:  # a user's module may fail to import in any way: report it, do not crash
        raise UnimportableCode(f"{kind}={name!r}: cannot import {module!r} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{kind}={name!r}: module {module!r} has no {attribute!r}")
        obj = getattr(obj, part)
    return obj


def _is_task(name: str, obj) -> None:
    # By the class's ancestry, not an import of cotmix.tasks (which itself reads this registry).
    is_task = isinstance(obj, type) and any(f"{c.__module__}.{c.__qualname__}" == "cotmix.tasks.base.Task"
                                            for c in obj.__mro__)
    if not is_task:
        raise ConfigError(f"task.name={name!r}: {obj!r} is not a cotmix Task class (subclass cotmix.tasks.Task)")


def _is_callable(kind: str):
    def check(name: str, obj) -> None:
        if not callable(obj):
            raise ConfigError(f"{kind}={name!r}: {obj!r} is not a function")
    return check


# The registries. Each lists the modules that hold its built-in entries; none is imported before a
# registry is read, so building the CLI parser imports no torch.
TASKS = Registry("task.name", builtins=("cotmix.tasks.parity", "cotmix.tasks.multiplication", "cotmix.tasks.digitsum"),
                 group="cotmix.tasks", check=_is_task)
ALGORITHMS = Registry("posttrain.algorithm", builtins=("cotmix.rl.algorithms",), group="cotmix.algorithms",
                      check=_is_callable("posttrain.algorithm"))
ADVANTAGES = Registry("advantage estimator", builtins=("cotmix.rl.losses",), check=_is_callable("advantage"))
AGGREGATIONS = Registry("posttrain.loss_agg", builtins=("cotmix.rl.losses",), check=_is_callable("posttrain.loss_agg"))
REWARDS = Registry("posttrain.reward", builtins=("cotmix.rl.rewards",), group="cotmix.rewards",
                   check=_is_callable("posttrain.reward"))
STOP_RULES = Registry("stop_when", builtins=("cotmix.eval.evaluate",))
FIGURES = Registry("report figure", builtins=("cotmix.experiments.report.figures",),
                   check=_is_callable("report figure"))

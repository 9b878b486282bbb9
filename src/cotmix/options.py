"""Options: dataclass fields that carry their help text and allowed values, and everything built from them.

Every configurable thing in cotmix (the run config, the theory, the bench, the LLM commands) is a
dataclass of `opt()` fields. From those fields alone come: the dotted overrides of a run config
(`task.p_cot=0.25`, YAML and JSON files), the command-line flags of the other commands
(`--star-rounds 6`, as TRL builds its parser from its dataclasses), the range checks, the help
texts and `cotmix config`. A default is written once, in its field.

A bad value is reported as one line naming the key, the value and what is allowed (ConfigError).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
import math
from dataclasses import field
from pathlib import Path
from typing import Any

from cotmix.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a config or sweep file is a page of text; anything bigger is refused unread


def opt(default, help: str, *, lo=None, hi=None, choices=None, lo_open=False, required=False, empty_ok=False):
    """A field with its documentation and its allowed values (a list default is copied per instance;
    `required` fields have no default on the command line; a list field may be empty only with
    `empty_ok`)."""
    meta = {"help": help, "lo": lo, "hi": hi, "choices": choices, "lo_open": lo_open, "required": required,
            "empty_ok": empty_ok}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def redefault(options: type, name: str, default):
    """The field `name` of the opt() dataclass `options` with another default: same help and range."""
    meta = next(f for f in dataclasses.fields(options) if f.name == name).metadata
    return opt(default, **meta)


# --- values -----------------------------------------------------------------------------------

def _kind(f: dataclasses.Field) -> str:
    """'bool', 'int', 'float', 'str' or 'list[float]' ('X | None' counts as X)."""
    name = f.type if isinstance(f.type, str) else f.type.__name__
    return name.replace(" | None", "").strip()


def coerce(key: str, value: Any, kind: str):
    """Turn a CLI string or a YAML/JSON value into the field's type."""
    if kind.startswith("list["):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key}={value!r}: expected a comma-separated list")
        return [coerce(key, item.strip() if isinstance(item, str) else item, kind[5:-1]) for item in items
                if not (isinstance(item, str) and not item.strip())]
    if value is None:
        return None
    if kind == "dict":  # an open mapping (task.options): a YAML/JSON object, or {} on the command line
        if isinstance(value, str):
            import yaml

            try:
                value = yaml.load(value, Loader=_no_alias_loader()) if value.strip() else {}
            except yaml.YAMLError:
                value = None
        if not isinstance(value, dict):
            raise ConfigError(f"{key}={value!r}: expected a mapping such as {{}} (or set {key}.NAME=VALUE)")
        return dict(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise ConfigError(f"{key}={value!r}: expected a boolean (true/false)")
    if kind == "int":
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            if len(value.strip()) > 30:  # far past any allowed value (and past int()'s digit limit at 4300)
                raise ConfigError(f"{key}={value!r}: an integer of {len(value.strip()):,} digits is out of range")
            return int(value)  # exactly: through a float, 10**23 would read as 99999999999999991611392
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r}: expected an integer") from None
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise ConfigError(f"{key}={value!r}: expected an integer")
        return int(as_float)
    if kind == "float":
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected a number")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r}: expected a number") from None
        if not math.isfinite(out):
            raise ConfigError(f"{key}={value!r}: expected a finite number")
        return out
    return str(value)


def allowed_range(meta: dict) -> str:
    lo, hi = meta.get("lo"), meta.get("hi")
    left = "(" if meta.get("lo_open") else "["
    if hi is None:
        return f"> {lo}" if meta.get("lo_open") else f">= {lo}"
    return f"in {left}{lo}, {hi}]"


def check_field(dotted: str, value, meta: dict) -> None:
    """ConfigError unless value (or each item of a list) is among the choices and in range."""
    if isinstance(value, list):
        if not value and not meta.get("empty_ok"):
            raise ConfigError(f"{dotted}: an empty list; give at least one value (comma-separated)")
        for item in value:
            check_field(dotted, item, meta)
        return
    if value is None:
        if meta.get("required"):
            raise ConfigError(f"{dotted}: required")
        return
    choices, lo, hi = meta.get("choices"), meta.get("lo"), meta.get("hi")
    if choices is not None:
        check_choice(dotted, value, choices)
    below = lo is not None and (value < lo or (meta.get("lo_open") and value == lo))
    if below or (hi is not None and value > hi):
        raise ConfigError(f"{dotted}={value!r}: must be {allowed_range(meta)}")


def check_choice(dotted: str, value, choices) -> None:
    """ConfigError unless value is one of `choices`: plain values, or registries (cotmix.registry),
    whose registered names and `module:attribute` strings count; a registry says what it allows."""
    plain = [c for c in _as_tuple(choices) if not hasattr(c, "resolve")]
    registries = [c for c in _as_tuple(choices) if hasattr(c, "resolve")]
    if value in plain or any(r.resolve(value, quiet=True) is not None for r in registries):
        return
    if len(registries) == 1 and isinstance(value, str):
        allowed = ", ".join(map(str, plain))
        try:
            registries[0].resolve(value)
        except ConfigError as exc:
            raise type(exc)(f"{exc}{' (also: ' + allowed + ')' if allowed else ''}") from None  # its kind kept
    names = [*map(str, plain), *(n for r in registries for n in r.names())]
    raise ConfigError(f"{dotted}={value!r}: allowed values are {', '.join(names)}{did_you_mean(value, names)}")


def did_you_mean(name, allowed, dotted: str | None = None) -> str:
    """' (did you mean 'task.p_cot'?)' for the closest allowed name, or '' when none is close.
    With `dotted` (the mistyped key in full), the hint is that key with its last part corrected."""
    close = difflib.get_close_matches(str(name), list(map(str, allowed)), n=1)
    if not close:
        return ""
    return f" (did you mean {(dotted.rpartition('.')[0] + '.' if dotted and '.' in dotted else '') + close[0]!r}?)"


def _as_tuple(choices) -> tuple:
    return choices if isinstance(choices, (tuple, list)) else (choices,)


def check_fields(obj, prefix: str = "", name=lambda f: f.name) -> None:
    """check_field on every field of a (nested) opt() dataclass."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            check_fields(value, f"{prefix}{f.name}.", name)
        else:
            check_field(prefix + name(f), value, f.metadata)


# --- dotted keys: the run config --------------------------------------------------------------

def _section(cfg, dotted: str):
    """Return (object holding the field, field) for a dotted key, or raise ConfigError."""
    parts = dotted.split(".")
    obj = cfg
    for i, name in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(obj)}
        if name not in fields and i == len(parts) - 1 and getattr(obj, "OPEN", None):
            return getattr(obj, obj.OPEN), name  # a section with open keys (task.d): its owner checks them
        if name not in fields:
            where = ".".join(parts[:i]) or "top level"
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"unknown config key '{dotted}'{did_you_mean(name, fields, '.'.join(parts[:i + 1]))}: "
                              f"{where} has {allowed}")
        f = fields[name]
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(obj, name)):
                raise ConfigError(f"config key '{dotted}' is a section; set one of its fields, e.g. {dotted}.<field>")
            return obj, f
        obj = getattr(obj, name)
        if isinstance(obj, dict) and i == len(parts) - 2:  # an open mapping (task.options): its keys are free
            return obj, parts[-1]
        if not dataclasses.is_dataclass(obj):
            raise ConfigError(f"unknown config key '{dotted}': '{'.'.join(parts[:i + 1])}' is not a section")
    raise AssertionError("unreachable")


def set_key(cfg, dotted: str, value: Any) -> None:
    obj, f = _section(cfg, dotted)
    if isinstance(obj, dict):  # a key of an open mapping: typed and checked by whoever owns it (validate)
        obj[f] = value
        return
    setattr(obj, f.name, coerce(dotted, value, _kind(f)))


def fill_options(cls, mapping: dict, prefix: str):
    """An instance of the opt() dataclass `cls` from a mapping of its field names to values (typed and
    range-checked; ConfigError names `prefix + key` for an unknown key or a bad value)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    obj = cls()
    for key, value in mapping.items():
        if key not in fields:
            raise ConfigError(f"unknown config key '{prefix}{key}'{did_you_mean(key, fields, prefix + key)}: "
                              f"allowed {', '.join(fields) or 'none'}")
        setattr(obj, key, coerce(prefix + key, value, _kind(fields[key])))
    check_fields(obj, prefix)
    return obj


def apply_overrides(cfg, overrides: list[str]):
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not key=value (e.g. task.p_cot=0.25)")
        key, value = item.split("=", 1)
        set_key(cfg, key.strip(), value.strip())
    return cfg


def apply_mapping(cfg, mapping: dict, prefix: str = ""):
    """Apply a nested dict (from YAML, JSON or a preset) onto cfg."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"config {prefix or 'file'} must be a mapping of keys to values, got {type(mapping).__name__}")
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            apply_mapping(cfg, value, dotted + ".")
        else:
            set_key(cfg, dotted, value)
    return cfg


def describe_fields(obj, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, value, help) for every field: used by `cotmix config` and docs/config.md."""
    rows = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            rows += describe_fields(value, f"{prefix}{f.name}.")
        else:
            rows.append((prefix + f.name, value, f.metadata.get("help", "")))
    return rows


def read_config_file(path: str | Path, what: str = "--config") -> dict:
    """A YAML or JSON mapping from a file; one-line ConfigError when it is missing, too large,
    binary or not parseable. YAML aliases are refused (a few lines of nested aliases expand to
    gigabytes), and so are YAML tags (safe_load)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {path}: no such file")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a pipe, a device, ...)"
        raise ConfigError(f"{what} {path}: is {kind}; expected a YAML or JSON file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} {path}: {path.stat().st_size:,} bytes; a config file is at most {MAX_CONFIG_BYTES:,}")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path}: not a text file (expected YAML or JSON)") from None
    try:
        if path.suffix == ".json":
            return json.loads(text)
        import yaml

        return yaml.load(text, Loader=_no_alias_loader()) or {}
    except Exception as exc:  # yaml and json raise different types; both mean "not parseable"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{what} {path}: cannot parse ({first})") from None


@functools.cache
def _no_alias_loader():
    """yaml's safe loader, refusing aliases (yaml is imported only when a YAML file is read)."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", event.start_mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


# --- command-line flags: the other commands ---------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser, cls, skip: tuple = ()) -> None:
    """One flag per field of the opt() dataclass `cls` (`star_rounds` -> `--star-rounds`); the
    dataclass's default, help and allowed values appear in --help. Values are checked by
    from_arguments, so a bad one is one ConfigError line, like a bad config key."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        meta, kind = f.metadata, _kind(f)
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        extra = f" ({'one of ' + ', '.join(meta['choices']) if meta.get('choices') else allowed_range(meta)})" \
            if meta.get("choices") or meta.get("lo") is not None else ""
        if kind == "bool":  # --flag / --no-flag; neither keeps the base's value (a tiny preset's, say)
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=meta.get("help", "") + extra + f" [default: {'on' if default else 'off'}]")
        else:
            shown = ",".join(map(str, default)) if isinstance(default, list) else default
            help_text = meta.get("help", "") + extra + ("" if meta.get("required") else f" [default: {shown}]")
            parser.add_argument(flag, dest=f.name, default=None, required=bool(meta.get("required")),
                                metavar=f.name.upper() if not kind.startswith("list") else "A,B,...", help=help_text)


def from_arguments(cls, args: argparse.Namespace, base=None, **fixed):
    """An instance of `cls` from parsed flags, checked field by field. Flags not given keep the
    value of `base` (an instance) or else the field's default; `fixed` sets fields outright."""
    values = dataclasses.asdict(base) if base is not None else {}
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            values[f.name] = fixed[f.name]
            continue
        raw = getattr(args, f.name, None)
        if raw is not None:
            values[f.name] = coerce("--" + f.name.replace("_", "-"), raw, _kind(f))
    obj = cls(**values)
    check_fields(obj, name=lambda f: "--" + f.name.replace("_", "-"))
    return obj

"""Files on disk, read and written by the rules every command follows.

Writing. A command writes a whole file through `atomic_file`: the bytes go to a temporary name
beside the target (`.NAME.XXXXXX.tmp`), which is renamed over the target once complete and removed
on any failure (a full disk, an interrupt), so a reader never sees half a file and a failed command
leaves nothing behind. Before it writes to a path the user named, a command calls
`check_output_file`: the folder must exist, the path must not be a link or a folder, and a file
already there is replaced only when this command made it (`ours(path)`, e.g. "it is a cotmix
report"). Anything else is refused with one line before a byte is written.

Reading. Whatever a command reads may have been cut off, tampered with or made by something else:
`loads_json` and `read_json_file` bound a JSON document's size and nesting depth (a deeply nested
document would otherwise exhaust Python's stack), and `read_parquet` reads only a regular file and
turns pyarrow's errors into one line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cotmix.errors import CotmixError

MAX_JSON_BYTES = 64 << 20    # a run file (config, summary, a checkpoint's state) is a few KB
MAX_JSON_DEPTH = 32          # cotmix's own JSON nests 4 deep; anything far deeper is not ours
MAX_PARQUET_BYTES = 1 << 30  # a results table or a dataset split; a bigger one is refused unread
NAME_MAX = 255               # bytes in one path component on Linux filesystems


# --- writing ----------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:200]}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, usual_mode(folder=False))  # mkstemp makes it private; the file gets the usual mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a new temporary folder beside `path` (which must not exist); on success rename it to
    `path`, else remove it with everything in it."""
    import shutil

    path = Path(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name[:200]}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, usual_mode(folder=True))  # mkdtemp makes it private; the folder gets the usual mode
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def usual_mode(folder: bool) -> int:
    """The mode a plain open() or mkdir() would give under this process's umask (mkstemp and
    mkdtemp make their files private)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def check_output_path(path: Path, flag: str) -> Path:
    """A path the user named for this command to create: its folder exists and is a folder, the
    path is not a link, and each part of its name fits the filesystem. CotmixError otherwise."""
    path = Path(path)
    if "\x00" in str(path):  # no filesystem takes it (only a program, not a shell, can pass one)
        raise CotmixError(f"{flag} {_short(path)!r}: a path cannot hold a NUL character")
    if any(len(os.fsencode(part)) > NAME_MAX for part in path.parts):
        raise CotmixError(f"{flag} {_short(path)}: a part of the name is longer than {NAME_MAX} bytes")
    if path.is_symlink():
        raise CotmixError(f"{flag} {_short(path)}: is a symbolic link; cotmix writes only to a plain path")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise CotmixError(f"{flag} {_short(path)}: its folder {_short(parent)} {what}")
    if not os.access(parent, os.W_OK):
        raise CotmixError(f"{flag} {_short(path)}: its folder {_short(parent)} is not writable")
    return path


def check_output_file(path: Path, flag: str, ours: Callable[[Path], bool], kind: str) -> Path:
    """`check_output_path`, and a file already at `path` must be a `kind` this command made
    (`ours(path)`), which it may replace; a folder, or any other file, is refused."""
    path = check_output_path(path, flag)
    if path.is_dir():
        raise CotmixError(f"{flag} {_short(path)}: is a folder; name a file for the {kind}")
    if path.exists() and not (path.is_file() and ours(path)):
        raise CotmixError(f"{flag} {_short(path)}: already exists and is not a {kind} that cotmix wrote; "
                          "it is left alone (choose another name, or move it away)")
    return path


def starts_with(marker: bytes, limit: int = 4096) -> Callable[[Path], bool]:
    """`ours` for check_output_file: the file's first `limit` bytes contain `marker`."""
    def ours(path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                return marker in f.read(limit)
        except OSError:
            return False
    return ours


def _short(path: Path, limit: int = 120) -> str:
    """A path as shown in a message: a very long one is cut in the middle."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2:]}"


# --- reading ----------------------------------------------------------------------------------

def json_depth(obj) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    depth, stack = 0, [(obj, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            depth = max(depth, level + 1)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return depth


def loads_json(text: str | bytes, what: str):
    """json.loads, with one CotmixError line for text that is not JSON, too large or nested too deep."""
    if len(text) > MAX_JSON_BYTES:
        raise CotmixError(f"{what}: {len(text):,} bytes of JSON; at most {MAX_JSON_BYTES:,} are read")
    try:
        obj = json.loads(text)
    except RecursionError:
        obj = None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CotmixError(f"{what}: corrupt ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    else:
        if json_depth(obj) <= MAX_JSON_DEPTH:
            return obj
    raise CotmixError(f"{what}: JSON nested more than {MAX_JSON_DEPTH} levels deep; not a file cotmix wrote")


def read_json_file(path: Path, default=None):
    """The JSON value in `path`; `default` when there is no such file; CotmixError when it is not
    a plain file, or is corrupt, too large or too deep."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return default
    if not path.is_file():
        raise CotmixError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise CotmixError(f"{path}: {size:,} bytes; at most {MAX_JSON_BYTES:,} are read")
    return loads_json(path.read_bytes(), str(path))


def read_parquet(path: Path, what: str | None = None):
    """A pyarrow Table from a plain Parquet file; one CotmixError line for a link, a folder, a file
    too large or one that is not Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, what = Path(path), what or str(path)
    if path.is_symlink() or not path.is_file():
        raise CotmixError(f"{what}: not a regular file (a link or a folder is not read as a table)")
    if path.stat().st_size > MAX_PARQUET_BYTES:
        raise CotmixError(f"{what}: {path.stat().st_size:,} bytes; at most {MAX_PARQUET_BYTES:,} are read")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CotmixError(f"{what}: not a readable Parquet table ({first[:200]})") from None


# --- the machine ------------------------------------------------------------------------------

# OSErrors that come from the machine, not from what the user typed: the command may succeed if
# rerun once they are fixed. Every other OSError (a missing folder, a bad name) is the user's.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOMEM, errno.EMFILE, errno.ENFILE})


def is_machine_error(exc: OSError) -> bool:
    return exc.errno in MACHINE_ERRNOS

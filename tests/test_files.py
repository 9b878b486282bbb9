"""cotmix.files: atomic writes leave nothing behind on failure, outputs replace only what cotmix made,
and reads are bounded in size and depth."""

import errno
import json
import os

import pytest

from cotmix.errors import CotmixError
from cotmix.files import (
    MAX_JSON_DEPTH,
    atomic_dir,
    atomic_file,
    check_output_file,
    check_output_path,
    json_depth,
    loads_json,
    read_json_file,
    read_parquet,
    starts_with,
    write_text_atomic,
)


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    with pytest.raises(OSError):
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and leftovers(tmp_path) == []
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and leftovers(tmp_path) == []
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # the usual mode, not mkstemp's private one


def test_a_failed_folder_leaves_no_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(tmp_path / "model") as tmp:
            (tmp / "weights").write_text("x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and (tmp_path / "model" / "weights").is_file()
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o777 & ~mask


def test_only_a_file_this_command_made_is_replaced(tmp_path):
    ours = starts_with(b"<title>cotmix report</title>")
    mine, theirs = tmp_path / "report.html", tmp_path / "notes.md"
    mine.write_text("<!doctype html><title>cotmix report</title>")
    theirs.write_text("# my notes")
    assert check_output_file(mine, "--out", ours, "report") == mine
    assert check_output_file(tmp_path / "new.html", "--out", ours, "report") == tmp_path / "new.html"
    with pytest.raises(CotmixError, match="is not a report that cotmix wrote"):
        check_output_file(theirs, "--out", ours, "report")
    link = tmp_path / "link.html"
    link.symlink_to(mine)
    with pytest.raises(CotmixError, match="symbolic link"):
        check_output_file(link, "--out", ours, "report")
    with pytest.raises(CotmixError, match="is a folder"):
        check_output_file(tmp_path, "--out", ours, "report")
    with pytest.raises(CotmixError, match="does not exist"):
        check_output_file(tmp_path / "missing" / "r.html", "--out", ours, "report")
    with pytest.raises(CotmixError, match="longer than 255 bytes"):
        check_output_path(tmp_path / ("x" * 300), "--out")
    assert theirs.read_text() == "# my notes" and mine.is_file()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 200_000])
def test_deep_json_is_one_line_not_a_recursion_error(tmp_path, depth):
    text = "[" * depth + "]" * depth
    with pytest.raises(CotmixError, match="nested more than"):
        loads_json(text, "x.json")
    (tmp_path / "state.json").write_text('{"a": ' * depth + "1" + "}" * depth)
    with pytest.raises(CotmixError, match="nested more than"):
        read_json_file(tmp_path / "state.json")


def test_json_depth_and_ordinary_documents():
    assert json_depth(1) == 0 and json_depth([]) == 1 and json_depth({"a": [{"b": 1}]}) == 3
    doc = {"config": {"task": {"d": 20}}, "metrics": [1, 2]}
    assert loads_json(json.dumps(doc), "x") == doc


def test_reads_refuse_folders_links_and_garbage(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(CotmixError, match="not a regular file"):
        read_json_file(tmp_path / "dir.json")
    assert read_json_file(tmp_path / "absent.json", default={}) == {}
    (tmp_path / "t.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(CotmixError, match="not a readable Parquet table"):
        read_parquet(tmp_path / "t.parquet")
    os.symlink("/etc/passwd", tmp_path / "link.parquet")
    with pytest.raises(CotmixError, match="not a regular file"):
        read_parquet(tmp_path / "link.parquet")
    os.mkfifo(tmp_path / "fifo.parquet")
    with pytest.raises(CotmixError, match="not a regular file"):
        read_parquet(tmp_path / "fifo.parquet")

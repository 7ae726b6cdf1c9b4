"""recap_core.output_files: outputs checked before the work, written atomically, strict JSON."""
import json
import math
import os

import numpy as np
import pytest

from recap_core.output_files import (OutputError, check_output_dir, check_output_file, json_dumps,
                                     write_json_atomic, write_text_atomic)


def test_existing_file_is_refused_unless_overwrite(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("{}")
    with pytest.raises(OutputError, match="exists; pass --force"):
        check_output_file(target)
    assert check_output_file(target, overwrite=True) == target


def test_missing_parents_are_fine_but_a_file_in_the_way_is_not(tmp_path):
    assert check_output_file(tmp_path / "a" / "b" / "out.json") == tmp_path / "a" / "b" / "out.json"
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match="is not a directory"):
        check_output_file(tmp_path / "plain" / "out.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not bind root")
def test_unwritable_directory_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(OutputError, match="not writable"):
        check_output_file(locked / "out.json")


def test_unwritable_root_path_is_named():
    with pytest.raises(OutputError):
        check_output_file("/proc/recap/out.json")


def test_non_empty_directory_is_refused_unless_overwrite(tmp_path):
    assert check_output_dir(tmp_path / "new") == tmp_path / "new"
    assert check_output_dir(tmp_path) == tmp_path  # empty
    (tmp_path / "x").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        check_output_dir(tmp_path)
    assert check_output_dir(tmp_path, overwrite=True) == tmp_path


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "t.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    write_text_atomic(tmp_path / "atomic.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    assert (tmp_path / "atomic.txt").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


def test_json_is_strict_nan_becomes_null(tmp_path):
    value = {"a": float("nan"), "b": [1.0, float("inf")], "c": np.float32(2.5), "d": np.array([np.nan, 1.0])}
    text = json_dumps(value)
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": 2.5, "d": [None, 1.0]}
    assert "NaN" not in text and "Infinity" not in text
    write_json_atomic(tmp_path / "v.json", {"x": -math.inf})
    assert json.loads((tmp_path / "v.json").read_text()) == {"x": None}

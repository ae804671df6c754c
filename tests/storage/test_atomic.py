import json

import numpy as np
import pytest

from heatclust_core.errors import DamagedFileError, StorageError
from heatclust_core.storage.atomic import (
    atomic_write,
    read_json,
    read_json_files,
    read_npz,
    write_json,
    write_npz,
)


def test_a_truncated_json_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"a": [1, 2, 3]})
    path.write_text(path.read_text()[:7])
    with pytest.raises(DamagedFileError) as caught:
        read_json(path)
    assert caught.value.path == path and str(path) in str(caught.value)


def test_a_truncated_archive_or_one_without_its_arrays_is_reported(tmp_path):
    path = tmp_path / "set.npz"
    write_npz(path, images=np.arange(5000), labels=np.arange(10))
    assert set(read_npz(path, ("images", "labels"))) == {"images", "labels"}
    with pytest.raises(DamagedFileError, match="no array masks"):
        read_npz(path, ("images", "masks"))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DamagedFileError):
        read_npz(path)
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "absent.npz")


def test_a_folder_of_json_files_sets_the_damaged_ones_aside(tmp_path):
    write_json(tmp_path / "good.json", {"k": 1})
    (tmp_path / "cut.json").write_text('{"k": ')
    (tmp_path / "list.json").write_text(json.dumps([1]))
    write_json(tmp_path / "keyless.json", {"other": 1})
    loaded = read_json_files(tmp_path, required=("k",))
    assert loaded.values == [{"k": 1}]
    assert sorted(e.path.name for e in loaded.damaged) == ["cut.json", "keyless.json", "list.json"]
    assert read_json_files(tmp_path / "absent").values == []


def test_writing_onto_a_folder_or_under_a_file_is_one_line(tmp_path):
    with pytest.raises(StorageError, match="is a folder"):
        write_json(tmp_path, {"a": 1})
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError) as caught:
        write_json(tmp_path / "file" / "out.json", {"a": 1})
    assert "\n" not in str(caught.value) and "cannot write" in str(caught.value)


def test_a_failed_write_keeps_the_previous_version_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "record.json"
    write_json(path, {"version": 1})

    def fail_halfway(handle):
        handle.write(b'{"version": ')
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail_halfway)
    assert read_json(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_full_disk_is_one_line_and_keeps_the_previous_version(tmp_path, monkeypatch):
    import errno
    import os

    path = tmp_path / "record.json"
    write_json(path, {"version": 1})

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError) as caught:
        write_json(path, {"version": 2})
    assert str(caught.value) == f"cannot write {path}: No space left on device"
    monkeypatch.undo()
    assert read_json(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]

"""Atomic file writes: write to a temporary file in the same folder, then rename over the target.

A reader never sees half a file, and a crash leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from heatclust_core.errors import DamagedFileError, StorageError


def _current_umask() -> int:
    # The umask can only be read by setting it; done once, at import, before any thread writes.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
# Temporary files of atomic writes end with this; older ones were left by a killed process.
TEMPORARY_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(file)` on a temporary file beside `path`, fsync, then rename it to `path`."""
    path = Path(path)
    if path.is_dir():
        raise StorageError(path, "it is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
        )
    except OSError as exc:
        raise StorageError(path, exc.strerror or str(exc)) from exc
    try:
        # mkstemp creates 0600 files; give the mode open() would, so a team can share models/.
        os.chmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, StorageError):
            raise
        raise StorageError(path, exc.strerror or str(exc)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def read_json(path: Path) -> Any:
    """The parsed file; DamagedFileError when it is not valid UTF-8 JSON."""
    try:
        return json.loads(Path(path).read_bytes().decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedFileError(path, _first_line(exc)) from exc


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def read_npz(path: Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every array of the archive; DamagedFileError when it cannot be read whole or lacks one
    of `required`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise DamagedFileError(path, _first_line(exc)) from exc
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DamagedFileError(path, f"no array {', '.join(missing)}")
    return arrays


@dataclass(frozen=True)
class JsonFiles:
    """The readable files of a folder (parsed, newest first) and the damaged ones."""

    values: list[Any] = field(default_factory=list)
    damaged: list[DamagedFileError] = field(default_factory=list)


def read_json_files(
    folder: Path, pattern: str = "*.json", required: tuple[str, ...] = ()
) -> JsonFiles:
    """Every JSON object in `folder` whose name matches `pattern`, newest file first. A file that
    does not parse, is not an object or lacks a `required` key is set aside as damaged; a file
    removed meanwhile is skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        return JsonFiles()
    stamped = []
    for path in folder.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            stamped.append((path.stat().st_mtime, path))
    loaded = JsonFiles()
    for _, path in sorted(stamped, reverse=True):
        try:
            value = read_json(path)
            _require_keys(path, value, required)
        except FileNotFoundError:
            continue
        except DamagedFileError as exc:
            loaded.damaged.append(exc)
        else:
            loaded.values.append(value)
    return loaded


def _require_keys(path: Path, value: Any, required: tuple[str, ...]) -> None:
    if not isinstance(value, dict):
        raise DamagedFileError(path, f"holds a {type(value).__name__}, not an object")
    missing = [key for key in required if key not in value]
    if missing:
        raise DamagedFileError(path, f"no {', '.join(missing)}")


def read_json_object(path: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON object with at least the `required` keys; DamagedFileError otherwise."""
    value = read_json(path)
    _require_keys(path, value, required)
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_safetensors(path: Path) -> None:
    """The header parses and the tensors it declares fill the file exactly."""
    try:
        with open(path, "rb") as handle:
            header_size = struct.unpack("<Q", handle.read(8))[0]
            header = json.loads(handle.read(header_size))
        data_end = max(
            (entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"),
            default=0,
        )
    except (struct.error, ValueError, KeyError, TypeError, MemoryError, OverflowError) as exc:
        raise DamagedFileError(path, "unreadable safetensors header") from exc
    expected = 8 + header_size + data_end
    actual = path.stat().st_size
    if actual != expected:
        raise DamagedFileError(path, f"{actual} bytes, its header describes {expected}")


def check_npz_arrays(path: Path, required: tuple[str, ...]) -> None:
    """The archive's directory (at its end, so truncation loses it) lists every array."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DamagedFileError(path, str(exc).splitlines()[0]) from exc
    missing = [key for key in required if key not in names]
    if missing:
        raise DamagedFileError(path, f"no array {', '.join(missing)}")

"""Exceptions raised at the library's edges, each naming what the user can fix."""


class HeatClustError(Exception):
    """Base class of every error HeatClust raises on purpose."""


class ConfigError(HeatClustError, ValueError):
    """A configuration value is out of its allowed range; `parameter` names it."""

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class DatasetError(HeatClustError):
    """A data set folder or file is missing or unreadable; the message says what and where."""


class RunNotFoundError(HeatClustError):
    """No cached run has the requested id."""


class DamagedFileError(HeatClustError):
    """A file HeatClust wrote earlier cannot be read back (truncated, overwritten, edited)."""

    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path} is damaged ({reason}): delete it, or the run it belongs to")


class StorageError(HeatClustError, OSError):
    """A file could not be written: full disk, no permission, a folder in its place."""

    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")

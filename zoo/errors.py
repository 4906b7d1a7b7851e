"""Errors that zoo raises on bad input. Each names the problem in one line."""


class ZooError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""


class ZooWarning(UserWarning):
    """A note zoo gives (the CLI prints it as one line, `zoo: note: ...`)."""


class UnknownModelError(ZooError, KeyError):
    def __str__(self):  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PresetError(ZooError, ValueError):
    """A preset directory is incomplete, corrupt or tampered with."""


class DataError(ZooError, ValueError):
    """A dataset is missing, unreadable or has the wrong layout."""


class UnsupportedBackendError(ZooError, RuntimeError):
    pass


class TrainingDiverged(ZooError, FloatingPointError):
    """A training step gave a non-finite loss or weight; `fit` stopped and put back the last
    good weights."""

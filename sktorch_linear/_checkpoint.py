"""Crash-safe training checkpoints: file format, fingerprint, training state.

A checkpoint file holds the whole state of a gradient fit after a complete epoch.
It is written to a temporary file in the same folder and renamed over the old one,
so a crash leaves either the previous or the new checkpoint, never a mix. The
file starts with a magic string, a format number, the payload's length and its
BLAKE2b digest: a torn, truncated or foreign file is refused, never loaded.

A fit's file is named after a fingerprint of everything that determines its
trajectory (the data and the parameters), so fits that differ, such as the
candidates and folds of a grid search, never share a file.
"""

import hashlib
import io
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse
import torch
from skorch.callbacks import Callback
from skorch.history import History

MAGIC = b"SKTORCH-LINEAR-CKPT\n"
FORMAT = 4
_HEADER = struct.Struct("<IQ32s")  # format, payload length, digest
# The callbacks of the gradient solvers whose state a checkpoint keeps.
STATEFUL_CALLBACKS = ("convergence", "keep_best")


class CheckpointError(ValueError):
    """A checkpoint file is damaged, foreign, or belongs to another fit.

    Raised by ``fit`` with ``checkpoint=`` instead of resuming from such a
    file; delete the file (its path is in the message) to start afresh.

    Examples
    --------
    >>> from sktorch_linear import CheckpointError
    >>> issubclass(CheckpointError, ValueError)  # ``except ValueError`` catches it
    True
    """


def fingerprint(params, arrays):
    """Return a hex digest of the parameters (a dict of plain values, such as
    ``Config.trajectory()``) and the bytes of the arrays."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(sorted(params.items())).encode())
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        if isinstance(array, torch.Tensor):  # read on the host for hashing
            array = array.cpu().numpy()
        if scipy.sparse.issparse(array):
            digest.update(f"sparse{array.shape}".encode())
            array = np.concatenate(
                [array.indptr.astype(np.float64), array.indices, array.data]
            )
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def describe_callbacks(callbacks):
    """Plain, stable descriptions of the user's callbacks that may change the
    training, for the fingerprint: each one's name, class and parameters.

    Callbacks that only observe the training are left out: skorch's logging
    callbacks (``skorch.callbacks.logging``: timers, printers, loggers) and any
    callback with the attribute ``affects_training = False``.

    Raises
    ------
    ValueError
        If a parameter has no stable representation (its ``repr`` names a
        memory address, as functions and most objects do): the fingerprint
        could not tell two fits apart, so a checkpoint could resume the wrong
        one.
    """
    described = []
    for entry in callbacks:
        name, callback = entry if isinstance(entry, tuple) else (None, entry)
        kind = callback if isinstance(callback, type) else type(callback)
        observes = kind.__module__ == "skorch.callbacks.logging"
        if observes or getattr(callback, "affects_training", True) is False:
            continue
        params = {} if isinstance(callback, type) else callback.get_params(deep=False)
        text = repr(sorted(params.items()))
        if " at 0x" in text:
            raise ValueError(
                f"checkpoint cannot tell fits apart with the callback "
                f"{name or kind.__name__!r}: a parameter of it has no stable "
                f"representation ({text}). Give it parameters that print the same "
                "in every run (no functions or lambdas), or pass checkpoint=None."
            )
        described.append((name, f"{kind.__module__}.{kind.__qualname__}", text))
    return described


def check_writable(folder):
    """Create ``folder`` if needed and check that files can be written there,
    before any training is done."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(handle)
        Path(temporary).unlink()
    except OSError as exc:
        raise OSError(
            f"The checkpoint folder {str(folder)!r} cannot be written ({exc}). "
            "Pass a writable folder, or checkpoint=None."
        ) from exc


def checkpoint_file(folder, key):
    """Return the path of the checkpoint of the fit with fingerprint ``key``."""
    return Path(folder) / f"fit-{key}.ckpt"


def save(path, state):
    """Atomically write ``state`` (tensors, numbers, strings, lists, dicts)."""
    buffer = io.BytesIO()
    torch.save(_plain(state), buffer)
    payload = buffer.getvalue()
    digest = hashlib.blake2b(payload, digest_size=32).digest()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(MAGIC + _HEADER.pack(FORMAT, len(payload), digest) + payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _plain(value):
    """``value`` with NumPy scalars turned into Python numbers, which torch's
    safe loader (``weights_only=True``) accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value


def load(path, key):
    """Read and verify the checkpoint at ``path`` of the fit ``key``.

    Raises
    ------
    CheckpointError
        If the file is not a checkpoint of this package, is truncated or
        corrupted, or was written by another fit.
    """
    data = Path(path).read_bytes()
    start = len(MAGIC) + _HEADER.size
    if not data.startswith(MAGIC):
        raise CheckpointError(
            f"{path} is not a sktorch_linear checkpoint. Delete it, or pass "
            "another checkpoint folder."
        )
    if len(data) < start:
        raise CheckpointError(
            f"{path} is damaged (truncated in its header); it was not loaded. "
            "Delete it to start the fit afresh."
        )
    version, length, digest = _HEADER.unpack(data[len(MAGIC) : start])
    if version != FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {version}; this version reads format "
            f"{FORMAT}. Delete it to start the fit afresh."
        )
    payload = data[start:]
    if len(payload) != length or hashlib.blake2b(payload, digest_size=32).digest() != (
        digest
    ):
        raise CheckpointError(
            f"{path} is damaged (truncated or corrupted); it was not loaded. "
            "Delete it to start the fit afresh."
        )
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    if state.get("key") != key:
        raise CheckpointError(
            f"{path} belongs to another fit (other data or parameters); it was "
            "not loaded. Delete it, or pass another checkpoint folder."
        )
    return state


def training_state(net, key, seed):
    """The complete state of a gradient fit after an epoch: the module, the
    optimizer, the history, the shuffling generator and the state of the
    package's stateful callbacks (``STATEFUL_CALLBACKS``), with the fit's
    fingerprint ``key`` and ``seed``."""
    return {
        "key": key,
        "seed": seed,
        "module": net.module_.state_dict(),
        "optimizer": net.optimizer_.state_dict(),
        "history": [dict(record) for record in net.history],
        "generator": net.iterator_train__generator.get_state(),
        "callbacks": {
            name: callback.state_dict()
            for name, callback in net.callbacks_
            if name in STATEFUL_CALLBACKS
        },
    }


def restore(state, net):
    """Put a training state (:func:`training_state`) into an initialised net."""
    net.module_.load_state_dict(state["module"])
    net.optimizer_.load_state_dict(state["optimizer"])
    net.history = History(state["history"])
    net.iterator_train__generator.set_state(state["generator"])
    callbacks = dict(net.callbacks_)
    for name, callback_state in state["callbacks"].items():
        callbacks[name].load_state_dict(callback_state)


class SaveCheckpoint(Callback):
    """Save the training state of one fit to its file after every epoch.

    Parameters
    ----------
    path : path-like
        The checkpoint file of this fit.
    key : str
        Fingerprint of the fit, stored in the file and checked on loading.
    seed : int
        The fit's seed (shuffling and the validation split), saved with it.
    """

    def __init__(self, path, key, seed):
        self.path = path
        self.key = key
        self.seed = seed

    def on_epoch_end(self, net, **kwargs):
        save(self.path, training_state(net, self.key, self.seed))

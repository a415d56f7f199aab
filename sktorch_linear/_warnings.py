"""Warnings that point at the user's line.

A warning raised deep inside a fit (a solver, the data layer, a skorch
callback) is attributed to the line that called into the package: the caller
of the outermost frame of the package on the stack, past scikit-learn's
``fit`` decorator. No frame counts to keep in step with the call graph.
"""

import os
import sys
import warnings

import sklearn.base
import sklearn.utils._param_validation

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn wraps ``fit`` (``_fit_context``) and methods whose parameters it
# validates (``validate_params``): its wrappers are not the caller.
_WRAPPERS = {
    (os.path.abspath(module.__file__), "wrapper")
    for module in (sklearn.base, sklearn.utils._param_validation)
}


def warn(message, category=UserWarning):
    """Issue ``message`` (a string or a Warning instance) as from the line that
    called into the package."""
    warnings.warn(message, category, stacklevel=_user_level())


def _user_level():
    """The ``stacklevel``, for the ``warnings.warn`` in :func:`warn`, of the
    caller of the outermost package frame on the stack (scikit-learn's ``fit``
    wrapper passed over)."""
    frames, frame = [], sys._getframe(1)  # warn: stacklevel 1
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    inside = [i for i, f in enumerate(frames) if _in_package(f)]
    index = inside[-1] + 1
    while index < len(frames) and _is_wrapper(frames[index]):
        index += 1
    return min(index, len(frames) - 1) + 1


def _in_package(frame):
    return os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE)


def _is_wrapper(frame):
    code = frame.f_code
    return (os.path.abspath(code.co_filename), code.co_name) in _WRAPPERS

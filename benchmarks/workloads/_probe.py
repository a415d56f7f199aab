"""Run a measurement module of ``benchmarks`` in a fresh Python process."""

import json
import os
import subprocess
import sys

from .._common import REPO_ROOT


def run_probe(module, args, *, timeout, label):
    """Run ``python -m module *args`` from the repository root and read its last
    line of output as JSON.

    Parameters
    ----------
    module : str
        The module to run, e.g. ``"benchmarks._memory"``.
    args : list of str
        Its command-line arguments.
    timeout : float
        Seconds before :class:`subprocess.TimeoutExpired` is raised.
    label : str
        What the probe is, for the error message.

    Returns
    -------
    dict
        The probe's result.

    Raises
    ------
    RuntimeError
        If the process fails (with the end of its standard error).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])

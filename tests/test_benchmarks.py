"""Smoke test of the benchmark runner (``python -m benchmarks.run``)."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch):
    """The ``benchmarks`` package of the repository (not installed: it lives
    next to the package, so the repository root goes on sys.path)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import _report, run

    return run, _report


def test_runner_writes_json_csv_markdown(bench, tmp_path, capsys):
    run, report = bench
    code = run.main(
        [
            "--quick",
            "--only",
            "exact_diabetes",
            "--device",
            "cpu",
            "--repeats",
            "1",
            "--name",
            "smoke",
            "--out",
            str(tmp_path),
        ],
        sizes={"diabetes_repeats": 3},
    )
    assert code == 0
    stem = tmp_path / "smoke-quick"  # quick results never take the full name

    payload = json.loads(stem.with_suffix(".json").read_text())
    meta = payload["meta"]
    for key in ("date", "device", "cpu_model", "torch_num_threads", "threadpoolctl"):
        assert key in meta
    assert meta["device"] == "cpu" and meta["mode"] == "quick"
    for package in ("torch", "scikit-learn", "skorch", "numpy"):
        assert meta["versions"][package]
    assert "OPENBLAS_CORETYPE" in meta["environment"]
    rows = payload["results"]
    assert {r["contender"] for r in rows} == {
        "TorchLinearRegressor exact",
        "LinearRegression",
        "Ridge",
    }
    assert all(set(r) == set(report.ROW_COLUMNS) for r in rows)
    (reference,) = [r for r in rows if r["reference"]]
    assert reference["contender"] == "LinearRegression"
    assert reference["ratio_to_reference"] == 1.0
    for r in rows:
        assert r["repeats"] == 3
        assert 0 < r["min_s"] <= r["median_s"]
        assert r["diff_of"] == "coef vs LinearRegression"
    ours = next(r for r in rows if r["contender"] == "TorchLinearRegressor exact")
    assert ours["max_abs_diff"] < 1e-6  # the same least-squares solution
    assert payload["headlines"][0]["workload"] == "exact_diabetes"

    with stem.with_suffix(".csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == report.ROW_COLUMNS
        assert len(list(reader)) == 3

    markdown = stem.with_suffix(".md").read_text()
    assert "## exact_diabetes" in markdown
    assert "| contender |" in markdown and "ratio to ref" in markdown
    assert "## Headline ratios" in markdown

    output = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "smoke-quick-accuracy.png").stat().st_size > 0
        assert "skipping time_vs_n.png" in output


def test_plots_are_skipped_without_matplotlib(bench, tmp_path, monkeypatch):
    _, report = bench
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    messages = []
    assert report.write_plots(tmp_path, "x", [], log=messages.append) == []
    assert "matplotlib is not installed" in messages[0]
    assert not list(tmp_path.iterdir())

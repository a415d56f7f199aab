"""The examples of the documentation pages run as they are written."""

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("page", ["deployment.rst"])
def test_page_examples_run(page, tmp_path, monkeypatch):
    """Check that every ``>>>`` example of a page gives its printed result
    (files they write go to a temporary folder)."""
    pytest.importorskip("skops")
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted > 10
    assert result.failed == 0

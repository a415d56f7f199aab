"""The examples of the documentation pages run as they are written."""

import doctest
import re
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


def _headings(page):
    """The anchors GitHub gives the section titles of an reStructuredText page."""
    lines = page.read_text().splitlines()
    anchors = set()
    for title, underline in zip(lines, lines[1:]):
        if title.strip() and re.fullmatch(r"([-=~^])\1{2,}", underline.strip()):
            text = re.sub(r"[^\w\- ]", "", title.replace("``", "").lower())
            anchors.add(text.strip().replace(" ", "-"))
    return anchors


def test_readme_features_link_their_documentation():
    """Check that every row of the README's feature table links the section of
    the documentation that explains it, and that the section exists."""
    readme = (DOCS.parent / "README.md").read_text()
    table = readme.split("| Feature | | Documented in |")[1].split("\n\n")[0]
    rows = [line for line in table.splitlines()[1:] if line.startswith("| ")]
    assert len(rows) > 20
    for row in rows:
        link = re.search(r"\]\((docs/[\w/]+\.rst)#([\w-]+)\) \|$", row)
        assert link, f"no documentation link: {row[:60]}"
        page = DOCS.parent / link.group(1)
        assert page.exists(), link.group(1)
        assert link.group(2) in _headings(page), f"{link.group(1)}#{link.group(2)}"

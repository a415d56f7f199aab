"""Sphinx configuration of the sktorch_linear documentation.

Build with ``make docs`` or ``python -m sphinx -W -b html docs docs/_build/html``.
"""

import os
import re

import sktorch_linear

project = "sktorch_linear"
author = "The sktorch_linear developers"
copyright = "The sktorch_linear developers"
version = release = sktorch_linear.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

templates_path = ["_templates"]
# The gallery sources are read by sphinx-gallery, not by Sphinx.
exclude_patterns = ["_build", "examples", "check_render.py"]
root_doc = "index"
# changelog.md includes CHANGELOG.md (Markdown, read by myst-parser).
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
# The class page lists its methods itself (see _templates/class.rst); numpydoc's
# own member tables would need a stub page per inherited method.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "download_all_examples": False,
    # Do not write sg_execution_times.rst into the source tree.
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sktorch_linear {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}
html_static_path = []
# ``make docs-check`` builds with this set: a script records what would look
# wrong to a reader, for docs/check_render.py (not in the published pages).
if os.environ.get("SKTORCH_LINEAR_RENDER_CHECK"):
    html_static_path = ["_static"]
    html_js_files = ["render_check.js"]


# -- docstring fix-ups --------------------------------------------------------
# Methods such as ``score`` and ``set_fit_request`` come from scikit-learn, and
# their docstrings cross-reference labels and glossary terms of scikit-learn's
# own documentation, which do not exist here (and intersphinx is not used, so
# the build works offline). Keep the text of those references, drop the link.
_SKLEARN_ONLY_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _fix_docstring(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn."):
        lines[:] = [_SKLEARN_ONLY_ROLE.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _fix_docstring)

"""Sphinx configuration of the sktorch_linear documentation.

Build with ``make docs`` or ``python -m sphinx -W -b html docs docs/_build/html``.
"""

import os
import zlib
from pathlib import Path

import sktorch_linear

project = "sktorch_linear"
author = "The sktorch_linear developers"
copyright = "The sktorch_linear developers"
version = release = sktorch_linear.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

templates_path = ["_templates"]
# Every cross-reference must resolve: with -W, one that does not fails the build.
nitpicky = True
# The gallery sources are read by sphinx-gallery, not by Sphinx.
exclude_patterns = [
    "_build",
    "_render_check",
    "examples",
    "inventories",
    "check_render.py",
]
root_doc = "index"
# changelog.md includes CHANGELOG.md (Markdown, read by myst-parser).
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
# The class page lists its methods itself (see _templates/class.rst); numpydoc's
# own member tables would need a stub page per inherited method.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Link the types of parameters and attributes (through intersphinx below).
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "RandomState": "numpy.random.RandomState",
    "MetadataRequest": "sklearn.utils.metadata_routing.MetadataRequest",
    "torch.device": "torch.device",
}
# Words of the type descriptions that name no object.
numpydoc_xref_ignore = set(
    "of or shape instance tuples estimator structured Moments "
    "n_samples n_features n_targets n_outputs n_l1_ratios n_alphas "
    "n_restrictions n_params "
    "sparse matrix Dask collection".split()
)

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
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# ``make docs-check`` builds with this set: a script records what would look
# wrong to a reader, for docs/check_render.py (not in the published pages).
if os.environ.get("SKTORCH_LINEAR_RENDER_CHECK"):
    html_static_path.append("_render_check")
    html_js_files = ["render_check.js"]


# -- intersphinx ---------------------------------------------------------------
# References to other projects link to their published documentation. The
# build reads no network: docs/inventories/<project>.txt lists the entries these
# pages refer to, one per line as in a Sphinx inventory (version 2): name,
# role, priority, address ("$" stands for the name) and title ("-": the name),
# after the project's base address on the first line. They are compressed here
# into the objects.inv files that intersphinx reads.
def _inventories():
    source = Path(__file__).parent / "inventories"
    built = Path(__file__).parent / "_build" / "inventories"
    built.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for text in sorted(source.glob("*.txt")):
        base, *entries = text.read_text(encoding="utf-8").splitlines()
        header = (
            f"# Sphinx inventory version 2\n# Project: {text.stem}\n# Version: \n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        body = ""
        for entry in filter(str.strip, entries):
            name, role, priority, address, title = entry.split(" ", 4)
            address = address.replace("$", name)
            body += f"{name} {role} {priority} {address} {title}\n"
        inventory = built / f"{text.stem}.inv"
        inventory.write_bytes(header.encode() + zlib.compress(body.encode()))
        mapping[text.stem] = (base, str(inventory))
    return mapping


intersphinx_mapping = _inventories()

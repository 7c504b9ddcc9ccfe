"""Sphinx configuration of the neuroconv-brand documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (needs ``pip install -e ".[docs]"``).
The pages are Markdown (MyST); the API reference is generated from the numpydoc docstrings.
"""

from neuroconv_brand import __version__

project = "neuroconv-brand"
author = "neuroconv-brand contributors"
copyright = "neuroconv-brand contributors, BSD 3-Clause"
release = __version__
version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# MyST: anchors for headings down to ###, so pages can link to "time.md#three-clocks".
myst_heading_anchors = 3

# The API reference: numpydoc docstrings, members in source order, type hints in the signatures.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True

html_theme = "pydata_sphinx_theme"
html_title = f"neuroconv-brand {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False

# numpydoc's "param : path" becomes a cross-reference to any documented attribute named ``path`` (there are
# two: MetadataFile.path and ArrayMap.path); an ambiguous match is a plain type name, not a broken link.
suppress_warnings = ["ref.python"]

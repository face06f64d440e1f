"""Sphinx configuration of the book: ``make docs`` (``tox -e docs``) builds it into ``site/``.

``sphinx-build -c docs . site``: the source folder is the repository itself, so README.md (the
first page, with the table of contents of ``docs/_toc.md`` appended), the notebooks, docs/*.md
and benchmarks/ are pages where they are, and their own relative links resolve in the book as
they do on a repository page. Notebooks are rendered from their stored outputs (never
executed); the API reference is parsed from the source by sphinx-autoapi (no
framework imported: MXNet and JAX cannot share an environment); the CLI reference is generated
from ``lstm_multi.cli.build_parser`` by sphinx-argparse. Everything a page loads (theme, fonts,
MathJax) is served from the site itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent  # docs/
sys.path.insert(0, str(HERE / "_ext"))

import lstm_multi  # noqa: E402  (the version; imports no framework)

project = "lstm-multi"
author = "the lstm-multi authors"
copyright = "the lstm-multi authors, MIT license"
release = version = lstm_multi.__version__

extensions = [
    "myst_nb",  # Markdown (MyST) and .ipynb pages
    "sphinx_design",  # tabs
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",  # the docstrings' Google style (Args:, Returns:)
    "sphinxarg.ext",  # the CLI reference from the argparse parser
    "autoapi.extension",  # the API reference from the source
    "book",  # _ext/book.py: code in framework tabs, exercise stubs, MathJax copied into the site
]

root_doc = "README"
smartquotes = False  # "--backend" stays two hyphens (options, code in help texts), never a dash
# the pages, from the repository root; the exclusions are folders not worth walking
include_patterns = ["README.md", "CONTRIBUTING.md", "docs/*.md", "notebooks/*.ipynb", "benchmarks/**.md"]
exclude_patterns = ["docs/_*", ".*", "site", "build", "dist", "runs", "lstm_multi", "tests", "constraints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# The notebooks are shown with the outputs and figures they are stored with: a build trains nothing.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3  # README's links to its own sections (#command-line) resolve

# A broken cross-reference, a missing figure or an unresolvable name fails the build (-W -n).
nitpicky = True
nitpick_ignore_regex = [
    # other libraries' names in signatures (no intersphinx: the build reads nothing from the network)
    (r"py:.*", r"(torch|tf|keras|jax|jnp|flax|nnx|optax|mx|mxnet|np|numpy|npt|gluon|matplotlib|tqdm)(\..*)?"),
    (r"py:.*", r"(argparse|collections|typing|types|pathlib)(\..*)?"),
    (r"py:.*", r"(Any|Callable|Iterator|Iterable|Sequence|Mapping|Path|TextIO|Array|Literal|Protocol|NamedTuple)"),
]

# The API reference (docs/api.md): sphinx-autoapi parses the source (it imports nothing, so the
# four frameworks' backends are documented from one environment without any of them installed);
# the page places lstm_multi's and each backend's public names (their __all__) with its directives.
autoapi_dirs = [str(HERE.parent / "lstm_multi")]
autoapi_generate_api_docs = False
autoapi_add_toctree_entry = False
autoapi_options = ["members", "imported-members", "show-inheritance"]
autoapi_ignore = ["*/exercises/solutions/*"]  # the answers are not handed out with the book
autoapi_member_order = "bysource"
suppress_warnings = ["autoapi.python_import_resolution"]  # re-exported framework modules (tf, keras)
autodoc_typehints = "signature"

html_theme = "furo"  # light and dark (follows the system, or the toggle), responsive, no remote fonts
html_title = f"lstm-multi {release}"
html_favicon = "_static/favicon.svg"  # also spares the browser a request for /favicon.ico
html_copy_source = False
html_show_sourcelink = False
# MathJax 3 served from the site (copied by _ext/book.py); relative to _static
mathjax_path = "mathjax/tex-chtml.js"  # _ext/book.py MATHJAX

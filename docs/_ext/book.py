"""The book's own Sphinx extension: code in framework tabs, read from the package when the site is built.

Directives (MyST syntax, in ``docs/*.md``):

``{cell-code} CELL PART``
    ``CELL`` one of lstm, gru, rnn; ``PART`` one of step, scratch, native. A sphinx-design
    tab set PyTorch | TensorFlow | JAX | MXNet | NumPy, each tab the function or class cut
    from that backend's source file with its line numbers (the ``step`` of NumPy is the
    reference's ``reference/<cell>.py:step``). Option ``:emphasize: WORD`` highlights the
    lines containing WORD (the peephole section). Every tab set is in the sync group
    ``framework``: choosing a tab switches all of them, and sphinx-design remembers the
    choice (``localStorage``) on the next page.
``{exercise-stub} NAME``
    The stub ``lstm-multi exercise NAME --backend B`` prints, in the same framework tabs.
``{exercise-list}``
    ``lstm-multi exercise --list``, as a literal block.

It also copies MathJax (from the ``django-static-mathjax`` wheel, installed by tox) into
``site/_static/mathjax`` so that no page asks another host for it.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import shutil
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import get_node_source

REPO = Path(__file__).resolve().parents[2]
TOC = REPO / "docs" / "_toc.md"
PACKAGE = REPO / "lstm_multi"

#: (backend name, tab label), in the order the tabs are shown.
FRAMEWORKS = (
    ("torch", "PyTorch"),
    ("tensorflow", "TensorFlow"),
    ("jax", "JAX"),
    ("mxnet", "MXNet"),
    ("numpy", "NumPy"),
)
CELLS = ("lstm", "gru", "rnn")
PARTS = ("step", "scratch", "native")
SYNC_GROUP = "framework"
MATHJAX = "mathjax/tex-chtml.js"  # conf.py's mathjax_path, under _static


def source_of(backend: str, cell: str, part: str) -> tuple[Path, str]:
    """Where ``part`` of ``cell`` lives on ``backend``: (the file, the function or class name)."""
    if part == "step" and backend == "numpy":
        return PACKAGE / "reference" / f"{cell}.py", "step"  # NumPy is the reference itself
    name = {"step": f"{cell}_step", "scratch": f"{cell.upper()}Scratch", "native": cell.upper()}[part]
    return PACKAGE / "backends" / backend / f"{cell}.py", name


def line_span(path: Path, name: str) -> tuple[int, int]:
    """The first and last line (1-based) of the top-level function or class ``name``, decorators included."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return first, node.end_lineno or node.lineno
    raise ValueError(f"{path.relative_to(REPO)} defines no top-level {name!r}")


def tab_set(tabs: list[tuple[str, str, list[str]]]) -> list[str]:
    """MyST lines of a synced tab set: ``tabs`` is [(sync id, label, body lines)]."""
    lines = ["::::{tab-set}", f":sync-group: {SYNC_GROUP}", ""]
    for sync, label, body in tabs:
        lines += [f":::{{tab-item}} {label}", f":sync: {sync}", "", *body, ":::", ""]
    return lines + ["::::"]


class MystDirective(SphinxDirective):
    """A directive that writes MyST text and parses it in place."""

    def parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        return container.children


class CellCode(MystDirective):
    required_arguments = 2
    option_spec = {"emphasize": str}

    def run(self) -> list[nodes.Node]:
        cell, part = self.arguments
        if cell not in CELLS or part not in PARTS:
            raise self.error(f"cell-code: CELL is one of {', '.join(CELLS)}; PART one of {', '.join(PARTS)}")
        tabs = []
        for backend, label in FRAMEWORKS:
            path, name = source_of(backend, cell, part)
            first, last = line_span(path, name)
            self.env.note_dependency(str(path))
            lines = path.read_text(encoding="utf-8").splitlines()[first - 1 : last]
            word = self.options.get("emphasize")
            marked = [str(k + 1) for k, line in enumerate(lines) if word and word in line]
            relative = path.relative_to(REPO).as_posix()
            here = Path(self.env.doc2path(self.env.docname)).parent  # literalinclude reads paths from the page
            body = [
                f"```{{literalinclude}} {os.path.relpath(path, here)}",
                ":language: python",
                f":lines: {first}-{last}",
                ":lineno-match:",
                f":caption: {relative}: {name}",
            ]
            if marked:
                body.append(f":emphasize-lines: {','.join(marked)}")
            tabs.append((backend, label, [*body, "```", ""]))
        return self.parse(tab_set(tabs))


class ExerciseStub(MystDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from lstm_multi import exercises  # text only: imports no framework

        tabs = []
        for backend, label in FRAMEWORKS:
            command = f"lstm-multi exercise {self.arguments[0]} --backend {backend} > my_{self.arguments[0]}.py"
            stub = exercises.stub(self.arguments[0], backend).rstrip("\n").splitlines()
            tabs.append((backend, label, ["```bash", command, "```", "", "```python", *stub, "```", ""]))
        return self.parse(tab_set(tabs))


class ExerciseList(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        from lstm_multi import exercises

        text = "$ lstm-multi exercise --list\n" + "\n".join(exercises.list_lines())
        return [nodes.literal_block(text, text, language="console")]


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """Serve MathJax from the site itself: the es5 build of the ``mathjax`` package's static files."""
    if exception is not None or app.builder.format != "html":
        return
    spec = importlib.util.find_spec("mathjax")  # django-static-mathjax; not imported (it expects Django)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax not found: pip install django-static-mathjax (tox -e docs installs it)")
    es5 = Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "es5"
    target = Path(app.outdir) / "_static" / "mathjax"
    # tex-chtml.js and what it loads on demand (TeX extensions, fonts, the menu, the accessibility
    # explorer); not the package's other combined builds or the SVG output
    bundles = [p.name for p in es5.glob("*.js") if p.name != Path(MATHJAX).name]
    shutil.copytree(es5, target, ignore=shutil.ignore_patterns(*bundles, "svg"), dirs_exist_ok=True)


class InternalDocstringReferences(logging.Filter):
    """Docstrings name the package's internals (``:class:`.layers.NativeLayer```, ``Model``),
    which the API reference, being the public names only, does not document: such a reference is
    shown as code and counted, not fatal. Every other warning (a page's broken link or
    cross-reference, a missing figure, a docstring's broken markup) still fails the build."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        location = getattr(record, "location", None)
        if isinstance(location, nodes.Node):  # a reference: the node knows its docstring
            location = get_node_source(location) or ""
        location = str(location or "")
        message = record.getMessage()
        internal = "reference target not found" in message or "more than one target found" in message
        if internal and "docstring of " in location and getattr(record, "type", None) == "ref":
            self.count += 1
            return False
        return True


def resolve_reexport(app: Sphinx, env: object, node: nodes.Element, contnode: nodes.Element) -> nodes.Node | None:
    """An annotation names a class where it is defined (``lstm_multi.core.module.Module``); the book
    documents it where users import it (``lstm_multi.Module``, or a backend's ``LSTM``). Resolve
    ``a.b.c.Name`` to the documented ``lstm_multi.Name`` or ``lstm_multi.backends.<name>.Name``."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("lstm_multi."):
        return None
    parts = target.split(".")
    candidates = ["lstm_multi." + parts[-1]]
    if len(parts) > 3 and parts[1] == "backends":
        candidates.insert(0, ".".join(parts[:3] + parts[-1:]))
    domain = app.env.get_domain("py")
    for candidate in candidates:
        if candidate in domain.objects:
            new = node.deepcopy()
            new["reftarget"] = candidate
            return domain.resolve_xref(app.env, node["refdoc"], app.builder, node["reftype"], candidate, new, contnode)
    return None


def keep_outputs_in_build(app: Sphinx) -> None:
    """myst-nb writes the notebooks' figures beside the output folder (the repository root here):
    keep them with the doctrees (build/book-doctrees) instead; Sphinx copies them into site/_images."""
    folder = Path(app.doctreedir) / "jupyter_execute"
    app.env.mystnb_config = app.env.mystnb_config.copy(output_folder=str(folder))


def add_contents(app: Sphinx, docname: str, source: list[str]) -> None:
    """README.md is the first page: the book's table of contents (docs/_toc.md) goes at its end.
    The benchmark tables benchmarks/README.md links to are pages in no table of contents."""
    if docname == app.config.root_doc:
        app.env.note_dependency(str(TOC))
        source[0] += "\n\n" + TOC.read_text(encoding="utf-8")
    elif docname.startswith("benchmarks/results/"):
        source[0] = "---\norphan: true\n---\n" + source[0]


def write_index(app: Sphinx, exception: Exception | None) -> None:
    """site/index.html, what a server or a browser opens first, leads to the first page."""
    if exception is None and app.builder.format == "html":
        page = app.builder.get_target_uri(app.config.root_doc)
        html = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>lstm-multi</title>'
            f'<meta http-equiv="refresh" content="0; url={page}"></head>'
            f'<body><a href="{page}">lstm-multi</a></body></html>\n'
        )
        (Path(app.outdir) / "index.html").write_text(html, encoding="utf-8")


def report_internal_references(app: Sphinx, exception: Exception | None) -> None:
    if DOCSTRING_FILTER.count:
        logging.getLogger("sphinx").info(
            "book: %d references in docstrings name internals the API reference leaves out (shown as code)",
            DOCSTRING_FILTER.count,
        )


DOCSTRING_FILTER = InternalDocstringReferences()


def setup(app: Sphinx) -> dict[str, object]:
    for handler in logging.getLogger("sphinx").handlers:  # before Sphinx counts it as a warning
        if handler.level == logging.WARNING:
            handler.filters.insert(0, DOCSTRING_FILTER)
    app.add_directive("cell-code", CellCode)
    app.add_directive("exercise-stub", ExerciseStub)
    app.add_directive("exercise-list", ExerciseList)
    app.connect("builder-inited", keep_outputs_in_build, priority=600)  # after myst-nb's own
    app.connect("source-read", add_contents)
    app.connect("missing-reference", resolve_reexport)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", write_index)
    app.connect("build-finished", report_internal_references)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

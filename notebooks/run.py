"""Keep the notebooks honest: paired, clean, and runnable top to bottom.

Each notebook is written as a jupytext percent-format script (``NN_name.py``, the file to
edit and review) paired with ``NN_name.ipynb`` (the same cells with their stored outputs
and figures, what a repository page shows).

    python notebooks/run.py check           # every pair in sync, no volatile metadata, small outputs
    python notebooks/run.py execute         # run every notebook (quick size: LSTM_MULTI_QUICK=1);
                                            # a cell that raises fails; nothing is written; a notebook
                                            # of exercises runs again with the package's solutions
                                            # filled in, and every check must pass
    python notebooks/run.py store [NAMES]   # run at full size, store the outputs in the .ipynb

Notebooks run with nbclient (a kernel per notebook, each cell's error fails the run),
not papermill: the only parameter is the quick-size switch, an environment variable.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
MAX_OUTPUT_BYTES = 400_000  # a stored notebook, figures included
VOLATILE = ("execution", "collapsed", "scrolled", "ExecuteTime")


def scripts(names=()):
    found = sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))
    return [p for p in found if not names or p.stem in names or p.name in names]


def cell_sources(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def check() -> list[str]:
    problems = []
    for script in scripts():
        ipynb = script.with_suffix(".ipynb")
        if not ipynb.exists():
            problems.append(f"{ipynb.name} is missing (python notebooks/run.py store {script.stem})")
            continue
        stored = nbformat.read(ipynb, as_version=4)
        if cell_sources(stored) != cell_sources(jupytext.read(script)):
            problems.append(f"{ipynb.name} differs from {script.name} (python notebooks/run.py store {script.stem})")
        for cell in stored.cells:
            if any(key in cell.metadata for key in VOLATILE):
                problems.append(f"{ipynb.name} keeps volatile cell metadata")
                break
            if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.outputs):
                problems.append(f"{ipynb.name} stores an error output")
                break
        if ipynb.stat().st_size > MAX_OUTPUT_BYTES:
            problems.append(f"{ipynb.name} is {ipynb.stat().st_size} bytes (at most {MAX_OUTPUT_BYTES})")
    return problems


def execute(script: Path, quick: bool, solved: bool = False):
    """Run a notebook top to bottom (a cell that raises fails); ``solved``: its exercise cells
    replaced by the package's solutions first (:mod:`lstm_multi.exercises.notebook`)."""
    from nbclient import NotebookClient

    notebook = jupytext.read(script)
    if solved:
        from lstm_multi.exercises.notebook import fill_solutions

        fill_solutions(notebook, os.environ.get("LSTM_MULTI_BACKEND") or "torch")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    os.environ["LSTM_MULTI_QUICK"] = "1" if quick else "0"
    # Figures become PNG outputs only with the inline backend (an inherited Agg would drop them).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    NotebookClient(notebook, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return notebook


def clean(notebook):
    """Drop what changes from run to run and means nothing to a reader."""
    for key in ("widgets",):
        notebook.metadata.pop(key, None)
    notebook.metadata.pop("jupytext", None)
    for cell in notebook.cells:
        for key in VOLATILE:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.execution_count = None
            for output in cell.outputs:
                output.pop("execution_count", None)
                output.get("metadata", {}).pop("needs_background", None)
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "execute", "store"))
    parser.add_argument("names", nargs="*", help="notebooks (default: all)")
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check()
        print("\n".join(problems) or f"{len(scripts())} notebooks in sync")
        return 1 if problems else 0
    for script in scripts(args.names):
        print(f"running {script.name} ({'full size' if args.command == 'store' else 'quick'})", flush=True)
        notebook = execute(script, quick=args.command == "execute")
        if args.command == "store":
            nbformat.write(clean(notebook), script.with_suffix(".ipynb"))
        elif has_exercises(notebook):
            from lstm_multi.exercises.notebook import failed_checks

            print(f"running {script.name} with the package's solutions filled in", flush=True)
            failed = failed_checks(execute(script, quick=True, solved=True))
            if failed:
                print(f"{script.name}: with the package's solutions, checks failed:\n" + "\n".join(failed))
                return 1
    return 0


def has_exercises(notebook) -> bool:
    return any(tag.startswith("exercise:") for cell in notebook.cells for tag in cell.metadata.get("tags", []))


if __name__ == "__main__":
    sys.exit(main())

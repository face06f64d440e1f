"""check and check_file: run a student's function on seeded cases, compare with the float64
reference, and say right or wrong and why (never the solution).

Status: 0 every case passes; 1 the solution is wrong (or not attempted yet: the stub still raises
``NotImplementedError``); 2 it cannot be used (no file, a syntax error, an exception at import, no
function of that name, an unknown exercise or backend).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..backend import BackendError, get_backend
from .base import (
    Case,
    Exercise,
    Mistake,
    NotAttempted,
    Student,
    StudentCrash,
    StudentError,
    bound_for,
    compare,
    describe_exception,
)
from .catalog import EXERCISES, check_backend, get_exercise, unknown_exercise
from .solutions import solution_module

PASSED, WRONG, UNUSABLE = 0, 1, 2
MAX_DETAILS = 4  # wrong outputs described in full; the others are only named
#: how far from a mistake's outputs the student's may be and still be that mistake (float32 round-off
#: of a computation the tolerance does not cover: the mistake's is another one)
MISTAKE_SLACK = 10.0
_loaded = itertools.count()


@dataclass
class CheckResult:
    """What :func:`check` found: ``status`` 0 passed, 1 wrong, 2 unusable; ``report`` the text printed."""

    name: str
    backend: str
    status: int
    report: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __repr__(self) -> str:
        return f"CheckResult({self.name!r}, {self.backend!r}, status={self.status}, passed={self.passed})"


def solution(name: str, backend: str):
    """The package's own solution of ``name`` on ``backend``: the function, or a tuple of them in
    the order of ``EXERCISES[name].functions`` (lstm_step_backward: forward, backward)."""
    exercise = get_exercise(name)
    check_backend(exercise, backend)
    module = solution_module(backend)
    functions = tuple(getattr(module, f) for f in exercise.functions)
    return functions[0] if len(functions) == 1 else functions


def check(name: str, fn, backend: str = "jax", cases=None, quiet: bool = False) -> CheckResult:
    """Check the student's ``fn`` for exercise ``name`` on ``backend``; print the report (unless
    ``quiet``) and return a :class:`CheckResult`.

    ``fn`` is the function, or for an exercise of several functions (lstm_step_backward) a tuple of
    them in order, or anything with them as attributes (a module). ``cases``: None for the default
    cases, an int for the first n, or a list of dicts of sizes (``B``, ``d``, ``h``, ``T``, ``seed``...).
    """
    result = _check(name, fn, backend, cases)
    if not quiet:
        print(result.report)
    return result


def check_file(name: str, path, backend: str = "jax", cases=None, quiet: bool = False) -> CheckResult:
    """Load the student's file (by its path, as a module of its own) and :func:`check` the function(s)
    named like the exercise. A file that cannot be used gives status 2 and says why."""
    functions, problem = functions_in_file(name, Path(path), backend)
    if problem is None:
        return check(name, functions, backend, cases, quiet)
    result = CheckResult(name, backend, UNUSABLE, f"{name} on {backend}: cannot be checked: {problem}")
    if not quiet:
        print(result.report)
    return result


# --- loading --------------------------------------------------------------------------------------------------------


def functions_in_file(name: str, path: Path, backend: str):
    """``(the exercise's functions in the file, None)``, or ``(None, why the file cannot be used)``."""
    exercise = EXERCISES.get(name)
    if exercise is None:
        return None, unknown_exercise(name)
    problem = backend_problem(exercise, backend) or file_problem(path)
    if problem is not None:
        return None, problem
    module, problem = load_student_file(path)
    if problem is not None:
        return None, problem
    return functions_of(exercise, module, path.name)


def backend_problem(exercise: Exercise, backend: str) -> str | None:
    try:
        check_backend(exercise, backend)
        get_backend(backend)
    except (ValueError, BackendError) as error:
        return str(error)
    return None


def file_problem(path: Path) -> str | None:
    if not path.exists():
        return f"there is no file {str(path)!r}."
    if not path.is_file():
        return f"{str(path)!r} is not a file."
    return None


def load_student_file(path: Path):
    """``(module, None)``, or ``(None, what went wrong)``: the file is run as a module named after
    nothing of the package's (it cannot shadow lstm_multi's own modules)."""
    module_name = f"_student_{next(_loaded)}_{''.join(c if c.isalnum() else '_' for c in path.stem)}"
    loader = importlib.machinery.SourceFileLoader(module_name, str(path))
    spec = importlib.machinery.ModuleSpec(module_name, loader, origin=str(path))
    spec.has_location = True  # the module's __file__ is the student's file
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # while it runs (dataclasses look their module up there)
    try:
        loader.exec_module(module)
    except SyntaxError as error:
        text = "".join(traceback.format_exception_only(type(error), error)).rstrip()
        return None, f"{path.name} has a syntax error:\n{text}"
    except (Exception, SystemExit) as error:  # noqa: BLE001 (whatever the file raises at import)
        return (
            None,
            f"{path.name} raised an exception when it was loaded (before any check ran):\n{describe_exception(error)}",
        )
    finally:
        sys.modules.pop(module_name, None)
    return module, None


def functions_of(exercise: Exercise, module, filename: str):
    """The exercise's functions in ``module``: ``(tuple, None)`` or ``(None, what is missing)``."""
    missing = [f for f in exercise.functions if not callable(getattr(module, f, None))]
    if not missing:
        return tuple(getattr(module, f) for f in exercise.functions), None
    defined = sorted(
        n
        for n, v in vars(module).items()
        if callable(v) and getattr(v, "__module__", None) == module.__name__ and not n.startswith("_")
    )
    found = f" (it defines: {', '.join(defined)})" if defined else " (it defines no function)"
    not_callable = [f for f in missing if hasattr(module, f)]
    if not_callable:
        kind = type(getattr(module, not_callable[0])).__name__
        return None, f"{filename} has {not_callable[0]}, but it is a {kind}, not a function."
    return None, f"{filename} defines no function named {' or '.join(missing)}{found}."


def resolve_functions(exercise: Exercise, fn):
    """``fn`` as ``{name: function}``: ``(dict, None)`` or ``(None, what is wrong)``."""
    names = exercise.functions
    if callable(fn) and len(names) == 1:
        return {names[0]: fn}, None
    if isinstance(fn, (tuple, list)):
        values = list(fn)
    elif isinstance(fn, dict):
        values = [fn.get(n) for n in names]
    else:
        values = [getattr(fn, n, None) for n in names]
    if len(values) != len(names) or not all(callable(v) for v in values):
        what = "a function" if len(names) == 1 else f"the functions ({', '.join(names)})"
        return None, f"check({exercise.name!r}, ...) needs {what}; got {type(fn).__name__}."
    return dict(zip(names, values)), None


# --- checking -------------------------------------------------------------------------------------------------------


@dataclass
class Failure:
    index: int
    label: str
    message: str
    #: outputs of the right form but wrong numbers, (case, actual, expected): a mistake can be recognised
    numeric: tuple[Case, dict, dict] | None = None


def _check(name, fn, backend, which) -> CheckResult:
    header = f"{name} on {backend}"

    def unusable(message):
        return CheckResult(name, backend, UNUSABLE, f"{header}: cannot be checked: {message}")

    exercise = EXERCISES.get(name)
    if exercise is None:
        return unusable(unknown_exercise(name))
    problem = backend_problem(exercise, backend)
    if problem:
        return unusable(problem)
    functions, problem = resolve_functions(exercise, fn)
    if problem:
        return unusable(problem)
    try:
        cases = exercise.cases(which)
    except (ValueError, KeyError, TypeError) as error:
        return unusable(f"cases={which!r}: {error}")
    student = Student(functions, backend, get_backend(backend))
    failures = []
    for index, case in enumerate(cases):
        expected = exercise.reference(case)
        try:
            actual = exercise.run(student, case)
        except NotAttempted as error:
            return CheckResult(
                name,
                backend,
                WRONG,
                f"{header}: not attempted yet ({error.args[0]} still raises NotImplementedError: write its body).",
            )
        except (StudentCrash, StudentError) as error:
            failures.append(Failure(index, case.label, str(error)))
            continue
        lines: list[str] = []
        named: list[str] = []
        for output, reference in expected.items():
            bound = bound_for(reference, exercise.kind(output), exercise.num_terms(case))
            mismatch = compare(output, actual[output], reference, bound, output in exercise.time_axis)
            if mismatch is None:
                continue
            if len(lines) == MAX_DETAILS:
                named.append(output)
            else:
                lines.append(
                    exercise.describe(case, mismatch, actual[output], reference)
                    if exercise.describe
                    else mismatch.describe()
                )
        if named:
            lines.append(f"also wrong in this case: {', '.join(named)}")
        if lines:
            failures.append(Failure(index, case.label, "\n".join(lines), (case, actual, expected)))
    return CheckResult(name, backend, WRONG if failures else PASSED, report(header, exercise, cases, failures))


def report(header: str, exercise: Exercise, cases, failures) -> str:
    if not failures:
        return f"{header}: passed ({len(cases)} case{'s' * (len(cases) > 1)}: {'; '.join(c.label for c in cases)})"
    first = failures[0]
    lines = [
        f"{header}: WRONG ({len(cases) - len(failures)} of {len(cases)} cases passed)",
        f"case {first.index + 1} of {len(cases)} ({first.label}):",
    ]
    lines += ["  " + line for line in first.message.splitlines()]
    others = [f"case {f.index + 1} ({f.label})" for f in failures[1:]]
    if others:
        lines.append("also wrong: " + ", ".join(others))
    numeric = next((f.numeric for f in failures if f.numeric), None)
    mistakes = recognise(exercise, *numeric) if numeric else []
    for i, mistake in enumerate(mistakes):  # several when they give the same outputs (i/f swapped in C's sum)
        lines.append(("hint: your outputs match a common mistake: " if i == 0 else "  or: ") + mistake.hint)
    return "\n".join(lines)


def recognise(exercise: Exercise, case: Case, actual: dict, expected: dict) -> list[Mistake]:
    """The exercise's mistakes whose outputs on this case the student's match."""
    bounds = {
        output: bound_for(ref, exercise.kind(output), exercise.num_terms(case)) for output, ref in expected.items()
    }
    found = []
    for mistake in exercise.mistakes:
        outputs = mistake.outputs(case)
        if all(compare(k, v, expected[k], bounds[k]) is None for k, v in outputs.items()):
            continue  # the same as the right answer on this case: it cannot be what went wrong
        if all(compare(k, actual[k], v, MISTAKE_SLACK * bounds[k]) is None for k, v in outputs.items()):
            found.append(mistake)
    return found

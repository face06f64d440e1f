"""What every exercise is made of, and how a student's outputs are read and compared.

An :class:`Exercise` says what the student writes (names, signature, docstring), how to
build its seeded test cases, how to call the student's function(s) on one case
(``run``: inputs become the backend's float32 tensors, outputs come back as NumPy), the
float64 reference for a case, and the common mistakes (:class:`Mistake`: a mutated
reference; when the student's outputs match one, the report gives its hint).
"""

from __future__ import annotations

import site
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.parity import tolerance

#: every exercise runs on these unless it says otherwise.
ALL_BACKENDS = ("torch", "tensorflow", "jax", "mxnet", "numpy")

PACKAGE = Path(__file__).resolve().parents[1]  # lstm_multi/: its frames are never shown to a student
#: the standard library and the installed packages (the frameworks): not the student's code either.
LIBRARIES = tuple(
    sorted(
        {
            str(Path(p).resolve())
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        }
        | {str(Path(site.getusersitepackages()).resolve())}
    )
)


# --- what goes wrong in a student's code ----------------------------------------------------------------------


class StudentError(Exception):
    """The student's function ran but returned something unusable (type, shape, NaN): the message says what."""


class NotAttempted(Exception):
    """The student's function still raises NotImplementedError (the stub)."""


class StudentCrash(Exception):
    """The student's function raised: ``message`` holds the exception and the student's own frames."""

    def __init__(self, function: str, error: BaseException):
        self.function = function
        self.message = f"{function} raised {describe_exception(error)}"
        super().__init__(self.message)


def is_student_frame(filename: str) -> bool:
    """A frame of the student's code: not lstm_multi's own, not the standard library or a framework."""
    if filename.startswith("<") and not filename.startswith("<ipython"):
        return False  # <frozen importlib._bootstrap>, <string>, ...
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return not path.startswith(str(PACKAGE)) and not any(path.startswith(lib + "/") for lib in LIBRARIES)


def student_traceback(error: BaseException) -> str:
    """The traceback lines of ``error`` that are in the student's code (none of lstm_multi's)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if is_student_frame(f.filename)]
    return "".join(traceback.format_list(frames)).rstrip()


def describe_exception(error: BaseException, max_lines: int = 12) -> str:
    """``TypeError: message``, shortened, followed by the student's frames."""
    lines = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"]
    text = "\n".join(lines)
    frames = student_traceback(error)
    return text + (f"\nin your code:\n{frames}" if frames else "")


# --- calling the student ------------------------------------------------------------------------------------------


class Student:
    """Calls the student's functions on one backend and reads what they return."""

    def __init__(self, functions: dict[str, Callable], backend: str, ops):
        self.functions, self.backend, self.ops = functions, backend, ops

    def tensor(self, array):
        return self.ops.tensor(np.asarray(array))

    def tensors(self, arrays: dict) -> dict:
        return {name: self.tensor(value) for name, value in arrays.items()}

    def call(self, name: str, *args):
        """Run the student's function ``name``; a NotImplementedError raised by the student's own
        code means the stub is not filled in yet."""
        try:
            return self.functions[name](*args)
        except NotImplementedError as error:
            frames = traceback.extract_tb(error.__traceback__)
            if str(error) == "TODO" or (frames and is_student_frame(frames[-1].filename)):
                raise NotAttempted(name) from None
            raise StudentCrash(name, error) from None
        except Exception as error:  # noqa: BLE001 (whatever the student's code raises is reported)
            raise StudentCrash(name, error) from None

    def array(self, value, what: str, shape: tuple, allow_neg_inf: bool = False) -> np.ndarray:
        """``value`` (a tensor of this backend, or anything array-like) as float64 NumPy of ``shape``."""
        if value is None:
            raise StudentError(f"{what} is None: did the function forget to return it?")
        if isinstance(value, (list, tuple, dict)):
            raise StudentError(
                f"{what} is a {type(value).__name__} of {len(value)} items; expected one tensor "
                f"of shape {shape}{' (stack them)' if isinstance(value, (list, tuple)) else ''}."
            )
        if isinstance(value, (bool, int, float)):
            raise StudentError(f"{what} is a Python {type(value).__name__}; expected a tensor of shape {shape}.")
        try:
            array = np.asarray(self.ops.to_numpy(value), dtype=np.float64)
        except Exception:  # noqa: BLE001 (not this backend's tensor: anything NumPy can read is fine)
            try:
                array = np.asarray(value, dtype=np.float64)
            except Exception:  # noqa: BLE001
                raise StudentError(
                    f"{what} is a {type(value).__name__}, not a tensor; expected shape {shape}."
                ) from None
        if array.shape != tuple(shape):
            raise StudentError(f"{what} has shape {array.shape}; expected {shape}.{shape_hint(array.shape, shape)}")
        bad = np.isnan(array) | (np.isposinf(array) if allow_neg_inf else np.isinf(array))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise StudentError(
                f"{what} has {int(bad.sum())} non-finite values (nan or inf), the first at "
                f"{list(where)}: {array[where]}."
            )
        return array

    def pair(self, value, what: str, names: tuple[str, str]) -> tuple:
        """A returned ``(H, C)``-like pair."""
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return tuple(value)
        if isinstance(value, (tuple, list)):
            got = f"a {type(value).__name__} of {len(value)} items"
        else:
            got = f"one {type(value).__name__}" + (f" of shape {tuple(value.shape)}" if hasattr(value, "shape") else "")
        raise StudentError(f"{what} is {got}; expected a pair ({', '.join(names)}).")

    def mapping(self, value, what: str, names) -> dict:
        """A returned dict that must hold exactly ``names``."""
        if not isinstance(value, dict):
            raise StudentError(f"{what} is a {type(value).__name__}; expected a dict name -> tensor.")
        missing = [n for n in names if n not in value]
        extra = [n for n in value if n not in names]
        if missing or extra:
            raise StudentError(
                f"{what} has the wrong keys: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(map(repr, missing))}" if missing else "",
                        f"unexpected {', '.join(map(repr, extra))}" if extra else "",
                    )
                    if part
                )
                + "."
            )
        return value


def shape_hint(actual: tuple, expected: tuple) -> str:
    if len(actual) == 2 and actual[::-1] == tuple(expected) and actual != tuple(expected):
        return " (transposed?)"
    if len(actual) == len(expected) + 1 and actual[1:] == tuple(expected):
        return f" (one axis too many: sum over the first axis, of length {actual[0]}?)"
    return ""


# --- comparing with the reference ---------------------------------------------------------------------------------


@dataclass
class Mismatch:
    """Where an output differs from the reference beyond the tolerance."""

    output: str
    max_error: float
    index: tuple
    actual: float
    expected: float
    bound: float
    count: int = 1  # entries out of tolerance
    size: int = 1
    first_step: int | None = None  # outputs with a time axis: the first wrong step
    num_steps: int | None = None

    def describe(self) -> str:
        where = f"[{', '.join(map(str, self.index))}]"
        wrong = f"{self.count} of {self.size} entries" if self.size > 1 else "its value"
        if np.isinf(self.max_error):
            text = (
                f"{self.output} is wrong ({wrong}): at {where} yours is {self.actual:.6g}, "
                f"the reference {self.expected:.6g}"
            )
        else:
            text = (
                f"{self.output} is wrong ({wrong}): max abs error {self.max_error:.3g} at {where} "
                f"(yours {self.actual:.6g}, reference {self.expected:.6g}; tolerance {self.bound:.2g})"
            )
        if self.first_step is not None:
            right = {0: "", 1: "; step 0 is right"}.get(self.first_step, f"; steps 0..{self.first_step - 1} are right")
            text += f"\n  first wrong at time step t = {self.first_step} of {self.num_steps}{right}"
        return text


def bound_for(expected: np.ndarray, kind: str, num_terms: int = 1) -> float:
    """``atol + rtol * max|reference|`` (core/parity.py's tolerances: float32 round-off)."""
    if kind == "exact":
        return 0.0
    atol, rtol = tolerance(kind, num_terms)
    finite = np.abs(expected[np.isfinite(expected)])
    return atol + rtol * (finite.max() if finite.size else 0.0)


def compare(
    output: str, actual: np.ndarray, expected: np.ndarray, bound: float, time_axis: bool = False
) -> Mismatch | None:
    """None when ``|actual - expected| <= bound`` everywhere (equal infinities count as equal)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    same = actual == expected  # equal infinities too
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0.0, np.abs(actual - expected))
    err = np.where(np.isnan(err), np.inf, err)
    bad = err > bound
    if not bad.any():
        return None
    index = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), err.shape)
    mismatch = Mismatch(
        output,
        float(err[index]),
        tuple(int(i) for i in index),
        float(actual[index]),
        float(expected[index]),
        bound,
        int(bad.sum()),
        bad.size,
    )
    if time_axis:
        mismatch.first_step = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
        mismatch.num_steps = bad.shape[0]
    return mismatch


# --- exercises ----------------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One seeded test case: its inputs (NumPy, float32 values held in float64) and sizes."""

    label: str
    inputs: dict
    sizes: dict


@dataclass(frozen=True)
class Mistake:
    """A common mistake: ``outputs(case)`` is what a function with this mistake returns."""

    key: str
    hint: str
    outputs: Callable[[Case], dict]


@dataclass(frozen=True)
class Exercise:
    """One exercise. ``functions``: what the student defines; ``stub_source(backend)``: their
    definitions with docstrings and a ``raise NotImplementedError("TODO")`` body."""

    name: str
    title: str
    functions: tuple[str, ...]
    backends: tuple[str, ...]
    sizes: tuple[dict, ...]  # the default cases
    make_case: Callable[[dict], Case]
    run: Callable[[Student, Case], dict]  # the student's outputs, NumPy, by name
    reference: Callable[[Case], dict]
    stub_source: Callable[[str], str]
    mistakes: tuple[Mistake, ...] = ()
    time_axis: tuple[str, ...] = ()  # outputs whose first axis is time
    kind: Callable[[str], str] = field(default=lambda output: "forward")
    num_terms: Callable[[Case], int] = field(default=lambda case: 1)
    #: ``describe(case, mismatch, actual, expected)``: the exercise's own words for a wrong output
    describe: Callable[[Case, Mismatch, np.ndarray, np.ndarray], str] | None = None
    imports: bool = True  # False: plain Python, the stub imports no framework

    def mistake(self, key: str) -> Mistake:
        return next(m for m in self.mistakes if m.key == key)

    def cases(self, which=None) -> list[Case]:
        """``None``: the default cases; an int n: the first n of them; a list of dicts: those sizes
        (missing keys taken from the first default case)."""
        if which is None:
            sizes = list(self.sizes)
        elif isinstance(which, int) and not isinstance(which, bool):
            if not 1 <= which <= len(self.sizes):
                raise ValueError(f"cases must be between 1 and {len(self.sizes)} for {self.name}, got {which}.")
            sizes = list(self.sizes[:which])
        else:
            sizes = [{**self.sizes[0], **dict(s)} for s in which]
        return [self.make_case(dict(s)) for s in sizes]


# --- inputs -------------------------------------------------------------------------------------------------------


def f32(array) -> np.ndarray:
    """Float32 values held in float64: the student gets float32, the reference the same numbers exactly."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def normal(rng: np.random.Generator, *shape, scale=1.0) -> np.ndarray:
    return f32(rng.standard_normal(shape) * scale)

"""balanced: the label of the parentheses task (``core/tasks/parentheses.py``'s ``is_balanced``), on a
plain Python string. Every unbalanced string of the task has as many ``(`` as ``)``, so counting
is not enough: the nesting depth must never go below zero and must end at zero."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.tasks.parentheses import ALPHABET, balanced_string, is_balanced, unbalanced_string
from .base import ALL_BACKENDS, Case, Exercise, Mistake, Student, StudentError

SHORT = ("", "()", ")(", "(()", "())", "(a(b)c)", "a)b(c", "(()())", "())(()", "((x)", "no brackets", "(()))(()")
PAREN_SIZES = ({"strings": "short", "seed": 0}, {"strings": "task", "length": 25, "count": 16, "seed": 1})


def as_text(tokens) -> str:
    return "".join(ALPHABET[t] for t in tokens)


def paren_case(sizes) -> Case:
    if sizes["strings"] == "short":
        return Case("short strings", {"strings": list(SHORT)}, dict(sizes))
    rng = np.random.default_rng(sizes.get("seed", 0))
    length, count = sizes.get("length", 25), sizes.get("count", 16)
    strings = [as_text((balanced_string if i % 2 else unbalanced_string)(length, rng)) for i in range(count)]
    return Case(f"{count} strings of length {length} from the task", {"strings": strings}, dict(sizes))


def reference_balanced(text: str) -> bool:
    tokens = [ALPHABET.index(c) if c in ALPHABET else -1 for c in text]
    return True if not tokens else is_balanced(tokens)  # no symbol: nothing unbalanced


def answers(check) -> Callable:
    return lambda case: {"answers": np.array([check(s) for s in case.inputs["strings"]], dtype=float)}


def never_negative(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return True


PAREN_MISTAKES = (
    Mistake(
        "counts_only",
        'counting is not enough: as many ( as ) can still be unbalanced, as in ")("; the '
        "depth must never go below zero.",
        answers(lambda s: s.count("(") == s.count(")")),
    ),
    Mistake(
        "never_negative_only", 'the depth must also end at zero: "(()" leaves a bracket open.', answers(never_negative)
    ),
)


def run_balanced(student: Student, case: Case) -> dict:
    results = []
    for text in case.inputs["strings"]:
        answer = student.call("balanced", text)
        if not isinstance(answer, (bool, np.bool_)):
            raise StudentError(
                f"balanced({text!r}) returned {answer!r} ({type(answer).__name__}); return True or False."
            )
        results.append(float(answer))
    return {"answers": np.array(results)}


def describe_answers(case, mismatch, actual, expected) -> str:
    """Which string was misjudged (the grader's own wording for this exercise)."""
    strings = case.inputs["strings"]
    wrong = [i for i in range(len(strings)) if actual[i] != expected[i]]
    i = wrong[0]
    return f"balanced({strings[i]!r}) returned {bool(actual[i])}; expected {bool(expected[i])}" + (
        f" ({len(wrong) - 1} more misjudged)" if len(wrong) > 1 else ""
    )


def balanced_stub(backend: str) -> str:
    return '''def balanced(s):
    """Is every bracket of the string s closed, in the right order?

    Args:
        s: a plain Python string over a-z, "(" and ")" (the parentheses task's alphabet);
            letters do not matter.

    Returns:
        True or False: True when every "(" is closed by a later ")" and every ")" closes an
        earlier "(" (the string without brackets, and the empty one, are balanced).
    """
    raise NotImplementedError("TODO")
'''


EXERCISES = (
    Exercise(
        "balanced",
        "is a string's every bracket closed in order? (plain Python, any backend)",
        ("balanced",),
        ALL_BACKENDS,
        PAREN_SIZES,
        paren_case,
        run_balanced,
        answers(reference_balanced),
        balanced_stub,
        PAREN_MISTAKES,
        kind=lambda output: "exact",
        describe=describe_answers,
        imports=False,
    ),
)

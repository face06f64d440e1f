"""top_k_top_p: which tokens sampling may draw, as ``core/sampling.py``'s ``next_distribution`` keeps them.

The reference keeps exactly the tokens to which ``next_distribution(logits, 1.0, k, p)`` gives a
probability; the sampling order is the most likely first, ties broken toward the lower id; top-k
keeps the first k, top-p the shortest prefix whose probabilities sum to p or more, both read on
the same probabilities. The cases keep every cumulative sum at least 0.02 from p, so float32
and float64 agree on where the prefix ends.
"""

from __future__ import annotations

import textwrap

import numpy as np

from ..core.sampling import next_distribution
from .base import ALL_BACKENDS, Case, Exercise, Mistake, Student, f32

TOP_SIZES = (
    {"B": 3, "V": 10, "k": 4, "p": None, "seed": 0},
    {"B": 3, "V": 10, "k": None, "p": 0.8, "seed": 1},
    {"B": 2, "V": 12, "k": 5, "p": 0.6, "seed": 2},
    {"B": 2, "V": 8, "k": 3, "p": None, "seed": 3, "ties": True},
    {"B": 1, "V": 6, "k": 0, "p": 1.0, "seed": 4},
)
MARGIN = 0.02
OUTPUT = "top_k_top_p(logits, k, p)"
TIED = np.array([2.0, 1.5, 1.5, 1.5, 0.5, 0.0, -0.5, -1.0])  # k = 3 cuts between equal logits


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def effective(k, p):
    """The exercise's conventions in the package's: k None or 0, p None or 1.0: no filtering."""
    return (k if k else None), (p if p is not None and p < 1 else None)


def top_case(sizes) -> Case:
    B, V, k, p = sizes["B"], sizes["V"], sizes.get("k"), sizes.get("p")
    rng = np.random.default_rng(sizes.get("seed", 0))
    while True:
        if sizes.get("ties"):
            logits = f32(
                np.stack([rng.permutation(TIED[:V]) if V <= len(TIED) else rng.permutation(V) / 2.0 for _ in range(B)])
            )
        else:
            logits = f32(rng.standard_normal((B, V)) * 2.0)
        _, p_used = effective(k, p)
        sums = np.cumsum(-np.sort(-softmax(logits), axis=-1), axis=-1)
        if p_used is None or np.abs(sums - p_used).min() > MARGIN:
            break
    return Case(
        f"B={B}, V={V}, k={shown(k)}, p={shown(p)}" + (", with ties" if sizes.get("ties") else ""),
        {"logits": logits, "k": k, "p": p},
        dict(sizes),
    )


def shown(value) -> str:
    return "None" if value is None else f"{value:g}"


def reference_top(case) -> dict:
    x = case.inputs
    k, p = effective(x["k"], x["p"])
    keep = np.stack([next_distribution(row, 1.0, k, p) > 0 for row in x["logits"]])
    return {OUTPUT: np.where(keep, x["logits"], -np.inf)}


def keep_mask(row, k, p, *, k_offset=0, ties_high=False, smallest=False, p_cut="reach", renormalise=False):
    """The tokens kept, computed the way a mistake does (all defaults: the reference)."""
    probs = softmax(row)
    if smallest:
        order = np.argsort(probs, kind="stable")
    elif ties_high:
        ids = np.arange(len(row))[::-1]
        order = ids[np.argsort(-probs[::-1], kind="stable")]
    else:
        order = np.argsort(-probs, kind="stable")
    keep = np.ones(len(row), dtype=bool)
    if k is not None:
        keep[order[max(k + k_offset, 0) :]] = False
    if p is not None:
        q = np.where(keep, probs, 0.0) / np.where(keep, probs, 0.0).sum() if renormalise else probs
        cut = int(np.searchsorted(np.cumsum(q[order]), p)) + {"reach": 1, "below": 0, "one_more": 2}[p_cut]
        keep[order[cut:]] = False
    return keep


def top_mistake(values="logits", **change):
    def outputs(case):
        x = case.inputs
        k, p = effective(x["k"], x["p"])
        keep = np.stack([keep_mask(row, k, p, **change) for row in x["logits"]])
        if values == "zeros":
            return {OUTPUT: np.where(keep, x["logits"], 0.0)}
        if values == "probabilities":
            probs = np.where(keep, softmax(x["logits"]), 0.0)
            return {OUTPUT: probs / probs.sum(axis=-1, keepdims=True)}
        return {OUTPUT: np.where(keep, x["logits"], -np.inf)}

    return outputs


TOP_MISTAKES = (
    Mistake("k_plus_one", "top-k keeps k + 1 tokens; it keeps the k most likely.", top_mistake(k_offset=1)),
    Mistake("k_minus_one", "top-k keeps k - 1 tokens; it keeps the k most likely.", top_mistake(k_offset=-1)),
    Mistake(
        "ties_high",
        "equal logits are broken toward the higher index; the package's order keeps the lower "
        "token id first (a stable sort, most likely first).",
        top_mistake(ties_high=True),
    ),
    Mistake("smallest", "the least likely tokens are kept: sort from the most likely.", top_mistake(smallest=True)),
    Mistake(
        "p_below",
        "top-p drops the token whose probability makes the sum reach p: keep the shortest prefix "
        "whose sum is at least p (that token included).",
        top_mistake(p_cut="below"),
    ),
    Mistake(
        "p_one_more",
        "top-p keeps one token more than the shortest prefix whose sum reaches p.",
        top_mistake(p_cut="one_more"),
    ),
    Mistake(
        "p_renormalised",
        "top-p sums the probabilities renormalised after top-k; both filters read the same softmax of the logits.",
        top_mistake(renormalise=True),
    ),
    Mistake(
        "zeros",
        "removed tokens are set to 0; set them to -inf (a logit of 0 can still be drawn).",
        top_mistake(values="zeros"),
    ),
    Mistake(
        "probabilities",
        "the result is probabilities; return the logits, with -inf where a token is removed.",
        top_mistake(values="probabilities"),
    ),
)


def describe_top(case, mismatch, actual, expected) -> str:
    """Which tokens of the first wrong row are kept or removed against the reference."""
    removed, should_remove = np.isneginf(actual), np.isneginf(expected)
    rows = np.flatnonzero((removed != should_remove).any(axis=-1))
    if not rows.size:  # the right tokens, but their logits changed
        return mismatch.describe() + "\n  (the kept logits are returned unchanged)"
    row = rows[0]
    parts = [
        f"{what}: {np.flatnonzero(mask[row]).tolist()}"
        for what, mask in (
            ("tokens you remove that the reference keeps", removed & ~should_remove),
            ("tokens you keep that the reference removes", ~removed & should_remove),
        )
        if mask[row].any()
    ]
    more = {1: "", 2: " (and 1 more row)"}.get(len(rows), f" (and {len(rows) - 1} more rows)")
    return f"{OUTPUT}, row {row}: " + "; ".join(parts) + more


def run_top(student: Student, case: Case) -> dict:
    x = case.inputs
    result = student.call("top_k_top_p", student.tensor(x["logits"]), x["k"], x["p"])
    return {OUTPUT: student.array(result, "the filtered logits", x["logits"].shape, allow_neg_inf=True)}


NOTES = {
    "torch": "torch.softmax(z, dim=-1), torch.sort(z, dim=-1, descending=True, stable=True), torch.cumsum, "
    "torch.where, float('-inf')",
    "tensorflow": "tf.nn.softmax, tf.argsort(z, direction='DESCENDING', stable=True), tf.math.cumsum, tf.where",
    "jax": "jax.nn.softmax, jnp.argsort(-z, stable=True), jnp.cumsum, jnp.where, -jnp.inf",
    "mxnet": "npx.softmax(z, axis=-1), np.cumsum, np.where, -np.inf (comparisons broadcast: z[:, :, None] > "
    "z[:, None, :])",
    "numpy": "np.argsort(-z, kind='stable'), np.cumsum, np.where, -np.inf",
}


def top_stub(backend: str) -> str:
    return f'''def top_k_top_p(logits, k, p):
    """What top-k and top-p (nucleus) sampling may draw: the other logits set to -inf.

    Args:
        logits: (B, V), one row per sequence.
        k: keep the k most likely tokens of each row; None or 0: no top-k.
        p: keep the shortest run of most likely tokens whose probabilities sum to p or
            more (the token that reaches p included); None or 1.0: no top-p.

    Returns:
        (B, V): the logits of the kept tokens unchanged, -inf elsewhere.

    The order is the most likely first; equal logits: the lower token id first. Both filters
    read the same probabilities, softmax(logits) over each row, and a token is kept when
    both keep it.

    {textwrap.fill(f"Useful: {NOTES[backend]}.", width=96, subsequent_indent="    ")}
    """
    raise NotImplementedError("TODO")
'''


EXERCISES = (
    Exercise(
        "top_k_top_p",
        "top-k and top-p filtering of logits (the package's sampling rules)",
        ("top_k_top_p",),
        ALL_BACKENDS,
        TOP_SIZES,
        top_case,
        run_top,
        reference_top,
        top_stub,
        TOP_MISTAKES,
        describe=describe_top,
    ),
)

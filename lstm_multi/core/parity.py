"""Cross-framework parity: one case, every implementation, differences against the reference.

A *case* is one model of the family (a :class:`~.family.LayerConfig`) and one set of
canonical parameters and inputs (NumPy, float32). Every implementation (backend x
scratch/concise) computes from it, in float32:

- ``outputs`` and the final state (``H``, and ``C`` for an LSTM): the layer alone on a
  random ``X (T, B, V)`` from a random state;
- ``logits``, ``loss`` and ``grad/<name>`` for every canonical parameter of the LM;
- ``trajectory``: the losses of ``steps`` SGD steps with clipping on Time Machine batches.

A bidirectional layer cannot drive a language model, so for one only the layer's
forward quantities are compared.

The NumPy reference computes the same in float64 (the trajectory with its own
gradients). A quantity passes when ``max|x - ref| <= atol + rtol * max|ref|``
(:data:`TOLERANCES`). Backends that cannot be imported here (MXNet lives in its own
environment) run in another interpreter as a subprocess, exchanging ``.npz`` files:
``LSTM_MULTI_PYTHON_<BACKEND>`` names it, else ``.tox/<backend>/bin/python`` is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from .. import backend as registry
from .family import LayerConfig
from .lm import lm_shapes
from .types import Params, State, Tensor

#: a case, or an implementation's results: name -> NumPy array (``"param/W_xi"``, ``"X"``, ...)
Case: TypeAlias = dict[str, np.ndarray]

IMPLEMENTATIONS = ("scratch", "concise")

#: (atol, rtol) for each kind of quantity; float32 round-off, measured in docs/parity.md.
TOLERANCES = {
    "forward": (1e-6, 5e-6),  # outputs, H, C, logits
    "loss": (0.0, 2e-6),
    "grad": (1e-8, 5e-6),  # relative to the largest entry of that gradient
    "trajectory": (0.0, 1e-5),  # per-step losses of 20 clipped SGD steps
}


#: Terms summed into each gradient entry in the default case (16 steps x batch 8).
DEFAULT_TERMS = 16 * 8


def tolerance(kind: str, num_terms: int = DEFAULT_TERMS) -> tuple[float, float]:
    """``(atol, rtol)`` for a kind of quantity, for gradients summed over ``num_terms`` = T * B.

    Each gradient entry is a sum over every step and sequence; float32 round-off in a sum
    of n terms grows like sqrt(n) eps, so above the default case the gradients' rtol
    grows by sqrt(n / 128) (at h 256, 32 steps, batch 32, MXNet's b_c reaches 1.2e-5).
    """
    atol, rtol = TOLERANCES[kind]
    if kind == "grad":
        rtol *= max(1.0, (num_terms / DEFAULT_TERMS) ** 0.5)
    return atol, rtol


def kind_of(quantity: str) -> str:
    if quantity.startswith("grad/"):
        return "grad"
    return quantity if quantity in ("loss", "trajectory") else "forward"


def make_case(
    hidden: int = 32,
    num_steps: int = 16,
    batch_size: int = 8,
    seed: int = 0,
    steps: int = 20,
    lr: float = 1.0,
    clip: float = 1.0,
    model: str = "lstm",
    **options: Any,
) -> Case:
    """The inputs every implementation receives (all NumPy; scalars as 0-d arrays).

    ``model`` and ``options`` (``num_layers``, ``bidirectional``, ``peephole``, ``reset_after``,
    ``forget_bias``) choose the member of the family; its layer reads one-hot characters.
    """
    from .data import TimeMachine

    data = TimeMachine(batch_size, num_steps, num_train=steps * batch_size, num_val=0, seed=seed)
    vocab = len(data.vocab)
    config = LayerConfig(model, vocab, hidden, **options)
    rng = np.random.default_rng(seed)
    f32 = lambda *shape, scale=1.0: (rng.standard_normal(shape) * scale).astype(np.float32)
    # Weights ~ N(0, 1/h), as frameworks initialise (well-conditioned, gates not saturated).
    scale = 1 / np.sqrt(hidden)
    shapes = config.shapes() if config.bidirectional else lm_shapes(config, vocab)
    case = {f"param/{k}": f32(*shape, scale=scale) for k, shape in shapes.items()}
    batches = list(data.train_dataloader())
    case.update({f"state/{name}": f32(*config.state_shape(batch_size), scale=0.5) for name in config.spec.state})
    case.update(
        X=f32(num_steps, batch_size, vocab),
        tokens=rng.integers(0, vocab, (batch_size, num_steps)).astype(np.int32),
        targets=rng.integers(0, vocab, (batch_size, num_steps)).astype(np.int32),
        train_tokens=np.stack([x for x, _ in batches]),
        train_targets=np.stack([y for _, y in batches]),
        lr=np.array(lr),
        clip=np.array(clip),
        config=np.array(json.dumps(config.to_dict())),
    )
    return case


def case_params(case: Case) -> Params:
    return {k[len("param/") :]: v for k, v in case.items() if k.startswith("param/")}


def case_config(case: Case) -> LayerConfig:
    return LayerConfig.from_dict(json.loads(str(case["config"])))


def case_state(case: Case, convert: Callable[[np.ndarray], Tensor] = lambda x: x) -> State:
    """The initial state in the API form: ``(H, C)`` for an LSTM, ``H`` otherwise."""
    parts = [convert(case[f"state/{name}"]) for name in case_config(case).spec.state]
    return tuple(parts) if len(parts) > 1 else parts[0]


def state_quantities(
    config: LayerConfig, state: State, convert: Callable[[Tensor], np.ndarray] = lambda x: x
) -> dict[str, np.ndarray]:
    parts = state if len(config.spec.state) > 1 else (state,)
    return {name: convert(part) for name, part in zip(config.spec.state, parts)}


def run_reference(case: Case) -> Case:
    """The reference's quantities for ``case`` (float64)."""
    from ..reference import layer_forward, lm_forward, lm_loss_and_grads, sgd_train

    config, params = case_config(case), case_params(case)
    outputs, state, _ = layer_forward(config, params, case["X"], case_state(case))
    results = {"outputs": outputs, **state_quantities(config, state)}
    if config.bidirectional:
        return results
    loss, grads = lm_loss_and_grads(params, case["tokens"], case["targets"], config=config)
    trajectory, _ = sgd_train(
        params, zip(case["train_tokens"], case["train_targets"]), float(case["lr"]), float(case["clip"]), config=config
    )
    return {
        **results,
        "logits": lm_forward(params, case["tokens"], config=config)[0],
        "loss": np.array(loss),
        **{f"grad/{k}": v for k, v in grads.items()},
        "trajectory": trajectory,
    }


def run_backend(name: str, case: Case, device: str | None = None) -> Case:
    """Every implementation of backend ``name`` in this process, on ``device`` (None: the
    backend's default); keys ``<impl>/<quantity>``."""
    from .lm import build_layer, model_from_config

    bk = registry.get_backend(name, device=device)
    config, params = case_config(case), case_params(case)
    lr, clip = float(case["lr"]), float(case["clip"])
    results: Case = {}
    for impl in IMPLEMENTATIONS:
        if config.bidirectional:
            try:
                layer = model = build_layer(bk, impl, config)
            except ValueError as err:
                results[f"{impl}/skipped"] = np.array(str(err))
                continue
        else:
            try:
                model = model_from_config(bk, impl, config, config.num_inputs, lr)
            except ValueError as err:  # a native layer without this option (peepholes, reset before)
                results[f"{impl}/skipped"] = np.array(str(err))
                continue
            layer = model.rnn
        bk.set_params(model, params)
        outputs, state = layer(bk.tensor(case["X"]), case_state(case, bk.tensor))
        found = {"outputs": bk.to_numpy(outputs), **state_quantities(config, state, bk.to_numpy)}
        if not config.bidirectional:
            found["logits"] = bk.to_numpy(model(bk.tensor(case["tokens"])))
            loss, grads = bk.loss_and_grads(model, case["tokens"], case["targets"])
            trajectory = [
                bk.train_step(model, x, y, lr, clip) for x, y in zip(case["train_tokens"], case["train_targets"])
            ]
            found.update(
                loss=np.array(loss), trajectory=np.array(trajectory), **{f"grad/{k}": v for k, v in grads.items()}
            )
        results.update({f"{impl}/{k}": v for k, v in found.items()})
    return results


def interpreter_for(name: str) -> str | None:
    """Another Python that has backend ``name`` (for backends not installed here)."""
    explicit = os.environ.get(f"LSTM_MULTI_PYTHON_{name.upper()}")
    if explicit:
        return explicit
    for folder in (Path.cwd(), *Path.cwd().parents):  # the project's .tox, also from notebooks/
        candidate = folder / ".tox" / name / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return None


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for this package run by another interpreter: this package's code (a
    source checkout goes first on ``PYTHONPATH``) and matplotlib's Agg backend (a notebook's
    inline backend exists only in the notebook's environment); plus ``extra``."""
    env = {**os.environ, "MPLBACKEND": "Agg", **extra}
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists():  # a source checkout, not an installed package
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


def run_backend_elsewhere(name: str, case: Case, python: str, device: str | None = None) -> Case:
    """:func:`run_backend` in another interpreter, through ``.npz`` files."""
    if not Path(python).is_file():
        raise RuntimeError(
            f"the interpreter {python} for backend {name!r} does not exist "
            f"(LSTM_MULTI_PYTHON_{name.upper()} or .tox/{name})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        case_file, out_file = Path(tmp, "case.npz"), Path(tmp, "out.npz")
        np.savez(case_file, **case)  # type: ignore[arg-type]  # (numpy's stubs fear a key "allow_pickle")
        command = [python, "-m", "lstm_multi.core.parity", name, str(case_file), str(out_file)]
        proc = subprocess.run(
            command + ([device] if device else []),
            capture_output=True,
            text=True,
            env=subprocess_env(),
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"backend {name!r} failed in {python}: {tail[0]}")
        with np.load(out_file) as out:
            return {k: out[k] for k in out.files}


@dataclass
class Row:
    backend: str
    impl: str
    quantity: str
    max_abs: float
    max_rel: float  # max_abs / max|reference|
    bound: float

    @property
    def ok(self) -> bool:
        return self.max_abs <= self.bound


@dataclass
class ParityReport:
    rows: list[Row]
    skipped: dict[str, str]  # "backend" or "backend impl" -> why it did not run

    @property
    def ok(self) -> bool:
        """Every row that ran is within its bound."""
        return all(row.ok for row in self.rows)

    @property
    def complete(self) -> bool:
        """Every requested implementation ran."""
        return not self.skipped

    def worst(self) -> list[Row]:
        """One row per (backend, impl, kind): the one closest to its bound."""
        best: dict[tuple, Row] = {}
        for row in self.rows:
            key = (row.backend, row.impl, kind_of(row.quantity))
            if key not in best or row.max_abs / row.bound > best[key].max_abs / best[key].bound:
                best[key] = row
        return list(best.values())

    def to_markdown(self, full: bool = False) -> str:
        lines = [
            "| backend | impl | quantity | max abs diff | max rel diff | bound | ok |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows if full else self.worst():
            lines.append(
                f"| {r.backend} | {r.impl} | {r.quantity} | {r.max_abs:.2e} | {r.max_rel:.2e} "
                f"| {r.bound:.2e} | {'yes' if r.ok else 'NO'} |"
            )
        lines += [f"\n{name}: NOT RUN ({why})" for name, why in self.skipped.items()]
        return "\n".join(lines)


def compare(
    name: str, results: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], num_terms: int = DEFAULT_TERMS
) -> list[Row]:
    rows = []
    for key, value in results.items():
        impl, quantity = key.split("/", 1)
        if quantity == "skipped":
            continue
        ref = np.asarray(reference[quantity], np.float64)
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        max_abs = float(np.abs(np.asarray(value, np.float64) - ref).max())
        atol, rtol = tolerance(kind_of(quantity), num_terms)
        rows.append(Row(name, impl, quantity, max_abs, max_abs / scale if scale else 0.0, atol + rtol * scale))
    return rows


def parity(
    backends: Iterable[str] | None = None,
    hidden: int = 32,
    num_steps: int = 16,
    batch_size: int = 8,
    seed: int = 0,
    steps: int = 20,
    model: str = "lstm",
    device: str | None = None,
    **options: Any,
) -> ParityReport:
    """Run every implementation that can run here or in its own environment; compare.

    ``model`` and ``options`` choose the member of the family (see :func:`make_case`);
    ``device`` where every backend computes (None: each one's default, its first GPU if any).
    A backend that cannot run, or fails, is listed in ``skipped`` with the reason; the
    others are still compared.
    """
    case = make_case(hidden, num_steps, batch_size, seed, steps, model=model, **options)
    reference = run_reference(case)
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    for name in backends or registry.FRAMEWORKS:
        registry.validate_name(name)
        try:
            if registry.is_available(name):
                results = run_backend(name, case, device)
            elif (python := interpreter_for(name)) is not None:
                results = run_backend_elsewhere(name, case, python, device)
            else:
                skipped[name] = (
                    f"not installed here and no interpreter for it: set "
                    f"LSTM_MULTI_PYTHON_{name.upper()} or create .tox/{name} (tox -e {name})"
                )
                continue
        except RuntimeError as err:
            skipped[name] = str(err)
            continue
        skipped.update(
            {f"{name} {key.split('/')[0]}": str(value) for key, value in results.items() if key.endswith("/skipped")}
        )
        rows += compare(name, results, reference, num_steps * batch_size)
    return ParityReport(rows, skipped)


def _worker(argv: list[str]) -> int:
    """``python -m lstm_multi.core.parity BACKEND CASE.npz OUT.npz [DEVICE]`` (the subprocess path)."""
    name, case_file, out_file, *device = argv
    with np.load(case_file) as loaded:
        case = {k: loaded[k] for k in loaded.files}
    np.savez(out_file, **run_backend(name, case, *device))  # type: ignore[arg-type]  # (as above)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))

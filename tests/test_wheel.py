"""The package as a user gets it: a wheel and an sdist that ``python -m build`` makes and
``twine check`` accepts, the wheel installed into a fresh virtual environment (without matplotlib,
as ``pip install lstm-multi`` is), its command run from there, outside this checkout.

``tox -e package`` builds the distributions into ``$LSTM_MULTI_DIST``; without it the test builds
them itself (it needs ``build`` and ``twine``, else it skips).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import lstm_multi

# one pytest-xdist worker runs this module: its tests share the module's fixtures
pytestmark = pytest.mark.xdist_group("wheel")

ROOT = Path(__file__).resolve().parents[1]
TOOLS = [name for name in ("build", "twine") if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(
    bool(TOOLS) and "LSTM_MULTI_DIST" not in os.environ,
    reason=f"needs {', '.join(TOOLS)} to build the wheel (pip install build twine; tox -e package)",
)


def run(*command, cwd=None, env=None):
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The folder with the wheel and the sdist, checked by twine."""
    if "LSTM_MULTI_DIST" in os.environ:
        folder = Path(os.environ["LSTM_MULTI_DIST"])
    else:
        folder = tmp_path_factory.mktemp("dist")
        run(sys.executable, "-m", "build", "--outdir", folder, ROOT)
    files = sorted(folder.iterdir())
    run(sys.executable, "-m", "twine", "check", "--strict", *files)
    return folder


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {[p.name for p in found]}"
    return found[0]


def test_the_distributions_hold_the_package_and_the_corpus(dist):
    import tarfile
    import zipfile

    wheel = only(dist, f"lstm_multi-{lstm_multi.__version__}-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lstm_multi/data/timemachine.txt" in names
    assert "lstm_multi/cli/__init__.py" in names and "lstm_multi/backends/jax/lstm.py" in names
    assert not [n for n in names if n.startswith("tests/")]
    sdist = only(dist, f"lstm_multi-{lstm_multi.__version__}.tar.gz")
    members = tarfile.open(sdist).getnames()
    assert f"lstm_multi-{lstm_multi.__version__}/lstm_multi/data/timemachine.txt" in members


def test_the_wheel_installs_and_trains_in_a_fresh_environment(dist, tmp_path):
    wheel = only(dist, "*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LSTM_MULTI_", "PYTHON"))}
    run(bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, env=clean)
    work = tmp_path / "work"  # not this checkout: the installed package is the one that runs
    work.mkdir()
    assert run(bin_dir / "lstm-multi", "--version", cwd=work, env=clean).strip() == (
        f"lstm-multi {lstm_multi.__version__}"
    )
    where = run(bin_dir / "python", "-c", "import lstm_multi; print(lstm_multi.__file__)", cwd=work, env=clean)
    assert Path(where.strip()).is_relative_to(env_dir)
    out = run(
        bin_dir / "lstm-multi",
        "train",
        "--backend",
        "numpy",
        "--epochs",
        "1",
        "--num-train",
        "64",
        "--num-val",
        "32",
        "--batch-size",
        "32",
        "--num-steps",
        "8",
        "--hidden",
        "8",
        "--no-progress",
        "--out",
        "run",
        cwd=work,
        env=clean,
    )
    assert "validation perplexity" in out
    assert (work / "run" / "model.safetensors").is_file() and (work / "run" / "history.json").is_file()
    assert not (work / "run" / "curve.png").exists()  # no matplotlib in a plain install

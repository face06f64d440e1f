"""Data-parallel training: 2 workers train exactly like 1 worker with the same global batch.

Each run goes through the CLI in a fresh process (``lstm-multi train --workers N``), the way
a user starts one: torch spawns its processes, JAX and TensorFlow get their CPU devices
before they start, MXNet uses two contexts.
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from conftest import assert_close
from test_cli import run_cli

from lstm_multi.cli import main
from lstm_multi.core.distributed import block, check_divisible
from lstm_multi.core.tasks import Parentheses
from lstm_multi.core.trainer import Trainer

# Tests that share a run of the fixtures below stay on one pytest-xdist worker (--dist loadgroup):
# the SGD runs, the Adam runs, and the native layer's one-worker run.
SGD_RUNS, ADAM_RUNS = pytest.mark.xdist_group("distributed-sgd"), pytest.mark.xdist_group("distributed-adam")

# Dropout off: two workers draw other masks than one. Batches of 64 and a last one of 32.
RUN = [
    "--hidden",
    "16",
    "--batch-size",
    "64",
    "--num-steps",
    "8",
    "--num-train",
    "352",
    "--num-val",
    "64",
    "--no-progress",
]


def history(out):
    return json.loads((out / "history.json").read_text())


def train(bk, out, workers, *extra):
    proc = run_cli("train", "--backend", bk.NAME, *RUN, "--workers", str(workers), "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """``one_worker(bk, optimizer, impl)``: the history of 3 epochs on 1 worker, the reference the
    tests compare with (run once per backend, optimizer and implementation)."""
    runs = {}

    def run(bk, optimizer="sgd", impl="scratch"):
        if (bk.NAME, optimizer, impl) not in runs:
            out = tmp_path_factory.mktemp("one")
            train(bk, out, 1, "--epochs", "3", "--optimizer", optimizer, "--impl", impl)
            runs[bk.NAME, optimizer, impl] = history(out)
        return runs[bk.NAME, optimizer, impl]

    return run


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """``two_workers(bk, optimizer)``: ``(out, proc)`` of 2 epochs on 2 workers (run once per backend
    and optimizer: the tests that check two workers and the one that resumes from them share it)."""
    runs = {}

    def run(bk, optimizer):
        if (bk.NAME, optimizer) not in runs:
            out = tmp_path_factory.mktemp("two")
            runs[bk.NAME, optimizer] = out, train(bk, out, 2, "--epochs", "2", "--optimizer", optimizer)
        return runs[bk.NAME, optimizer]

    return run


def assert_trains_like_one(out, reference, what):
    """Every epoch's training and validation losses of the run in ``out`` equal ``reference``'s."""
    run = history(out)
    for a, b in zip(reference[: len(run)], run, strict=True):
        assert_close(
            [b["train_loss"], b["val_loss"]],
            [a["train_loss"], a["val_loss"]],
            atol=0,
            rtol=1e-5,
            what=f"epoch {a['epoch']} losses, {what} vs 1 worker",
        )


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", [pytest.param("sgd", marks=SGD_RUNS), pytest.param("adam", marks=ADAM_RUNS)])
def test_two_workers_train_like_one(bk, one_worker, two_workers, optimizer):
    if bk.NAME == "numpy":
        pytest.skip("the NumPy reference trains on one worker")
    out, two = two_workers(bk, optimizer)
    assert_trains_like_one(out, one_worker(bk, optimizer), "2 workers")
    assert two.stdout.count("epoch ") == 2  # worker 0 prints, once
    assert "sample: " in two.stdout and two.stderr.count("error") == 0


@pytest.mark.slow
@SGD_RUNS
def test_torchrun_starts_the_workers(bk, tmp_path, one_worker):
    """The multi-machine launch, on one machine: torchrun's c10d rendezvous over localhost."""
    if bk.NAME != "torch":
        pytest.skip("torchrun starts torch's workers")
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "1",
            "--nproc-per-node",
            "2",
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            "127.0.0.1:0",
            "-m",
            "lstm_multi.cli",
            "train",
            "--backend",
            "torch",
            *RUN,
            "--workers",
            "2",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert_trains_like_one(tmp_path / "two", one_worker(bk), "torchrun's 2 workers")


@pytest.mark.slow
@ADAM_RUNS
def test_resume_with_another_worker_count(bk, tmp_path, one_worker, two_workers):
    if bk.NAME == "numpy":
        pytest.skip("the NumPy reference trains on one worker")
    shutil.copytree(two_workers(bk, "adam")[0], tmp_path / "run")  # 2 epochs on 2 workers, with Adam
    proc = run_cli(
        "train",
        "--backend",
        bk.NAME,
        "--resume",
        str(tmp_path / "run"),
        "--epochs",
        "3",
        "--workers",
        "1",
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["epoch"] for r in history(tmp_path / "run")] == [1, 2, 3]
    assert_trains_like_one(tmp_path / "run", one_worker(bk, "adam"), "2 workers then 1")


def test_uneven_batches_are_a_clear_error(bk, tmp_path):
    if bk.NAME == "numpy":
        pytest.skip("the NumPy reference trains on one worker")
    proc = run_cli(
        "train", "--backend", bk.NAME, *RUN, "--workers", "3", "--epochs", "1", "--out", str(tmp_path / "run")
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "lstm-multi train: error: 3 workers split every training batch into 3 equal parts, but batch_size "
        "64 and the last batch of an epoch (352 % 64 = 32) is not a multiple of 3. Choose a batch size "
        "(and number of training examples) divisible by the number of workers.\n"
    )


def test_the_reference_backend_trains_on_one_worker():
    from lstm_multi import get_backend

    bk = get_backend("numpy")
    data = Parentheses(batch_size=10, length=6, num_train=40, num_val=10)
    model = bk.Classifier(bk.LSTMScratch(4, 8), num_classes=2, lr=0.1)
    with pytest.raises(
        ValueError,
        match="^The numpy backend trains on one worker; data-parallel training "
        r"\(workers > 1\) runs on torch, tensorflow, jax and mxnet.$",
    ):
        Trainer(1, workers=2).fit(model, data)


def test_blocks_and_divisibility():
    assert [block(8, 2, r) for r in (0, 1)] == [slice(0, 4), slice(4, 8)]
    data = Parentheses(batch_size=10, length=6, num_train=40, num_val=10)
    check_divisible(data, 2)  # 10 and no smaller last batch
    with pytest.raises(ValueError, match="batch_size 10 is not a multiple of 3"):
        check_divisible(data, 3)
    with pytest.raises(ValueError, match="^workers must be a positive integer, got 0.$"):
        Trainer(1, workers=0)


@pytest.mark.slow
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_every_worker_after_the_same_step(bk, tmp_path, signum):
    """Ctrl-C reaches every process of the terminal's group at slightly different times, SIGTERM
    only the launcher (which passes it on): the workers agree on the step through the all-reduce,
    so none is left waiting in a collective, and worker 0 keeps the finished epochs."""
    if bk.NAME != "torch":
        pytest.skip("torch's workers are processes; the other engines stop in one process")
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstm_multi.cli",
            "train",
            "--backend",
            "torch",
            *RUN,
            "--workers",
            "2",
            "--epochs",
            "100000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not (out / "history.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if signum == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)  # as the terminal does
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == (130 if signum == "SIGINT" else 143), err
    assert "Traceback" not in err
    done = len(history(out))
    stopped = "Ctrl-C" if signum == "SIGINT" else "SIGTERM"
    assert err.count(f"stopped by {stopped}: the last finished epoch ({done}) is saved") == 1, err


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_envs(backend: str) -> list[dict]:
    """What each process of a 2-worker multi-machine run is given, here over localhost."""
    ports = [free_port(), free_port()]
    if backend == "jax":
        return [
            {"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{ports[0]}", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(rank)}
            for rank in (0, 1)
        ]
    if backend == "mxnet":  # the parameter server: a scheduler, a server and the 2 workers
        cluster = {
            "DMLC_PS_ROOT_URI": "127.0.0.1",
            "DMLC_PS_ROOT_PORT": str(ports[0]),
            "DMLC_NUM_SERVER": "1",
            "DMLC_NUM_WORKER": "2",
        }
        return [{**cluster, "DMLC_ROLE": role} for role in ("scheduler", "server", "worker", "worker")]
    return [
        {
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": rank}}
            )
        }
        for rank in (0, 1)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "impl", [pytest.param("scratch", marks=SGD_RUNS), pytest.param("concise", marks=pytest.mark.xdist_group("native"))]
)
def test_processes_over_localhost(bk, tmp_path, one_worker, impl):
    """The multi-machine launch, on one machine: 2 processes joined by jax.distributed (gloo), by
    TF_CONFIG (MultiWorkerMirroredStrategy) or by MXNet's parameter server (dist_sync), one
    device each, train like one worker. Every process runs the same command. The native layers
    too: JAX and TensorFlow do not send worker 0's parameters to the others, each process draws
    the same ones from the seed."""
    if bk.NAME not in ("jax", "tensorflow", "mxnet"):
        pytest.skip("torchrun's launch is tested above")
    if impl == "concise" and bk.NAME == "mxnet":
        pytest.skip("MXNet's workers start from worker 0's values, pulled from the kvstore")
    import os
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "lstm_multi.cli",
        "train",
        "--backend",
        bk.NAME,
        *RUN,
        "--workers",
        "2",
        "--epochs",
        "2",
        "--impl",
        impl,
        "--out",
        str(tmp_path / "two"),
    ]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
        for env in cluster_envs(bk.NAME)
    ]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            proc.kill()  # none is left waiting for a process that failed
    assert_trains_like_one(tmp_path / "two", one_worker(bk, impl=impl), "2 processes")


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"DMLC_ROLE": "boss"}, "DMLC_ROLE must be scheduler, server or worker, got 'boss'."),
        (
            {"DMLC_ROLE": "worker"},
            "a multi-machine MXNet run needs all of DMLC_ROLE, DMLC_PS_ROOT_URI, "
            "DMLC_PS_ROOT_PORT, DMLC_NUM_SERVER, DMLC_NUM_WORKER; DMLC_PS_ROOT_URI, DMLC_PS_ROOT_PORT, "
            "DMLC_NUM_SERVER, DMLC_NUM_WORKER not set.",
        ),
        (
            {
                "DMLC_ROLE": "worker",
                "DMLC_PS_ROOT_URI": "127.0.0.1",
                "DMLC_PS_ROOT_PORT": "9091",
                "DMLC_NUM_SERVER": "1",
                "DMLC_NUM_WORKER": "2",
            },
            "workers=1, but this MXNet run has DMLC_NUM_WORKER=2 worker processes; ask for as many workers as "
            "processes.",
        ),
    ],
)
def test_a_parameter_server_run_is_checked_before_it_waits(bk, tmp_path, variables, message):
    """A wrong role or worker count would leave MXNet's processes waiting for each other for ever."""
    if bk.NAME != "mxnet":
        pytest.skip("the DMLC_* variables are MXNet's")
    proc = run_cli("train", "--backend", "mxnet", *RUN, "--epochs", "1", "--out", str(tmp_path / "run"), env=variables)
    assert (proc.returncode, proc.stderr) == (2, f"lstm-multi train: error: {message}\n")


@pytest.mark.slow
@pytest.mark.framework("torch")
def test_two_torch_workers_on_a_prepared_corpus_train_like_one(tmp_path):
    """``--data``: each torch worker process reads only its rows of a batch (the others stay 0),
    and the run trains like one worker on the whole batch."""
    pytest.importorskip("torch", reason="torch's workers are processes, each reading its own rows")
    from lstm_multi.core.data import read_time_machine
    from lstm_multi.core.tokenfile import prepare

    (tmp_path / "book.txt").write_text(read_time_machine()[:20000])
    prepare(tmp_path / "book.txt", tmp_path / "data")
    options = ["--backend", "torch", *RUN, "--epochs", "1", "--data", str(tmp_path / "data"), "--out"]
    assert main(["train", *options, str(tmp_path / "run1")]) == 0  # one worker, in this process
    train(SimpleNamespace(NAME="torch"), tmp_path / "run2", 2, "--epochs", "1", "--data", str(tmp_path / "data"))
    assert_trains_like_one(tmp_path / "run2", history(tmp_path / "run1"), "2 workers reading their rows")

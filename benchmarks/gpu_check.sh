#!/usr/bin/env bash
# The GPU check: for each framework environment present, on its first GPU,
#   1. the parity report (every implementation against the float64 reference),
#   2. the family's tests (tests/test_family.py, test_backends.py, test_device.py: their default
#      device is the GPU when the framework sees one),
#   3. the four-shape bench (h 32 and 256, batch 1024 and 32; scratch, native, d2l).
# Results go to OUT (default benchmarks/results/gpu): parity-<name>.md and .json, tests-<name>.txt,
# bench-<name>/ (results.md, results.json, machine.json), nvidia-smi.txt.
#
#   benchmarks/gpu_check.sh [OUT]
#
# Each framework's Python is $LSTM_MULTI_PYTHON_<NAME> if set, else .tox/<name>/bin/python; it needs
# the framework's CUDA build (the tox environments install CPU builds). Exit 1 when any step failed.
set -u
cd "$(dirname "$0")/.."
out=${1:-benchmarks/results/gpu}
mkdir -p "$out"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || echo "nvidia-smi did not run (see $out/nvidia-smi.txt)"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2
status=0
ran=0
for name in torch tensorflow jax mxnet; do
    var="LSTM_MULTI_PYTHON_$(echo "$name" | tr a-z A-Z)"
    python=${!var:-.tox/$name/bin/python}
    if [ ! -x "$python" ]; then
        echo "$name: no interpreter ($var or .tox/$name): skipped"
        continue
    fi
    device=gpu
    [ "$name" = torch ] && device=cuda
    echo "== $name on $device ($python)"
    # the device first: one clear line when the framework sees no GPU
    if ! "$python" -c "import sys
from lstm_multi import get_backend
try:
    print('$name computes on', get_backend('$name', device='$device').current_device())
except ValueError as err:
    sys.exit(f'$name: {err}')"; then
        status=1
        continue
    fi
    ran=$((ran + 1))
    "$python" -m lstm_multi.cli parity --backends "$name" --device "$device" --json "$out/parity-$name.json" \
        | tee "$out/parity-$name.md" | tail -1
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
    LSTM_MULTI_BACKEND=$name "$python" -m pytest tests/test_family.py tests/test_backends.py tests/test_device.py \
        -q -p no:cacheprovider > "$out/tests-$name.txt" 2>&1 || status=1
    tail -1 "$out/tests-$name.txt"
    "$python" -m lstm_multi.cli bench --backends "$name" --device "$device" --out "$out/bench-$name" \
        > "$out/bench-$name.log" 2>&1 || status=1
    tail -1 "$out/bench-$name.log"
done
[ "$ran" -gt 0 ] || { echo "no framework here computed on a GPU"; status=1; }
exit $status

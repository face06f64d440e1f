"""Generation speed of an exported ONNX model in ONNX Runtime against the package's own backend.

For each hidden size: a one-layer LSTM language model on the Time Machine's 28 characters is
built on ``--backend`` (scratch and concise), saved, exported to ONNX; then both generate greedily,
batch 1, as ``lstm-multi bench`` does: the prefix once, then one call per character, feeding the
state back (in ONNX Runtime through ``initial_H`` / ``initial_C``). One timed run after a warm-up.
Both run on one thread (``OMP_NUM_THREADS=1``, ONNX Runtime's ``intra_op_num_threads=1``): a batch
of one has nothing to split among threads, and one thread each keeps a shared machine's load out.

    python benchmarks/onnx_generate.py --backend torch --hidden 32 256 --tokens 500
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before any framework is imported

import numpy as np  # noqa: E402

from lstm_multi import get_backend, save_checkpoint  # noqa: E402
from lstm_multi.core.data import TimeMachine  # noqa: E402
from lstm_multi.core.lm import build_model  # noqa: E402
from lstm_multi.core.sampling import encode_prefix, predict  # noqa: E402
from lstm_multi.formats import export  # noqa: E402

PREFIX = "time traveller"


def onnx_generate(session, prefix_ids: list[int], num_preds: int) -> list[int]:
    """Greedy generation with an exported LM: the prefix in one call, then one call per token."""
    outputs = list(prefix_ids)
    logits, H, C = session.run(None, {"tokens": np.array(outputs, np.int64)[:, None]})
    for _ in range(num_preds):
        outputs.append(int(np.argmax(logits[-1, 0])))
        feeds = {"tokens": np.array([[outputs[-1]]], np.int64), "initial_H": H, "initial_C": C}
        logits, H, C = session.run(None, feeds)
    return outputs


def main() -> None:
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--tokens", type=int, default=500, help="characters generated per timed run")
    args = parser.parse_args()
    bk = get_backend(args.backend)
    vocab = TimeMachine(batch_size=1, num_steps=1, num_train=1, num_val=0).vocab
    options = ort.SessionOptions()
    options.log_severity_level = 3  # quiet: the optional initial states are overridable initializers
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    print(f"| h | {bk.NAME} scratch tok/s | {bk.NAME} concise tok/s | ONNX Runtime tok/s | ORT / best |")
    print("|---|---|---|---|---|")
    for h in args.hidden:
        rates = {}
        for impl in ("scratch", "concise"):
            model = build_model(bk, impl, len(vocab), h, lr=1.0, seed=0)
            predict(model, PREFIX, 5, vocab)  # warm up (compile)
            start = time.perf_counter()
            text = predict(model, PREFIX, args.tokens, vocab)
            rates[impl] = args.tokens / (time.perf_counter() - start)
            if impl == "scratch":
                with tempfile.TemporaryDirectory() as tmp:
                    path = save_checkpoint(Path(tmp) / "lm.safetensors", bk.get_params(model), vocab.idx_to_token)
                    session = ort.InferenceSession(str(export(path, "onnx", Path(tmp) / "lm.onnx")), options)
                expected = text
        prefix_ids = encode_prefix(PREFIX, vocab)
        onnx_generate(session, prefix_ids, 5)
        start = time.perf_counter()
        ids = onnx_generate(session, prefix_ids, args.tokens)
        rates["onnx"] = args.tokens / (time.perf_counter() - start)
        same = "".join(vocab.idx_to_token[i] for i in ids) == expected
        best = max(rates["scratch"], rates["concise"])
        print(
            f"| {h} | {rates['scratch']:,.0f} | {rates['concise']:,.0f} | {rates['onnx']:,.0f} | "
            f"{rates['onnx'] / best:.2f} |" + ("" if same else " (greedy text differs)")
        )


if __name__ == "__main__":
    main()

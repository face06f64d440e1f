"""LSTMs on TensorFlow: the from-scratch cell and ``keras.layers.LSTM``.

Both take time-major ``X (num_steps, batch_size, num_inputs)`` and an optional
state ``(H, C)``, each ``(batch_size, num_hiddens)``, and return
``outputs (num_steps, batch_size, num_hiddens)`` and the final ``(H, C)``.

Calling an LSTM checks the shapes first (clear errors, eagerly) and then runs
``forward``; the compiled training step calls ``forward`` directly, on batches
already checked in NumPy (inside a trace the batch size is not known).
"""

from __future__ import annotations

from ...core.checks import check_model_sizes, check_sequence, check_state
from ...core.params import FusedGates, GATES, fuse_gates, init_params
from ._imports import keras, tf

SEQUENCE = tf.TensorSpec([None, None, None], tf.float32)
STATE = tf.TensorSpec([None, None], tf.float32)


def _check(lstm, inputs, H_C):
    check_sequence(inputs.shape, lstm.num_inputs)
    if H_C is not None:
        check_state(H_C, inputs.shape[1], lstm.num_hiddens)


def _state(lstm, inputs, H_C):
    """``(H, C)``, zeros when not given."""
    if H_C is None:
        return (tf.zeros((tf.shape(inputs)[1], lstm.num_hiddens)),) * 2
    return H_C


class LSTMScratch(FusedGates, tf.Module):
    """d2l's LSTM from scratch, with the four gates fused: one matmul each for X_t and H.

    For each step t (``*`` is element-wise)::

        I, F, O = sigmoid(X_t W_xi + H W_hi + b_i), sigmoid(... f ...), sigmoid(... o ...)
        C_tilde = tanh(X_t W_xc + H W_hc + b_c)
        C = F * C + I * C_tilde
        H = O * tanh(C)

    The gates' weights are ``tf.Variable`` side by side, in d2l's order i, f, o, c:
    ``W_x (num_inputs, 4h)``, ``W_h (h, 4h)``, ``b (4h,)``. The loop is an autograph
    ``for`` over ``tf.range`` inside a ``tf.function``: one ``While`` op for all steps,
    traced once (its input_signature leaves the sizes open), not one eager op per step.
    Its inputs and outputs go through ``TensorArray`` (what ``keras.layers.LSTM`` does
    too), and only H is stacked. Initialisation is d2l's (N(0, sigma^2) weights, zero
    biases) drawn by NumPy from ``seed``, so every backend starts from the same model.

    The input half ``X_t W_x + b`` does not depend on H, so it can be computed for all
    steps before the loop, one large matmul (``hoist_input=True``; torch and MXNet always
    do). In a TensorFlow graph on CPU the gradient of the hoisted ``(T, B, 4h)`` tensor
    through the loop costs more than the small matmul in the step. Measured for the LM's
    training step (2 cores, batch 1024, 32 steps), hoisted vs in the step: 49 vs 38 ms at
    h 32, 0.43 vs 0.36 s at h 256. So by default it stays in the step, as in Keras'
    ``LSTMCell``.
    """

    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01, seed: int = 0,
                 hoist_input: bool = False):
        super().__init__()
        check_model_sizes(num_inputs, num_hiddens)
        self.num_inputs, self.num_hiddens, self.sigma = num_inputs, num_hiddens, sigma
        self.hoist_input = hoist_input
        params = init_params(num_inputs, num_hiddens, sigma=sigma, seed=seed)
        W_x, W_h, b = fuse_gates(params, GATES)
        self.W_x = tf.Variable(W_x, name="W_x")
        self.W_h = tf.Variable(W_h, name="W_h")
        self.b = tf.Variable(b, name="b")

    def __call__(self, inputs, H_C=None):
        _check(self, inputs, H_C)
        return self.forward(inputs, H_C)

    def forward(self, inputs, H_C=None):
        outputs, H, C = self.recurrence(inputs, *_state(self, inputs, H_C))
        return outputs, (H, C)

    @tf.function(input_signature=[SEQUENCE, STATE, STATE])
    def recurrence(self, inputs, H, C):
        """All steps: ``inputs (T, B, d)`` -> outputs ``(T, B, h)`` and the final H and C."""
        num_steps = tf.shape(inputs)[0]
        if self.hoist_input:  # a Python bool: fixed when traced
            inputs = tf.einsum("tbd,dg->tbg", inputs, self.W_x) + self.b  # (T, B, 4h)
            input_half = lambda XW_t: XW_t
        else:
            input_half = lambda X_t: X_t @ self.W_x + self.b
        xs = tf.TensorArray(tf.float32, size=num_steps).unstack(inputs)
        outputs = tf.TensorArray(tf.float32, size=num_steps)
        for t in tf.range(num_steps):  # autograph: one tf.while_loop
            I, F, O, C_tilde = tf.split(input_half(xs.read(t)) + H @ self.W_h, 4, axis=-1)
            I, F, O, C_tilde = tf.sigmoid(I), tf.sigmoid(F), tf.sigmoid(O), tf.tanh(C_tilde)
            C = F * C + I * C_tilde
            H = O * tf.tanh(C)
            outputs = outputs.write(t, H)
        return outputs.stack(), H, C

    def named_variables(self):
        return {"W_x": self.W_x, "W_h": self.W_h, "b": self.b}


class LSTM(FusedGates, tf.Module):
    """The concise LSTM: ``keras.layers.LSTM`` (Keras 3 on TensorFlow; cuDNN on a GPU).

    Keras' ``LSTMCell`` (keras/src/layers/rnn/lstm.py) holds ``kernel (num_inputs, 4h)``,
    ``recurrent_kernel (h, 4h)`` and one ``bias (4h,)``, the gates side by side as
    columns in the order i, f, c, o (``c`` is d2l's C_tilde): its step is
    ``z = x @ kernel + h @ recurrent_kernel + bias``, ``z0, z1, z2, z3 = split(z, 4)``,
    ``i = sigmoid(z0)``, ``f = sigmoid(z1)``, ``c = f * c + i * tanh(z2)``,
    ``o = sigmoid(z3)``, ``h = o * tanh(c)``. So its parameters are exactly the
    canonical ones, fused. Its state is the list ``[h, c]``.

    Keras is batch-major (Keras 3 has no ``time_major``), so the inputs and outputs
    are transposed; the layer runs inside a ``tf.function`` traced once, like the
    scratch cell's loop. Initialisation is Keras' own (Glorot-uniform kernel, orthogonal
    recurrent kernel, zero bias but 1 for the forget gate: ``unit_forget_bias``, which
    only acts when the layer is built, here in ``__init__``, never on loaded
    parameters), drawn from ``keras.random.SeedGenerator(seed)``.
    """

    NATIVE = ("rnn.kernel", "rnn.recurrent_kernel", "rnn.bias")
    GATE_ORDER = "ifco"

    def __init__(self, num_inputs: int, num_hiddens: int, seed: int = 0):
        super().__init__()
        check_model_sizes(num_inputs, num_hiddens)
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
        seeds = keras.random.SeedGenerator(seed)
        self.rnn = keras.layers.LSTM(
            num_hiddens, return_sequences=True, return_state=True,
            kernel_initializer=keras.initializers.GlorotUniform(seeds),
            recurrent_initializer=keras.initializers.Orthogonal(seed=seeds))
        self.rnn.build((None, None, num_inputs))  # create the weights now: (batch, time, inputs)

    def __call__(self, inputs, H_C=None):
        _check(self, inputs, H_C)
        return self.forward(inputs, H_C)

    def forward(self, inputs, H_C=None):
        return self.recurrence(inputs, *_state(self, inputs, H_C))

    @tf.function(input_signature=[SEQUENCE, STATE, STATE])
    def recurrence(self, inputs, H, C):
        """The Keras layer as one graph, traced once (eager, Keras would loop in Python)."""
        outputs, H, C = self.rnn(tf.transpose(inputs, (1, 0, 2)), initial_state=[H, C])
        return tf.transpose(outputs, (1, 0, 2)), (H, C)

    def named_variables(self):
        cell = self.rnn.cell
        return {"rnn.kernel": cell.kernel, "rnn.recurrent_kernel": cell.recurrent_kernel,
                "rnn.bias": cell.bias}

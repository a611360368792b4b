"""Prints the expected predictions embedded in cpp/tests/test_model_api.cpp ("predict equals
Python"): small models with every builder layer, weights and inputs set by formulas both sides
compute, run by ember's Python package. Re-run it and paste its output when a layer's
semantics change on purpose.

    python make_unit_reference.py
"""
import numpy as np

import ember
from ember import layers


def fill(weights):
    """Weight k, element j: 0.5 sin(1.3 j + 0.7 k) (moving variances: 1 + that)."""
    out = []
    for k, v in enumerate(weights):
        j = np.arange(int(np.prod(v.shape)), dtype=np.float64)
        value = 0.5 * np.sin(1.3 * j + 0.7 * k)
        if v.path.endswith("moving_variance"):
            value = value + 1.0
        out.append(value.reshape(v.shape).astype("float32"))
    return out


def inputs(shape, phase=0.0):
    j = np.arange(int(np.prod(shape)), dtype=np.float64)
    return np.cos(0.9 * j + phase).reshape(shape).astype("float32")


def dense_bn():
    x = ember.Input((5,))
    y = layers.Dense(4, activation="relu")(x)
    y = layers.BatchNormalization()(y)
    return ember.Model(x, layers.Dense(3, activation="softmax")(y)), [inputs((2, 5))]


def conv():
    x = ember.Input((6, 6, 2))
    y = layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    y = layers.MaxPooling2D()(y)
    y = layers.AveragePooling2D(pool_size=(2, 2), strides=(1, 1))(y)
    y = layers.Flatten()(y)
    return ember.Model(x, layers.Dense(2)(y)), [inputs((2, 6, 6, 2))]


def rnn():
    x = ember.Input((4, 3))
    y = layers.LSTM(3, return_sequences=True)(x)
    y = layers.GRU(2)(y)
    return ember.Model(x, layers.Dense(1, activation="sigmoid")(y)), [inputs((2, 4, 3))]


def embed():
    x = ember.Input((5,), dtype="int32")
    y = layers.Embedding(10, 4, mask_zero=True)(x)
    y = layers.LSTM(3)(y)
    ids = np.array([[3, 1, 4, 0, 0], [5, 9, 2, 6, 5]], dtype="int32")
    return ember.Model(x, y), [ids]


def attention():
    x = ember.Input((3, 4))
    y = layers.MultiHeadAttention(num_heads=2, key_dim=2)(x, x)
    y = layers.LayerNormalization()(y)
    return ember.Model(x, layers.GlobalAveragePooling1D()(y)), [inputs((2, 3, 4))]


def merge():
    a, b = ember.Input((3,)), ember.Input((3,))
    s = layers.Add()([a, b])
    c = layers.Concatenate()([s, layers.Activation("gelu")(b)])
    return ember.Model([a, b], layers.Dense(2, activation="elu")(c)), [
        inputs((2, 3)), inputs((2, 3), 1.0)]


for name, make in [("dense_bn", dense_bn), ("conv", conv), ("rnn", rnn), ("embed", embed),
                   ("attention", attention), ("merge", merge)]:
    model, xs = make()
    model.set_weights(fill(model.weights))
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    values = ", ".join(f"{v:.8g}" for v in out.reshape(-1))
    print(f"// {name}: shape {out.shape}\n{{{values}}}")

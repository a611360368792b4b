"""Fixture of the C++/Python interop tests: trains small models in Python, saves them with
model.save, and writes what Python computes with them, for the C++ side to reproduce.

    python make_reference.py OUT_DIR [MNIST_DIR]

For each model NAME it writes OUT_DIR/NAME.ember and OUT_DIR/NAME.ref.safetensors holding the
inputs (x0, x1, ...), labels (y0, ...), Python's predictions (pred0, ...), and, after loading the
file again and training one more epoch in Python (shuffle=False), the weights (trained/<name>);
metadata: "evaluate" (the loaded model's evaluate), "fit_loss" (that epoch's loss),
"batch_size". With MNIST_DIR it also trains the MNIST classifier the C++ example loads
(mnist_model.ember, mnist_expected.json). Exits 77 (skipped) when ember cannot be imported.
"""
import json
import os
import sys

try:
    import numpy as np
    import ember
    from ember import layers
    from ember.saving import file_format
except ImportError as e:  # no Python package here: the tests that need it are skipped
    print(f"skipping: cannot import ember ({e})")
    sys.exit(77)


def rng(seed):
    return np.random.default_rng(seed)


def data_mlp():
    g = rng(1)
    return [g.normal(size=(40, 8)).astype("float32")], [g.integers(0, 4, 40).astype("int32")]


def model_mlp():
    m = ember.Sequential([ember.Input((8,)),
                          layers.Dense(16, activation="relu", kernel_regularizer="l2"),
                          layers.Dropout(0.3), layers.BatchNormalization(),
                          layers.Dense(4, activation="softmax")], name="mlp")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def data_cnn():
    g = rng(2)
    y = np.eye(5, dtype="float32")[g.integers(0, 5, 24)]
    return [g.normal(size=(24, 10, 10, 2)).astype("float32")], [y]


def model_cnn():
    m = ember.Sequential([
        ember.Input((10, 10, 2)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(3, (2, 2), strides=(2, 2), activation="gelu"),
        layers.AveragePooling2D(pool_size=(1, 1)),
        layers.Flatten(),
        layers.Dense(5, activation="softmax")], name="cnn")
    m.compile(optimizer=ember.optimizers.SGD(0.05, momentum=0.9),
              loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def data_rnn():
    g = rng(3)
    ids = g.integers(1, 20, size=(30, 6)).astype("int32")
    lengths = g.integers(2, 7, size=30)
    for i, n in enumerate(lengths):
        ids[i, n:] = 0  # padding, masked by Embedding(mask_zero=True)
    return [ids], [g.integers(0, 3, 30).astype("int32")]


def model_rnn():
    inp = ember.Input((6,), dtype="int32")
    x = layers.Embedding(20, 8, mask_zero=True)(inp)
    x = layers.LSTM(5, return_sequences=True, dropout=0.2,
                    recurrent_regularizer=ember.regularizers.L1L2(1e-3, 1e-2))(x)
    x = layers.GRU(4)(x)
    out = layers.Dense(3, activation="softmax")(x)
    m = ember.Model(inp, out, name="rnn")
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def data_attention():
    g = rng(4)
    return [g.normal(size=(20, 5, 8)).astype("float32")], [
        g.integers(0, 2, size=(20, 1)).astype("float32")]


def model_attention():
    inp = ember.Input((5, 8))
    a = layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1)(inp, inp)
    x = layers.Add()([inp, a])
    x = layers.LayerNormalization()(x)
    c = layers.MultiHeadAttention(num_heads=1, key_dim=3)(x, x, use_causal_mask=True)
    x = layers.GlobalAveragePooling1D()(c)
    out = layers.Dense(1, activation="sigmoid", bias_regularizer=ember.regularizers.L1(0.1))(x)
    m = ember.Model(inp, out, name="attention")
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return m


def data_multi():
    g = rng(5)
    return ([g.normal(size=(32, 4)).astype("float32"), g.normal(size=(32, 3)).astype("float32")],
            [g.normal(size=(32, 2)).astype("float32")])


def model_multi():
    a, b = ember.Input((4,), name="a"), ember.Input((3,), name="b")
    h = layers.Concatenate()([layers.Dense(5, activation="tanh")(a), b])
    h = layers.Activation("softplus")(h)
    out = layers.Dense(2)(layers.Reshape((8,))(h))
    m = ember.Model([a, b], out, name="multi")
    m.compile(optimizer=ember.optimizers.Adagrad(0.1), loss="mse", metrics=["mae"])
    return m


def data_conv1d():
    g = rng(6)
    return [g.normal(size=(16, 12, 3)).astype("float32")], [g.normal(size=(16, 1)).astype("float32")]


def model_conv1d():
    m = ember.Sequential([
        ember.Input((12, 3)),
        layers.Conv1D(4, 3, activation="tanh", padding="causal"),
        layers.MaxPooling1D(2),
        layers.Conv1D(2, 2, dilation_rate=2),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1)], name="conv1d")
    m.compile(optimizer=ember.optimizers.AdamW(0.01), loss="mae")
    return m


MODELS = {"mlp": (model_mlp, data_mlp, 8), "cnn": (model_cnn, data_cnn, 8),
          "rnn": (model_rnn, data_rnn, 7), "attention": (model_attention, data_attention, 6),
          "multi": (model_multi, data_multi, 10), "conv1d": (model_conv1d, data_conv1d, 5)}


def as_list(v):
    return v if isinstance(v, list) else [v]


def write_reference(out_dir, name):
    make, data, batch = MODELS[name]
    xs, ys = data()
    model = make()
    x_arg = xs if len(xs) > 1 else xs[0]
    model.fit(x_arg, ys[0], epochs=2, batch_size=batch, verbose=0)
    path = os.path.join(out_dir, f"{name}.ember")
    model.save(path)
    # What Python makes of the file: load it, predict and evaluate; load it again and train
    # on. (Separate loads: Python's Executable keys train and test programs alike, so a fit
    # after an evaluate would reuse the test program and not resume the saved dropout stream.)
    loaded = ember.models.load_model(path)
    preds = as_list(loaded.predict(x_arg, batch_size=batch, verbose=0))
    evaluation = loaded.evaluate(x_arg, ys[0], batch_size=batch, verbose=0, return_dict=True)
    loaded = ember.models.load_model(path)
    history = loaded.fit(x_arg, ys[0], epochs=1, batch_size=batch, shuffle=False, verbose=0)
    tensors = {}
    for i, x in enumerate(xs):
        tensors[f"x{i}"] = x
    for i, y in enumerate(ys):
        tensors[f"y{i}"] = y
    for i, p in enumerate(preds):
        tensors[f"pred{i}"] = p
    for v in loaded.weights:
        tensors[f"trained/{v.path}"] = v.numpy()
    metadata = {"evaluate": json.dumps({k: float(v) for k, v in evaluation.items()}),
                "fit_loss": json.dumps(float(history.history["loss"][-1])),
                "batch_size": str(batch)}
    file_format.write_file(os.path.join(out_dir, f"{name}.ref.safetensors"), tensors, metadata)
    print(f"{name}: saved, evaluate {evaluation}")


def write_mnist(out_dir, mnist_dir):
    (x_train, y_train), (x_test, y_test) = ember.datasets.mnist.load_data(data_dir=mnist_dir)
    x_train = (x_train[:12000].astype("float32") / 255.0)[..., None]
    x_test = (x_test.astype("float32") / 255.0)[..., None]
    model = ember.Sequential([
        ember.Input((28, 28, 1)),
        layers.Conv2D(16, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax")], name="mnist_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train[:12000], epochs=1, batch_size=64, verbose=0)
    path = os.path.join(out_dir, "mnist_model.ember")
    model.save(path)
    loaded = ember.models.load_model(path)
    result = loaded.evaluate(x_test, y_test, verbose=0, return_dict=True)
    with open(os.path.join(out_dir, "mnist_expected.json"), "w") as f:
        json.dump({"accuracy": float(result["accuracy"]), "loss": float(result["loss"])}, f)
    print(f"mnist: test accuracy {result['accuracy']:.4f}")


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    ember.utils.set_random_seed(1234)
    for name in MODELS:
        write_reference(out_dir, name)
    mnist_dir = sys.argv[2] if len(sys.argv) > 2 else None
    if mnist_dir and os.path.exists(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz")):
        write_mnist(out_dir, mnist_dir)
    else:
        print(f"no MNIST data at {mnist_dir}: the MNIST example test will be skipped")
    with open(os.path.join(out_dir, "models.json"), "w") as f:
        json.dump(sorted(MODELS), f)


if __name__ == "__main__":
    main()

"""A small Transformer encoder that classifies MNIST digits read as sequences of 28 rows.

Each image is 28 tokens (its rows) of 28 pixels: Dense projection to d_model, plus a learned
position embedding, then Transformer encoder blocks (MultiHeadAttention + residual +
LayerNormalization, feed-forward + residual + LayerNormalization), GlobalAveragePooling1D over
the rows and a softmax over the ten digits. Adam, sparse categorical cross-entropy.

Run: python examples/mnist_transformer.py [--data DATA_DIR] [--epochs N]
DATA_DIR holds the four MNIST IDX files; it defaults to the EMBER_MNIST_DIR setting (and
without either, ember downloads MNIST to ~/.ember/datasets/mnist).
"""
import argparse
import time

import ember
from ember import layers
from ember.datasets import mnist

ROWS, PIXELS, CLASSES = 28, 28, 10
# Settings of the run (tests/test_mnist_transformer.py trains with the same): chosen for the
# shortest training that still clears 97% with a margin on 2 cores.
EPOCHS, BATCH_SIZE, TRAIN_SAMPLES = 3, 64, 60000
STEPS_PER_EPOCH = -(-TRAIN_SAMPLES // BATCH_SIZE)


class PositionEmbedding(layers.Layer):
    """Adds a learned vector per position to (batch, sequence_length, output_dim) tokens.

    This is Embedding(sequence_length, output_dim) looked up at positions 0 .. length-1 (Keras's
    PositionEmbedding in keras_hub does the same): with every position present in every
    sequence, the lookup is the whole table, so it is added as is, broadcast over the batch.
    """

    def __init__(self, sequence_length, output_dim, initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.output_dim = output_dim
        self.initializer = initializer

    def build(self, input_shape):
        if tuple(input_shape[1:]) != (self.sequence_length, self.output_dim):
            raise ValueError(f"PositionEmbedding '{self.name}': expected inputs of shape "
                             f"(batch, {self.sequence_length}, {self.output_dim}), received "
                             f"{tuple(input_shape)}")
        # Named and initialised as Embedding's table (Keras's default "uniform": +-0.05).
        self.embeddings = self.add_weight(shape=(self.sequence_length, self.output_dim),
                                          initializer=self.initializer, name="embeddings")
        self.built = True

    def call(self, inputs):
        return ember.ops.add(inputs, self.embeddings)

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length, "output_dim": self.output_dim,
                       "initializer": self.initializer})
        return config


def encoder_block(x, d_model, num_heads, ff_dim):
    """Post-norm Transformer encoder block (as "Attention is all you need")."""
    attended = layers.MultiHeadAttention(num_heads, key_dim=d_model // num_heads)(x, x)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attended]))
    hidden = layers.Dense(ff_dim, activation="relu")(x)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, layers.Dense(d_model)(hidden)]))
    return x


def build_model(d_model=64, num_heads=4, ff_dim=128, num_blocks=2, learning_rate=None):
    """The compiled classifier: (batch, 28, 28) floats in [0, 1] -> ten class probabilities.

    The default learning rate starts at 2e-3 and halves every epoch (of STEPS_PER_EPOCH steps):
    a short run needs the large steps early and the small ones to settle at the end.
    """
    if learning_rate is None:
        learning_rate = ember.optimizers.schedules.ExponentialDecay(
            2e-3, decay_steps=STEPS_PER_EPOCH, decay_rate=0.5)
    inputs = ember.Input(shape=(ROWS, PIXELS))
    x = layers.Dense(d_model)(inputs)
    x = PositionEmbedding(ROWS, d_model)(x)
    for _ in range(num_blocks):
        x = encoder_block(x, d_model, num_heads, ff_dim)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(CLASSES, activation="softmax")(x)
    model = ember.Model(inputs, outputs, name="mnist_transformer")
    model.compile(optimizer=ember.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load(data_dir=None):
    """MNIST images as (n, 28 rows, 28 pixels) float32 in [0, 1], labels as integers."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir=data_dir)
    x_train = x_train.reshape(-1, ROWS, PIXELS).astype("float32") / 255
    x_test = x_test.reshape(-1, ROWS, PIXELS).astype("float32") / 255
    return (x_train, y_train), (x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
                        help="directory of the MNIST IDX files (default: $EMBER_MNIST_DIR)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    ember.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load(args.data)
    model = build_model()
    model.summary()
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=BATCH_SIZE, verbose=2)
    trained = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"training time: {trained:.1f} s ({args.epochs} epochs)")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()

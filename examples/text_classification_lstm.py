"""The seed text classifier (Keras's IMDB LSTM example) with only the imports changed, trained on
a generated task that needs word order: label 1 when token A appears before token B.

Every sequence holds both A and B once among random words, so a bag of words carries no signal;
the LSTM must remember which came first. No text data set can be downloaded here, so the data is
generated (deterministically, from a seed).

Run: python examples/text_classification_lstm.py [--quick]
"""
import sys

import numpy as np

import ember
from ember import layers
from ember.utils import pad_sequences

TOKEN_A, TOKEN_B = 1, 2  # 0 is padding; ordinary words are 3 .. max_features - 1


def make_order_task(n_train=20000, n_test=5000, maxlen=80, max_features=20000, seed=0,
                    min_len=10):
    """((x_train, y_train), (x_test, y_test)): int32 token sequences padded to `maxlen` (pre,
    as Keras's example), labels 1 where A precedes B."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for _ in range(n_train + n_test):
        length = int(rng.integers(min_len, maxlen + 1))
        words = rng.integers(3, max_features, size=length)
        i, j = rng.choice(length, size=2, replace=False)
        words[i], words[j] = TOKEN_A, TOKEN_B
        sequences.append(words)
        labels.append(1 if i < j else 0)
    x = pad_sequences(sequences, maxlen=maxlen)
    y = np.array(labels, dtype="int32")
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def main(quick=False):
    max_features, maxlen, batch_size = 20000, 80, 32
    n_train, epochs = (4000, 3) if quick else (20000, 3)
    ember.utils.set_random_seed(1)
    (x_train, y_train), (x_test, y_test) = make_order_task(n_train, 2000, maxlen, max_features)
    print(len(x_train), "train sequences,", len(x_test), "test sequences")

    model = ember.Sequential([
        layers.Embedding(max_features, 128),
        layers.LSTM(128),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
              validation_data=(x_test, y_test), verbose=2)
    score, acc = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    print(f"test score: {score:.4f}")
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

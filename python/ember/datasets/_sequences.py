"""What IMDB and Reuters share: argument checks and Keras's word-index transformations of the
sequences (shuffle, start character and offset, the length cut, the vocabulary cut), written
to give exactly what `keras.datasets.imdb` / `reuters` give for the same file and arguments."""

import numbers

import numpy as np


def check_int(dataset, name, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (
        minimum is not None and value < minimum
    ):
        expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")
        expected += " or None" if allow_none else ""
        raise ValueError(f"{dataset}: expected `{name}` to be {expected}, received {value!r}")


def check_sequence_args(dataset, num_words, skip_top, maxlen, start_char, oov_char, index_from):
    # Keras treats num_words=0 and maxlen=0 as None; so does ember.
    check_int(dataset, "num_words", num_words, 0, allow_none=True)
    check_int(dataset, "skip_top", skip_top, 0)
    check_int(dataset, "maxlen", maxlen, 0, allow_none=True)
    check_int(dataset, "start_char", start_char, allow_none=True)
    check_int(dataset, "oov_char", oov_char, allow_none=True)
    check_int(dataset, "index_from", index_from, 0)


def check_pairs(dataset, path, xs, labels, x_name, y_name):
    if not (isinstance(xs, np.ndarray) and xs.ndim >= 1):
        raise ValueError(f"{dataset}: {path}: `{x_name}` is not an array of sequences")
    if not (isinstance(labels, np.ndarray) and labels.ndim == 1 and len(labels) == len(xs)):
        raise ValueError(
            f"{dataset}: {path}: `{x_name}` holds {len(xs)} sequences but `{y_name}` has shape "
            f"{getattr(labels, 'shape', None)}"
        )


def shuffle(rng, xs, labels):
    """The same permutation of both, drawn from `rng` (a np.random.RandomState, as Keras)."""
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    return xs[indices], labels[indices]


def offset(xs, start_char, index_from):
    """Lists of indices shifted by `index_from`, each after `start_char` when it is not None."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [[w for w in x] for x in xs]


def remove_long(maxlen, xs, labels):
    """Drops the sequences of `maxlen` or more indices (Keras keeps only len < maxlen)."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Replaces (or, with oov_char None, drops) the indices outside [skip_top, num_words).

    As Keras, the bounds apply to the shifted indices, and num_words=None means the largest
    index present, which is itself then out of range.
    """
    if not num_words:
        num_words = max((max(x) for x in xs if len(x)), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(sequences):
    """A 1-D object array of lists (np.array would make a 2-D array of equal-length lists)."""
    out = np.empty(len(sequences), dtype=object)
    for i, sequence in enumerate(sequences):
        out[i] = sequence
    return out

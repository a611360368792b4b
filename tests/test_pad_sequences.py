"""ember.utils.pad_sequences against Keras's documented semantics."""
import os

import numpy as np
import pytest

from ember.utils import pad_sequences

SEQS = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], []]


def test_defaults_pad_and_truncate_at_the_start_to_the_longest():
    out = pad_sequences(SEQS)
    assert out.dtype == np.int32 and out.shape == (4, 5)
    np.testing.assert_array_equal(out, [[0, 0, 1, 2, 3], [0, 0, 0, 4, 5], [6, 7, 8, 9, 10],
                                        [0, 0, 0, 0, 0]])


@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[0, 1, 2, 3], [0, 0, 4, 5], [7, 8, 9, 10], [0, 0, 0, 0]]),
    ("post", "pre", [[1, 2, 3, 0], [4, 5, 0, 0], [7, 8, 9, 10], [0, 0, 0, 0]]),
    ("pre", "post", [[0, 1, 2, 3], [0, 0, 4, 5], [6, 7, 8, 9], [0, 0, 0, 0]]),
    ("post", "post", [[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9], [0, 0, 0, 0]]),
])
def test_maxlen_padding_and_truncating(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=4, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(out, expected)


def test_value_dtype_and_element_shape():
    out = pad_sequences([[0.5, 1.5], [2.5]], value=-1.0, dtype="float32")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.5, 1.5], [-1.0, 2.5]])
    vec = pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float64", padding="post")
    assert vec.shape == (2, 2, 3) and vec[1, 1].sum() == 0 and vec[1, 0].sum() == 3
    assert pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)
    strings = pad_sequences([["a", "b"], ["c"]], dtype=object, value="")
    assert strings.tolist() == [["a", "b"], ["", "c"]]


@pytest.mark.parametrize("kwargs, words", [
    ({"sequences": 5}, ["list of sequences"]),
    ({"sequences": [[1], 3]}, ["non-iterable", "position 1"]),
    ({"sequences": [[1]], "padding": "middle"}, ["padding", "middle"]),
    ({"sequences": [[1]], "truncating": "mid"}, ["truncating", "mid"]),
    ({"sequences": [[1]], "maxlen": -1}, ["maxlen"]),
    ({"sequences": [[1]], "value": "x"}, ["dtype=object"]),
    ({"sequences": [np.ones((2, 3)), np.ones((1, 4))]}, ["position 1", "(3,)"]),
])
def test_bad_input(kwargs, words):
    with pytest.raises(ValueError) as e:
        pad_sequences(**kwargs)
    for w in words:
        assert w in str(e.value)


def test_matches_keras_when_installed():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 9, rng.integers(0, 7))) for _ in range(20)]
    for kw in ({}, {"maxlen": 3}, {"maxlen": 4, "padding": "post", "truncating": "post"}):
        np.testing.assert_array_equal(pad_sequences(seqs, **kw),
                                      keras.utils.pad_sequences(seqs, **kw))

"""The Reuters newswire topic classification data set (11,228 newswires, 46 topics):
`ember.datasets.reuters.load_data()`, `get_word_index()` and `get_label_names()`.

`reuters.npz` comes from Keras's location and is checked against the SHA-256 Keras's source
gives; its ragged sequences are read with a restricted unpickler, never `allow_pickle=True`.
`reuters_word_index.json` is checked against the MD5 Keras's source gives: Keras publishes no
SHA-256 for it, and ember computes none it could not verify.
"""

import numbers

import numpy as np

from ember.datasets import _sequences
from ember.datasets._download import fetch, local_file
from ember.datasets._safe_pickle import load_npz, require_arrays
from ember.datasets.imdb import read_word_index

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_NAME = "reuters.npz"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_NAME = "reuters_word_index.json"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"  # Keras gives only an MD5 for this file

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Loads the Reuters newswire dataset: 11,228 newswires labelled over 46 topics, each a
    list of word indices (indexed by frequency, as IMDB's).

    Args:
        path: Keras's meaning: the file's name in the cache (`<ember home>/datasets`, or
            `$EMBER_DATA_DIR` when it holds it). ember also reads a path to an existing
            local file as it is (not checked against the published hash).
        num_words: keep only the `num_words` most frequent words (as shifted indices below
            `num_words`); the others become `oov_char`. None keeps all.
        skip_top: the indices below `skip_top` become `oov_char`.
        maxlen: drop the newswires of `maxlen` indices or more. None keeps all.
        test_split: the fraction of the (shuffled) newswires that form the test set.
        seed: the seed of the shuffle (np.random.RandomState, as Keras).
        start_char: the index that starts each newswire; None: no start mark.
        oov_char: the index of words cut by `num_words` or `skip_top`; None drops them.
        index_from: the offset added to every word index.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` 1-D object arrays of lists of ints,
        `y_*` int arrays of topics 0..45 (names: `get_label_names()`).

    Raises:
        ValueError: bad arguments; a corrupt or malicious file.
        ember.datasets.DownloadError: the file is neither available locally nor
            downloadable; the message says where to put it.
    """
    _sequences.check_sequence_args(
        "reuters", num_words, skip_top, maxlen, start_char, oov_char, index_from
    )
    if isinstance(test_split, bool) or not isinstance(test_split, numbers.Real) or not (
        0 <= test_split <= 1
    ):
        raise ValueError(
            f"reuters: expected `test_split` to be a number in [0, 1], received {test_split!r}"
        )
    local, cache_name = local_file("reuters", path, FILE_NAME)
    path = local or fetch("reuters", cache_name, BASE_URL + FILE_NAME, SHA256)
    xs, labels = require_arrays(load_npz(path, "reuters"), ("x", "y"), path, "reuters")
    _sequences.check_pairs("reuters", path, xs, labels, "x", "y")

    rng = np.random.RandomState(seed)
    xs, labels = _sequences.shuffle(rng, xs, labels)
    xs = _sequences.offset(xs, start_char, index_from)
    if maxlen:
        xs, labels = _sequences.remove_long(maxlen, xs, labels)
        if not xs:
            raise ValueError(
                f"reuters: after filtering for sequences shorter than maxlen={maxlen}, no "
                "sequence was kept. Increase maxlen."
            )
    xs = _sequences.limit_vocabulary(xs, num_words, skip_top, oov_char)

    idx = int(len(xs) * (1 - test_split))
    return (
        (_sequences.object_array(xs[:idx]), np.array(labels[:idx])),
        (_sequences.object_array(xs[idx:]), np.array(labels[idx:])),
    )


def get_word_index(path="reuters_word_index.json"):
    """The dict mapping each word to its index in the Reuters data (before `index_from`: the
    index of 'the' is 1, which is 1 + 3 = 4 in the sequences with index_from=3).

    Args:
        path: the file's name in the cache (as Keras), or a path to a local copy.
    """
    local, cache_name = local_file("reuters", path, WORD_INDEX_NAME)
    path = local or fetch(
        "reuters", cache_name, BASE_URL + WORD_INDEX_NAME, WORD_INDEX_MD5,
        path_hint="get_word_index(path=...)",
    )
    return read_word_index(path, "reuters")


def get_label_names():
    """The 46 topic names, in the order of the labels (Keras's list)."""
    return _LABEL_NAMES

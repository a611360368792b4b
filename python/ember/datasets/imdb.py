"""The IMDB movie review sentiment data set (Maas et al., 2011):
`ember.datasets.imdb.load_data()` and `get_word_index()`.

`imdb.npz` comes from Keras's location and is checked against the SHA-256 Keras's source gives.
Its reviews are ragged `dtype=object` arrays, stored as pickles inside the .npz; they are read
with a restricted unpickler (`ember.datasets._safe_pickle`), never `allow_pickle=True`, so a
tampered file cannot run code. `imdb_word_index.json` is checked against the MD5 Keras's source
gives: Keras publishes no SHA-256 for it, and ember computes none it could not verify.
"""

import json

import numpy as np

from ember.datasets import _sequences
from ember.datasets._download import fetch, local_file
from ember.datasets._safe_pickle import load_npz, require_arrays

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_NAME = "imdb.npz"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_NAME = "imdb_word_index.json"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"  # Keras gives only an MD5 for this file


def load_data(
    path="imdb.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Loads the IMDB dataset: 25,000 training and 25,000 test reviews labelled by sentiment
    (1 positive, 0 negative), each a list of word indices.

    Words are indexed by their frequency in the data (1 = the most frequent), which makes
    filtering such as "the top 10,000 words, without the top 20" simple. 0 is the padding
    index, not a word.

    Args:
        path: Keras's meaning: the file's name in the cache (`<ember home>/datasets`, or
            `$EMBER_DATA_DIR` when it holds it). ember also reads a path to an existing
            local file as it is (not checked against the published hash).
        num_words: keep only the `num_words` most frequent words (as shifted indices below
            `num_words`); the others become `oov_char`. None keeps all.
        skip_top: the indices below `skip_top` (the most frequent words, shifted) become
            `oov_char`.
        maxlen: drop the reviews of `maxlen` indices or more (counting the start mark).
            None keeps all.
        seed: the seed of the shuffle (np.random.RandomState, as Keras).
        start_char: the index that starts each review; None: no start mark.
        oov_char: the index of words cut by `num_words` or `skip_top`; None drops them.
        index_from: the offset added to every word index.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_*` 1-D object arrays of lists of ints,
        `y_*` int arrays of 0/1.

    Raises:
        ValueError: bad arguments; a corrupt or malicious file; no review shorter than
            `maxlen`.
        ember.datasets.DownloadError: the file is neither available locally nor
            downloadable; the message says where to put it.
    """
    _sequences.check_sequence_args(
        "imdb", num_words, skip_top, maxlen, start_char, oov_char, index_from
    )
    local, cache_name = local_file("imdb", path, FILE_NAME)
    path = local or fetch("imdb", cache_name, BASE_URL + FILE_NAME, SHA256)
    x_train, labels_train, x_test, labels_test = require_arrays(
        load_npz(path, "imdb"), ("x_train", "y_train", "x_test", "y_test"), path, "imdb"
    )
    _sequences.check_pairs("imdb", path, x_train, labels_train, "x_train", "y_train")
    _sequences.check_pairs("imdb", path, x_test, labels_test, "x_test", "y_test")

    # One generator for both shuffles, in this order: Keras's splits, bit for bit.
    rng = np.random.RandomState(seed)
    x_train, labels_train = _sequences.shuffle(rng, x_train, labels_train)
    x_test, labels_test = _sequences.shuffle(rng, x_test, labels_test)

    x_train = _sequences.offset(x_train, start_char, index_from)
    x_test = _sequences.offset(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _sequences.remove_long(maxlen, x_train, labels_train)
        x_test, labels_test = _sequences.remove_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(
                f"imdb: after filtering for sequences shorter than maxlen={maxlen}, no "
                "sequence was kept. Increase maxlen."
            )

    xs = _sequences.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return (
        (_sequences.object_array(xs[:idx]), labels[:idx]),
        (_sequences.object_array(xs[idx:]), labels[idx:]),
    )


def get_word_index(path="imdb_word_index.json"):
    """The dict mapping each word to its index in the IMDB data (before `index_from`).

    Args:
        path: the file's name in the cache (as Keras), or a path to a local copy.

    Returns:
        `{word: index}`; the index 1 is the most frequent word.
    """
    local, cache_name = local_file("imdb", path, WORD_INDEX_NAME)
    path = local or fetch(
        "imdb", cache_name, BASE_URL + WORD_INDEX_NAME, WORD_INDEX_MD5,
        path_hint="get_word_index(path=...)",
    )
    return read_word_index(path, "imdb")


def read_word_index(path, dataset):
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{dataset}: {path} is not a valid JSON word index: {e}") from None
    if not isinstance(index, dict):
        raise ValueError(
            f"{dataset}: {path} holds a JSON {type(index).__name__}, expected an object "
            "mapping words to indices"
        )
    return index

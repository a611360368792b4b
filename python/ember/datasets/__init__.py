"""Data sets with Keras's `load_data` functions (downloaded once into `~/.ember/datasets`, or
`$EMBER_HOME/datasets`; read offline from that cache, from `$EMBER_DATA_DIR` or from a local
file), and the built-in UCI digits."""

from ember.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from ember.datasets._download import DownloadError, get_file

__all__ = [
    "DownloadError", "boston_housing", "california_housing", "cifar10", "cifar100", "digits",
    "fashion_mnist", "get_file", "imdb", "mnist", "reuters",
]

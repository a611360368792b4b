"""Data sets: MNIST (downloaded once, or read from a directory) and the built-in UCI digits."""

from ember.datasets import digits, mnist
from ember.datasets._download import DownloadError, get_file

__all__ = ["DownloadError", "digits", "get_file", "mnist"]

"""Callbacks: hooks into the fit/evaluate/predict loops (Keras 3's `keras.callbacks`)."""

from ember.callbacks.callback import Callback
from ember.callbacks.callback_list import CallbackList
from ember.callbacks.history import History
from ember.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]

"""ember.losses: Keras 3 losses as classes and functions."""
from ember.losses.losses import (
    BinaryCrossentropy, CategoricalCrossentropy, Loss, LossFunctionWrapper, MeanAbsoluteError,
    MeanSquaredError, SparseCategoricalCrossentropy, binary_crossentropy,
    categorical_crossentropy, deserialize, get, mae, mean_absolute_error, mean_squared_error,
    mse, serialize, sparse_categorical_crossentropy,
)

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error", "mse",
    "mean_absolute_error", "mae", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "get", "serialize", "deserialize",
]

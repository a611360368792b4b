"""ember.losses: Keras 3 losses as classes and functions."""
from ember.losses.losses import (
    KLD, MAE, MAPE, MSE, MSLE, BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge,
    CosineSimilarity, Hinge, Huber, KLDivergence, LogCosh, Loss, LossFunctionWrapper,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
    MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy, SquaredHinge,
    binary_crossentropy, categorical_crossentropy, categorical_hinge, cosine_similarity,
    deserialize, get, hinge, huber, kl_divergence, kld, log_cosh, logcosh, mae, mape,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
    mean_squared_logarithmic_error, mse, msle, poisson, serialize,
    sparse_categorical_crossentropy, squared_hinge,
)

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Huber", "LogCosh",
    "KLDivergence", "Poisson", "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge",
    "MeanSquaredLogarithmicError", "MeanAbsolutePercentageError",
    "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "huber", "log_cosh", "logcosh", "kl_divergence", "kld", "KLD", "poisson",
    "cosine_similarity", "hinge", "squared_hinge", "categorical_hinge",
    "mean_squared_logarithmic_error", "msle", "MSLE", "mean_absolute_percentage_error", "mape",
    "MAPE", "get", "serialize", "deserialize",
]

"""ember.models: Model and Sequential."""
from ember.models.model import Model
from ember.models.sequential import Sequential
from ember.saving.model_io import load_model

__all__ = ["Model", "Sequential", "load_model"]

"""ember.models: Model and Sequential."""
from ember.models.cloning import clone_model
from ember.models.model import Model
from ember.models.sequential import Sequential
from ember.saving.model_io import load_model

__all__ = ["Model", "Sequential", "clone_model", "load_model"]

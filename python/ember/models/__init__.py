"""ember.models: Model and Sequential."""
from ember.models.model import Model
from ember.models.sequential import Sequential

__all__ = ["Model", "Sequential"]

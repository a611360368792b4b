"""ember.data: tf.data-style input pipelines in Python and NumPy.

    from ember.data import Dataset, AUTOTUNE
    ds = Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32).prefetch(AUTOTUNE)
"""

from ember.data.constants import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
from ember.data.dataset import Dataset
from ember.data.spec import TensorSpec

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset", "TensorSpec"]

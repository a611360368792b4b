"""InputLayer and Input: the entry points of a functional or Sequential model."""
from ember.backend.symbolic import input_tensor
from ember.layers.layer import Layer, unique_name


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        if sparse:
            raise ValueError(f"InputLayer '{self.name}': sparse inputs are not supported")
        if input_tensor is not None:
            self.output = input_tensor
            self.batch_shape = tuple(input_tensor.shape)
        else:
            if batch_shape is None:
                if shape is None:
                    raise ValueError(
                        f"InputLayer '{self.name}': expected `shape` or `batch_shape`, received "
                        "neither"
                    )
                shape = (shape,) if isinstance(shape, int) else tuple(shape)
                batch_shape = (batch_size,) + shape
            self.batch_shape = tuple(batch_shape)
            for d in self.batch_shape[1:]:
                if d is not None and (not isinstance(d, int) or d < 0):
                    raise ValueError(
                        f"InputLayer '{self.name}': expected positive dimensions, received "
                        f"shape {self.batch_shape}"
                    )
            self.output = input_tensor_for(self)
        self.output._layer = self
        self.built = True

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": False,
                "name": self.name}


def input_tensor_for(layer):
    return input_tensor(layer.batch_shape, layer.dtype, name=layer.name)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic model input (Keras's `keras.Input`)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, input_tensor=tensor, name=name)
    return layer.output

"""ember.layers: Keras 3 layers."""
from ember.layers.activation import Activation
from ember.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose
from ember.layers.convolutional import Conv1D, Conv2D, Conv3D
from ember.layers.dense import Dense
from ember.layers.depthwise import (
    DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
)
from ember.layers.dropout import Dropout
from ember.layers.input_layer import Input, InputLayer
from ember.layers.layer import Layer
from ember.layers.reshaping import Flatten, Reshape
from ember.saving import deserialize_object, serialize_object

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer", "Reshape"]


# The classes `deserialize` knows without custom_objects: every exported class (not `Input`,
# a function).
_CLASSES = {name: globals()[name] for name in __all__ if isinstance(globals()[name], type)}


def serialize(layer):
    return serialize_object(layer, "ember.layers", _CLASSES)


def deserialize(config, custom_objects=None):
    return deserialize_object(config, _CLASSES, "layer", custom_objects)

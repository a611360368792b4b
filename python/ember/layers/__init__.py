"""ember.layers: Keras 3 layers."""
from ember.layers.activation import Activation
from ember.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from ember.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from ember.layers.augmentation import (
    RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
)
from ember.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose
from ember.layers.convolutional import Conv1D, Conv2D, Conv3D
from ember.layers.core_utils import (
    ActivityRegularization, Identity, Lambda, Permute, RepeatVector, Rescaling,
)
from ember.layers.dense import Dense
from ember.layers.depthwise import (
    DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
)
from ember.layers.dropout import Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from ember.layers.embedding import Embedding, Masking
from ember.layers.input_layer import Input, InputLayer
from ember.layers.layer import Layer
from ember.layers.layer_normalization import LayerNormalization, UnitNormalization
from ember.layers.merging import (
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
    concatenate, dot, maximum, minimum, multiply, subtract,
)
from ember.layers.noise import AlphaDropout, GaussianDropout, GaussianNoise
from ember.layers.normalization import BatchNormalization, GroupNormalization
from ember.layers.pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D,
)
from ember.layers.preprocessing import (
    CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup, Normalization,
    Resizing, StringLookup, TextVectorization,
)
from ember.layers.recurrent import GRU, LSTM, SimpleRNN
from ember.layers.resampling import (
    Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D,
    ZeroPadding1D, ZeroPadding2D, ZeroPadding3D,
)
from ember.layers.reshaping import Flatten, Reshape
from ember.layers.wrappers import Bidirectional, TimeDistributed
from ember.saving import deserialize_object, serialize_object

__all__ = [
    "Activation", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "BatchNormalization", "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "Dense", "DepthwiseConv1D", "DepthwiseConv2D",
    "Dropout", "Flatten", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GroupNormalization", "Input", "InputLayer", "Layer", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "Reshape", "SeparableConv1D", "SeparableConv2D", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
]
# Merge, activation and utility layers, and the merges' functional forms (add, concatenate, ...).
__all__ += [
    "ActivityRegularization", "Add", "Average", "Concatenate", "Dot", "ELU", "Identity",
    "Lambda", "LeakyReLU", "Maximum", "Minimum", "Multiply", "PReLU", "Permute", "ReLU",
    "RepeatVector", "Rescaling", "Softmax", "Subtract", "add", "average", "concatenate", "dot",
    "maximum", "minimum", "multiply", "subtract",
]
# Attention and the normalizations Transformers use.
__all__ += ["AdditiveAttention", "Attention", "LayerNormalization", "MultiHeadAttention",
            "UnitNormalization"]
# Regularisation noise.
__all__ += ["AlphaDropout", "GaussianDropout", "GaussianNoise"]
# Preprocessing layers (the string and vocabulary ones run eagerly on NumPy).
__all__ += ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup",
            "Normalization", "Resizing", "StringLookup", "TextVectorization"]
# Image augmentation (active in training only).
__all__ += ["RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
            "RandomZoom"]
# Recurrent layers and what feeds them.
__all__ += ["Bidirectional", "Embedding", "GRU", "LSTM", "Masking", "SimpleRNN",
            "TimeDistributed"]


# The classes `deserialize` knows without custom_objects: every exported class (not `Input`,
# a function).
_CLASSES = {name: globals()[name] for name in __all__ if isinstance(globals()[name], type)}


def serialize(layer):
    return serialize_object(layer, "ember.layers", _CLASSES)


def deserialize(config, custom_objects=None):
    return deserialize_object(config, _CLASSES, "layer", custom_objects)

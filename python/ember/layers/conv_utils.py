"""Argument handling shared by the convolution, pooling and resampling layers."""
from ember import ops


def normalize_tuple(value, n, name, layer, allow_zero=False):
    """An int or a sequence of n ints as a tuple of n ints (Keras's standardize_tuple)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * n
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{layer}: `{name}` must be an int or a tuple of {n} ints, received {value!r}"
        ) from None
    if len(value) != n:
        raise ValueError(f"{layer}: `{name}` must have {n} values, received {value!r}")
    low = 0 if allow_zero else 1
    if any(v < low for v in value):
        raise ValueError(
            f"{layer}: `{name}` values must be {'>= 0' if allow_zero else '> 0'}, "
            f"received {value!r}"
        )
    return value


def normalize_padding(padding, layer, allowed=("valid", "same")):
    p = str(padding).lower()
    if p not in allowed:
        raise ValueError(f"{layer}: `padding` must be one of {allowed}, received {padding!r}")
    return p


def normalize_data_format(data_format, layer):
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{layer}: `data_format` must be 'channels_last' or 'channels_first', received "
            f"{data_format!r}"
        )
    return fmt


def to_channels_last(x, data_format):
    if data_format == "channels_first":
        return ops.transpose(x, [0] + list(range(2, len(x.shape))) + [1])
    return x


def from_channels_last(x, data_format):
    if data_format == "channels_first":
        rank = len(x.shape)
        return ops.transpose(x, [0, rank - 1] + list(range(1, rank - 1)))
    return x


def channel_axis(data_format):
    return -1 if data_format == "channels_last" else 1


def check_rank(layer, input_shape, rank):
    if len(input_shape) != rank + 2:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': expected an input of rank {rank + 2} "
            f"(batch, {rank} spatial dims, channels), received shape {tuple(input_shape)}"
        )


def check_channels(layer, input_shape, axis, channels):
    """On every call, as Keras's InputSpec: the built weights fix the channel count. Checked
    here so the message shows the caller's shape (ops see channels_first inputs transposed)."""
    if input_shape[axis] is not None and input_shape[axis] != channels:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': expected an input with {channels} channels "
            f"on axis {axis} (the layer's weights were built for them), received shape "
            f"{tuple(input_shape)}"
        )


def set_window_args(layer, who, kernel_size, strides, dilation_rate, padding, data_format):
    """Parses the arguments every convolution layer shares onto the layer (Keras rules)."""
    rank = layer.rank
    layer.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", who)
    layer.strides = normalize_tuple(strides, rank, "strides", who)
    layer.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", who)
    allowed = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
    layer.padding = normalize_padding(padding, who, allowed)
    layer.data_format = normalize_data_format(data_format, who)


def known_channels(layer, input_shape):
    """The input's channel count, which a convolution's weights need at build time."""
    check_rank(layer, input_shape, layer.rank)
    channels = input_shape[channel_axis(layer.data_format)]
    if channels is None:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': the channel dimension of the input must "
            f"be known, received shape {tuple(input_shape)}"
        )
    return channels

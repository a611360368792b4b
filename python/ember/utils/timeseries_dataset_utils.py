"""`timeseries_dataset_from_array`: a Dataset of sliding windows over an array.

Only the window start positions are made up front; each batch of windows is gathered from the
array when it is produced, so the windows (sequence_length times the data) never all exist.
"""

import numpy as np

from ember.data import AUTOTUNE, Dataset
from ember.utils.dataset_utils import check_batch_size, draw_seed

_WHO = "timeseries_dataset_from_array"


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Creates a dataset of sliding windows over a timeseries (Keras's function, with ember's
    Dataset).

    Window j starts at data index `start_index + p_j` with p_j = j * sequence_stride and holds
    `data[start_index + p_j + k * sampling_rate]` for k < sequence_length; its target is
    `targets[start_index + p_j]`. Windows that would reach past `end_index` are dropped.

    Example (Keras's): with indices 0..98, sequence_length=10, sampling_rate=2,
    sequence_stride=3, the windows are [0 2 ... 18], [3 5 ... 21], ..., [78 80 ... 96].

    Args:
        data: array of timesteps along axis 0.
        targets: targets[i] is the target of the window starting at index i; None for a
            dataset of windows only.
        sequence_length: timesteps per window.
        sequence_stride: distance between the starts of consecutive windows.
        sampling_rate: distance between consecutive timesteps within a window.
        batch_size: windows per batch (default 128); None yields single windows.
        shuffle: shuffle the windows (else chronological order).
        seed: int seed of the shuffle.
        start_index: first data index used (default 0).
        end_index: data indices from this one on are not used (default len(data)).

    Returns:
        An `ember.data.Dataset` yielding `(windows, targets)` batches of shapes
        (batch, sequence_length, *data.shape[1:]) and (batch, *targets.shape[1:]), or
        `windows` alone when targets is None; dtypes those of `data` and `targets`.
    """
    data = _as_series(data, "data")
    for name, value in (("sequence_length", sequence_length),
                        ("sequence_stride", sequence_stride), ("sampling_rate", sampling_rate)):
        _check_int(value, name)
    _check_int_or_none(start_index, "start_index")
    _check_int_or_none(end_index, "end_index")
    check_batch_size(batch_size, _WHO)
    n = len(data)
    # Keras's checks, in Keras's order and words.
    if start_index:
        if start_index < 0:
            raise ValueError(
                f"{_WHO}: `start_index` must be 0 or greater. Received: "
                f"start_index={start_index}"
            )
        if start_index >= n:
            raise ValueError(
                f"{_WHO}: `start_index` must be lower than the length of the data. Received: "
                f"start_index={start_index}, for data of length {n}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"{_WHO}: `end_index` must be higher than `start_index`. Received: "
                f"start_index={start_index}, and end_index={end_index}"
            )
        if end_index >= n:
            raise ValueError(
                f"{_WHO}: `end_index` must be lower than the length of the data. Received: "
                f"end_index={end_index}, for data of length {n}"
            )
    if end_index is not None and end_index <= 0:
        raise ValueError(f"{_WHO}: `end_index` must be higher than 0. Received: {end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"{_WHO}: `{name}` must be higher than 0. Received: {name}={value}")
        if value >= n:
            raise ValueError(
                f"{_WHO}: `{name}` must be lower than the length of the data. Received: "
                f"{name}={value}, for data of length {n}"
            )
    if sequence_length <= 0:
        raise ValueError(
            f"{_WHO}: `sequence_length` must be higher than 0. Received: "
            f"sequence_length={sequence_length}"
        )

    start_index = int(start_index or 0)
    end_index = n if end_index is None else int(end_index)
    span = (sequence_length - 1) * sampling_rate + 1  # timesteps one window covers
    num_seqs = end_index - start_index - span + 1
    if num_seqs <= 0:
        raise ValueError(
            f"{_WHO}: no window fits: a window of sequence_length={sequence_length} with "
            f"sampling_rate={sampling_rate} spans {span} timesteps, but data[{start_index}:"
            f"{end_index}] has {end_index - start_index}"
        )
    if targets is not None:
        targets = _as_series(targets, "targets")
        if len(targets) == 0:
            raise ValueError(f"{_WHO}: `targets` is empty; pass None for windows without targets")
        num_seqs = min(num_seqs, len(targets))
    positions = np.arange(0, num_seqs, sequence_stride, dtype=np.int64)
    if targets is not None and start_index + positions[-1] >= len(targets):
        raise ValueError(
            f"{_WHO}: `targets` has length {len(targets)}, but the window starting at data "
            f"index {start_index + positions[-1]} needs targets[{start_index + positions[-1]}]"
        )
    seed = draw_seed(seed) if shuffle else None
    if shuffle:
        # Keras permutes the start positions with np.random.RandomState(seed), then shuffles
        # the windows again with a buffer of 8 batches (1024 windows without batching).
        np.random.RandomState(seed).shuffle(positions)

    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate

    def windows(starts):
        return data[start_index + starts[..., None] + offsets]

    dataset = Dataset.from_tensor_slices(positions)
    if shuffle:
        dataset = dataset.shuffle(batch_size * 8 if batch_size is not None else 1024, seed=seed)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    if targets is None:
        dataset = dataset.map(windows)
    else:
        dataset = dataset.map(lambda starts: (windows(starts), targets[start_index + starts]))
    return dataset.prefetch(AUTOTUNE)


def _as_series(array, name):
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError(
            f"{_WHO}: expected `{name}` to be an array with time along axis 0, received a "
            f"scalar"
        )
    if array.dtype == object:
        raise TypeError(f"{_WHO}: expected `{name}` to be a numeric array, received objects")
    return array


def _check_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{_WHO}: expected `{name}` to be an integer, received {value!r}")


def _check_int_or_none(value, name):
    if value is not None:
        _check_int(value, name)

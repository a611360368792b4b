"""PyDataset: Keras's base class for datasets defined in Python (one batch per __getitem__)."""
from concurrent.futures import ThreadPoolExecutor


class PyDataset:
    """Subclass it and implement `__len__` (the number of batches) and `__getitem__(index)`
    (batch `index`: x, (x, y) or (x, y, sample_weight)); `on_epoch_end` runs after each epoch.

    Args:
        workers: batches prepared at once by a pool of threads (1: in the calling thread).
        use_multiprocessing: processes instead of threads; not supported by ember, which
            prepares batches with threads (the C++ step releases the GIL while it runs).
        max_queue_size: batches prepared ahead of the one being trained on.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        if use_multiprocessing:
            raise NotImplementedError(f"{type(self).__name__}: use_multiprocessing=True is not "
                                      "supported; ember prepares batches in threads (workers)")
        if int(workers) < 1:
            raise ValueError(f"{type(self).__name__}: workers must be >= 1, received {workers}")
        self._workers = int(workers)
        self._use_multiprocessing = False
        self._max_queue_size = int(max_queue_size)

    @property
    def workers(self):
        return self.__dict__.get("_workers", 1)

    @property
    def use_multiprocessing(self):
        return False

    @property
    def max_queue_size(self):
        return self.__dict__.get("_max_queue_size", 10)

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_end(self):
        """Called at the end of every epoch (e.g. to reshuffle)."""


def iterate_batches(dataset, order):
    """The batches of `dataset` at the indices `order`, prepared by its worker threads ahead of
    the consumer (in order)."""
    if dataset.workers <= 1:
        for i in order:
            yield dataset[i]
        return
    ahead = max(dataset.workers, dataset.max_queue_size)
    with ThreadPoolExecutor(max_workers=dataset.workers) as pool:
        pending = []
        order = iter(order)
        for i in order:
            pending.append(pool.submit(dataset.__getitem__, i))
            if len(pending) >= ahead:
                break
        while pending:
            batch = pending.pop(0).result()
            nxt = next(order, None)
            if nxt is not None:
                pending.append(pool.submit(dataset.__getitem__, nxt))
            yield batch

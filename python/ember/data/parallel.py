"""The threaded parts of a pipeline: map with several calls in flight, and prefetch.

Both use threads rather than processes: element work is mostly NumPy and the training step is
C++, both of which release the GIL, and threads share the arrays without copying them. Every
thread is started when a pass starts and joined when the pass's generator finishes, is closed
or is dropped, so no pass leaves a thread behind.
"""

import collections
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

from ember.data.stage import UnaryStage

AUTOTUNE_PREFETCH = 2  # double buffering: one element consumed while the next is produced
_POLL_SECONDS = 0.1  # how often a blocked producer checks whether it was told to stop


def autotune_workers():
    """Parallel calls for map(num_parallel_calls=AUTOTUNE): the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ordered_parallel_map(fn, elements, workers):
    """Yields fn(element) for each element, in input order, with up to `workers` calls running
    at once on a thread pool; the pool is shut down when the generator ends or is closed."""
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ember.data.map")
    in_flight = collections.deque()
    try:
        for element in elements:
            in_flight.append(executor.submit(fn, element))
            if len(in_flight) == workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


class Prefetch(UnaryStage):
    """Produces the upstream's elements on a background thread into a bounded queue, so that
    the next elements are being made while the consumer works on the current one."""

    def __init__(self, upstream, buffer_size):
        super().__init__(upstream)
        self._buffer_size = buffer_size

    def iterate(self):
        return self._elements()

    def _elements(self):
        # The producer starts on the first next(), so an iterator never advanced owns no thread.
        producer = _Producer(self.upstream, self._buffer_size)
        try:
            while True:
                item = producer.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            producer.stop()


_END = object()  # queued after the last element


class _Failure:
    """An exception raised by the upstream, queued so the consumer re-raises it."""

    def __init__(self, error):
        self.error = error


class _Producer:
    """A daemon thread running one pass of a stage into a bounded queue."""

    def __init__(self, stage, buffer_size):
        self._queue = queue.Queue(maxsize=buffer_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(stage,), name="ember.data.prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, stage):
        outcome = _END
        try:
            for element in stage.iterate():
                if not self._put(element):
                    return
        except BaseException as error:  # noqa: BLE001 - the consumer re-raises it
            outcome = _Failure(error)
        self._put(outcome)

    def _put(self, item):
        """Queues item, waiting for room; returns False without queueing once told to stop."""
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                pass
        return False

    def get(self):
        return self._queue.get()

    def stop(self):
        """Stops the thread after its current element and waits for it."""
        self._stopping.set()
        try:
            while True:  # make room so that a put in progress returns at once
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._thread.join()

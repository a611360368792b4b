"""Sentinel values with tf.data's numbers, so code written against tf.data reads the same."""

AUTOTUNE = -1  # let the pipeline choose a parallelism or buffer size
INFINITE_CARDINALITY = -1  # e.g. after repeat()
UNKNOWN_CARDINALITY = -2  # e.g. after filter() or from_generator()

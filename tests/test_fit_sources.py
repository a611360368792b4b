"""fit, evaluate and predict on an ember.data.Dataset, a Python generator and a PyDataset:
the same training as on arrays, Keras's steps rules, clear errors."""
import numpy as np
import pytest

import ember
from ember import layers
from ember.data import Dataset

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("int32")


def model():
    ember.utils.set_random_seed(0)
    m = ember.Sequential([layers.Input((4,)), layers.Dense(2, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def reference_weights():
    m = model()
    m.fit(X, Y, batch_size=20, epochs=3, shuffle=False, verbose=0)
    return m.get_weights()


class Batches(ember.utils.PyDataset):
    def __init__(self, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.weights = weights
        self.epochs_ended = 0

    def __len__(self):
        return 10

    def __getitem__(self, i):
        s = slice(i * 20, (i + 1) * 20)
        if self.weights is not None:
            return X[s], Y[s], self.weights[s]
        return X[s], Y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def generator():
    while True:
        for i in range(0, 200, 20):
            yield X[i:i + 20], Y[i:i + 20]


@pytest.mark.parametrize("source, kwargs", [
    (lambda: Dataset.from_tensor_slices((X, Y)).batch(20), {}),
    (lambda: Dataset.from_tensor_slices((X, Y)).batch(20).prefetch(2), {}),
    (lambda: generator(), {"steps_per_epoch": 10}),
    (lambda: Batches(), {"shuffle": False}),
    (lambda: Batches(workers=3), {"shuffle": False}),
    (lambda: Dataset.from_tensor_slices((X, Y)).batch(20).repeat(), {"steps_per_epoch": 10}),
], ids=["dataset", "prefetched", "generator", "pydataset", "pydataset_workers", "repeated"])
def test_fit_on_a_source_trains_exactly_as_on_arrays(source, kwargs):
    m = model()
    m.fit(source(), epochs=3, verbose=0, **kwargs)
    for a, b in zip(m.get_weights(), reference_weights()):
        np.testing.assert_array_equal(a, b)


def test_pydataset_epoch_end_shuffle_and_sample_weights():
    batches = Batches(weights=np.zeros(200, "float32"))
    m = model()
    before = m.get_weights()
    m.fit(batches, epochs=2, verbose=0)  # zero weights: nothing moves
    assert batches.epochs_ended == 2
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_and_predict_on_sources():
    m = model()
    arrays = m.evaluate(X, Y, verbose=0)
    np.testing.assert_allclose(m.evaluate(Dataset.from_tensor_slices((X, Y)).batch(64),
                                          verbose=0), arrays, rtol=1e-6)
    np.testing.assert_allclose(m.evaluate(Batches(), verbose=0), arrays, rtol=1e-6)
    np.testing.assert_allclose(m.predict(Dataset.from_tensor_slices(X).batch(64), verbose=0),
                               m.predict(X, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(m.predict(iter([X[:50], X[50:]]), verbose=0),
                               m.predict(X, verbose=0), rtol=1e-6)


def test_validation_data_as_a_dataset_and_an_unbuilt_model():
    ember.utils.set_random_seed(0)
    m = ember.Sequential([layers.Dense(2, activation="softmax")])  # built from the first batch
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = m.fit(Dataset.from_tensor_slices((X, Y)).shuffle(200, seed=1).batch(32),
                    validation_data=Dataset.from_tensor_slices((X, Y)).batch(64), epochs=2,
                    verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


@pytest.mark.parametrize("call, words", [
    (lambda m: m.fit(Dataset.from_tensor_slices((X, Y)).batch(8).repeat(), verbose=0),
     ["repeats forever", "steps_per_epoch"]),
    (lambda m: m.fit(Dataset.from_tensor_slices((X, Y)).batch(8), Y, verbose=0), ["`y`"]),
    (lambda m: m.fit(Dataset.from_tensor_slices((X, Y)).batch(8), validation_split=0.2,
                     verbose=0), ["validation_split"]),
    (lambda m: m.fit(Dataset.from_tensor_slices(X).batch(8), verbose=0), ["without labels"]),
    (lambda m: m.fit(iter([]), verbose=0), ["no batch"]),
])
def test_bad_sources(call, words):
    with pytest.raises(ValueError) as e:
        call(model())
    for w in words:
        assert w in str(e.value)


def test_a_generator_that_runs_out_warns():
    m = model()
    with pytest.warns(UserWarning, match="ran out of data"):
        m.fit((b for b in [(X[:20], Y[:20])] * 3), epochs=2, verbose=0)

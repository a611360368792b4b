"""Loss and metric ops through the op harness, the ember.losses classes and functions on NumPy
arrays, and bad labels. References are NumPy transcriptions of Keras 3's formulas
(keras/src/losses/losses.py, keras/src/metrics/accuracy_metrics.py): a per-sample loss reduced
over the last axis, then the mean over the batch ('sum_over_batch_size')."""
import numpy as np
import pytest

from ember import losses, ops
from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, const, grid, labels, one_hot,
    positive, uniform,
)

EPSILON = 1e-7  # keras.backend.epsilon()


# ---------------------------------------------------------------- NumPy references

def np_log_softmax(x):
    s = x - np.max(x, axis=-1, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


def log_probs(pred, from_logits):
    """Keras: log_softmax of logits, or the log of probabilities renormalised and clipped."""
    if from_logits:
        return np_log_softmax(pred)
    p = pred / np.sum(pred, axis=-1, keepdims=True)
    return np.log(np.clip(p, EPSILON, 1.0 - EPSILON))


def ref_sparse_ce(from_logits):
    def ref(y, pred):
        y = np.asarray(y).astype(np.int64)
        if y.ndim == pred.ndim:  # a trailing 1 is squeezed away
            y = y[..., 0]
        lp = log_probs(pred, from_logits)
        return np.mean(-np.take_along_axis(lp, y[..., None], axis=-1))
    return ref


def ref_categorical_ce(from_logits, ls):
    def ref(y, pred):
        if ls:
            y = y * (1.0 - ls) + ls / pred.shape[-1]
        return np.mean(-np.sum(y * log_probs(pred, from_logits), axis=-1))
    return ref


def ref_binary_ce(from_logits, ls):
    def ref(y, pred):
        y = paired(y, pred)
        if ls:
            y = y * (1.0 - ls) + 0.5 * ls
        if from_logits:  # the overflow-free form of Keras's (TensorFlow's) logistic loss
            per = np.maximum(pred, 0) - pred * y + np.log1p(np.exp(-np.abs(pred)))
        else:
            p = np.clip(pred, EPSILON, 1.0 - EPSILON)
            per = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
        return np.mean(np.mean(per, axis=-1))
    return ref


def paired(y, pred):
    """Keras's squeeze_or_expand_to_same_rank for equal-sized y_true and y_pred."""
    return y.reshape(pred.shape)


def ref_mse(y, pred):
    return np.mean(np.mean(np.square(paired(y, pred) - pred), axis=-1))


def ref_mae(y, pred):
    return np.mean(np.mean(np.abs(paired(y, pred) - pred), axis=-1))


def ref_sparse_accuracy(y, pred):
    y = np.asarray(y)
    if y.ndim == pred.ndim:
        y = y[..., 0]
    return np.mean(np.argmax(pred, axis=-1) == y)


def ref_categorical_accuracy(y, pred):
    return np.mean(np.argmax(y, axis=-1) == np.argmax(pred, axis=-1))


def ref_binary_accuracy(threshold):
    return lambda y, pred: np.mean(paired(y, pred) == (pred > threshold))


# ---------------------------------------------------------------- cases

CASES = []


def loss_op(name, **attrs):
    return lambda y, pred: ops.apply_op(name, [y, pred], attrs, cast=False)


def case(name, fn, inputs, ref, **kw):
    kw.setdefault("nondiff", (0,))   # y_true never receives a gradient
    kw.setdefault("batch", (0, 1))
    CASES.append(OpCase(name, fn, inputs, ref, **kw))


SPARSE = [((4,), (4, 3), "int64"), ((4, 1), (4, 3), "int32"), ((2, 3), (2, 3, 5), "int64"),
          ((5,), (5, 2), "float64")]  # integral float labels are accepted, as in Keras
for fl in (True, False):
    pred = (lambda s: uniform(s, -3, 3)) if fl else (lambda s: positive(s, 0.1, 1.0))
    for ys, ps, dt in SPARSE:
        case(f"sparse_categorical_crossentropy{ys}{ps}_{dt}_logits{fl}",
             loss_op("sparse_categorical_crossentropy", from_logits=fl),
             [labels(ys, ps[-1], dt), pred(ps)], ref_sparse_ce(fl))
    case(f"sparse_categorical_crossentropy_default_attrs_logits{fl}",
         loss_op("sparse_categorical_crossentropy") if not fl else
         loss_op("sparse_categorical_crossentropy", from_logits=True, axis=-1),
         [labels((3,), 4), pred((3, 4))], ref_sparse_ce(fl))

for fl in (True, False):
    pred = (lambda s: uniform(s, -3, 3)) if fl else (lambda s: positive(s, 0.1, 1.0))
    for ls in (0.0, 0.1):
        for shape, target in [((4, 3), one_hot), ((2, 3, 4), one_hot),
                              ((3, 5), lambda s: positive(s, 0.0, 1.0))]:  # soft targets
            kind = "onehot" if target is one_hot else "soft"
            case(f"categorical_crossentropy{shape}_{kind}_logits{fl}_ls{ls}",
                 loss_op("categorical_crossentropy", from_logits=fl, label_smoothing=ls),
                 [target(shape), pred(shape)], ref_categorical_ce(fl, ls))
        for ys, ps in [((4, 3), (4, 3)), ((2, 3, 2), (2, 3, 2)), ((4,), (4, 1)), ((4, 1), (4,)),
                       ((2, 3), (2, 3, 1))]:
            case(f"binary_crossentropy{ys}{ps}_logits{fl}_ls{ls}",
                 loss_op("binary_crossentropy", from_logits=fl, label_smoothing=ls),
                 [uniform(ys, 0.0, 1.0), uniform(ps, -4, 4) if fl else uniform(ps, 0.05, 0.95)],
                 ref_binary_ce(fl, ls))
case("binary_crossentropy_hard_labels", loss_op("binary_crossentropy"),
     [labels((3, 4), 2, "float64"), uniform((3, 4), 0.05, 0.95)], ref_binary_ce(False, 0.0))
case("categorical_crossentropy_default_attrs", loss_op("categorical_crossentropy"),
     [one_hot((3, 4)), positive((3, 4), 0.1, 1.0)], ref_categorical_ce(False, 0.0))

for ys, ps in [((4, 3), (4, 3)), ((2, 3, 4), (2, 3, 4)), ((4,), (4, 1)), ((4, 1), (4,)),
               ((5,), (5,))]:
    case(f"mean_squared_error{ys}{ps}", loss_op("mean_squared_error"),
         [uniform(ys), uniform(ps)], ref_mse)
    case(f"mean_absolute_error{ys}{ps}", loss_op("mean_absolute_error"),
         [uniform(ys), uniform(ps)], ref_mae,
         avoid=lambda y, p: np.min(np.abs(paired(y, p) - p)) < 1e-2)  # |.| kink at y == p
case("mean_squared_error_int_targets", loss_op("mean_squared_error"),
     [labels((3, 2), 3), uniform((3, 2))], ref_mse)

# Large inputs: past kParallelGrain, so the loss kernels' parallel loops and blocked sums run.
case("sparse_categorical_crossentropy_large_logits",
     loss_op("sparse_categorical_crossentropy", from_logits=True),
     [labels((10000,), 5), uniform((10000, 5), -3, 3)], ref_sparse_ce(True))
case("sparse_categorical_crossentropy_large_probs", loss_op("sparse_categorical_crossentropy"),
     [labels((10000,), 5), positive((10000, 5), 0.1, 1.0)], ref_sparse_ce(False))
case("categorical_crossentropy_large", loss_op("categorical_crossentropy", label_smoothing=0.1),
     [one_hot((10000, 5)), positive((10000, 5), 0.1, 1.0)], ref_categorical_ce(False, 0.1))
case("binary_crossentropy_large_logits", loss_op("binary_crossentropy", from_logits=True),
     [uniform((300, 200), 0, 1), uniform((300, 200), -4, 4)], ref_binary_ce(True, 0.0))
case("mean_squared_error_large", loss_op("mean_squared_error"),
     [uniform((300, 200)), uniform((300, 200))], ref_mse)
case("mean_absolute_error_large", loss_op("mean_absolute_error"),
     [grid((300, 200)), grid((300, 200), offset=0.05)], ref_mae)

# Metrics: forward only (no gradient reaches either input).
METRIC = {"wrt": (), "nondiff": (0, 1)}
for ys, ps in [((6,), (6, 4)), ((6, 1), (6, 4)), ((2, 3), (2, 3, 4))]:
    case(f"sparse_categorical_accuracy{ys}{ps}", loss_op("sparse_categorical_accuracy"),
         [labels(ys, ps[-1]), uniform(ps)], ref_sparse_accuracy, **METRIC)
case("sparse_categorical_accuracy_label_out_of_range_never_matches",
     loss_op("sparse_categorical_accuracy"),
     [const([0, 7, 2, -1]), const(np.eye(4)[:, :3] + 0.1)], ref_sparse_accuracy, **METRIC)
for ys in [(6, 4), (2, 3, 4)]:
    case(f"categorical_accuracy{ys}", loss_op("categorical_accuracy"),
         [one_hot(ys), uniform(ys)], ref_categorical_accuracy, **METRIC)
for thr in (0.5, 0.3):
    for ys, ps in [((5, 3), (5, 3)), ((6,), (6, 1))]:
        attrs = {} if thr == 0.5 else {"threshold": thr}
        case(f"binary_accuracy{ys}{ps}_threshold{thr}", loss_op("binary_accuracy", **attrs),
             [labels(ys, 2, "float64"), uniform(ps, 0.0, 1.0)], ref_binary_accuracy(thr),
             avoid=lambda y, p, t=thr: np.min(np.abs(p - t)) < 1e-2, **METRIC)
case("sparse_categorical_accuracy_large", loss_op("sparse_categorical_accuracy"),
     [labels((10000,), 5), uniform((10000, 5))], ref_sparse_accuracy, **METRIC)
case("categorical_accuracy_large", loss_op("categorical_accuracy"),
     [one_hot((10000, 5)), uniform((10000, 5))], ref_categorical_accuracy, **METRIC)
case("binary_accuracy_large", loss_op("binary_accuracy"),
     [labels((300, 200), 2, "float64"), grid((300, 200), 0.1, 0.05, 0.0, 1.0)],
     ref_binary_accuracy(0.5), **METRIC)
case("binary_accuracy_soft_labels_never_match", loss_op("binary_accuracy"),
     [const([[1.0, 0.5], [0.0, 0.25]]), const([[0.9, 0.9], [0.1, 0.1]])],
     ref_binary_accuracy(0.5), **METRIC)


# ---------------------------------------------------------------- the harness checks

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", CASES, ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


def test_metric_values_on_known_inputs():
    # Fixed inputs guard against references and ops agreeing on a shared mistake.
    pred = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]])
    acc = ops.apply_op("sparse_categorical_accuracy", [np.array([1, 0, 0, 2]), pred], cast=False)
    assert acc == pytest.approx(0.5)
    acc = ops.apply_op("binary_accuracy", [np.array([1.0, 0.0, 1.0]), np.array([0.6, 0.6, 0.4])],
                       cast=False)
    assert acc == pytest.approx(1 / 3)


def test_loss_values_on_known_inputs():
    # -log(0.7) for a confident right answer; log(2) for an uninformative logit.
    ce = ops.apply_op("sparse_categorical_crossentropy",
                      [np.array([1]), np.array([[0.1, 0.7, 0.2]])], cast=False)
    assert ce == pytest.approx(-np.log(0.7), rel=1e-6)
    bce = ops.apply_op("binary_crossentropy", [np.array([1.0]), np.array([0.0])],
                       {"from_logits": True}, cast=False)
    assert bce == pytest.approx(np.log(2.0), rel=1e-6)


# ---------------------------------------------------------------- ember.losses on NumPy arrays

RNG = np.random.default_rng(42)
Y_INT = RNG.integers(0, 4, size=(6,))
Y_ONEHOT = np.eye(4)[Y_INT]
PROBS = RNG.uniform(0.05, 1.0, size=(6, 4))
LOGITS = RNG.normal(size=(6, 4))
Y_BIN = RNG.integers(0, 2, size=(6, 4)).astype("float64")
P_BIN = RNG.uniform(0.05, 0.95, size=(6, 4))
Y_REG, P_REG = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))

LOSS_OBJECTS = [
    ("MeanSquaredError", lambda: losses.MeanSquaredError(), Y_REG, P_REG, ref_mse),
    ("mse_function", lambda: losses.mse, Y_REG, P_REG, ref_mse),
    ("get_mse", lambda: losses.get("mse"), Y_REG, P_REG, ref_mse),
    ("MeanAbsoluteError", lambda: losses.MeanAbsoluteError(), Y_REG, P_REG, ref_mae),
    ("mae_function", lambda: losses.mean_absolute_error, Y_REG, P_REG, ref_mae),
    ("BinaryCrossentropy", lambda: losses.BinaryCrossentropy(), Y_BIN, P_BIN,
     ref_binary_ce(False, 0.0)),
    ("BinaryCrossentropy_logits_ls", lambda: losses.BinaryCrossentropy(
        from_logits=True, label_smoothing=0.2), Y_BIN, LOGITS, ref_binary_ce(True, 0.2)),
    ("binary_crossentropy_function", lambda: (lambda y, p: losses.binary_crossentropy(
        y, p, label_smoothing=0.1)), Y_BIN, P_BIN, ref_binary_ce(False, 0.1)),
    ("CategoricalCrossentropy", lambda: losses.CategoricalCrossentropy(), Y_ONEHOT, PROBS,
     ref_categorical_ce(False, 0.0)),
    ("CategoricalCrossentropy_logits_ls", lambda: losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.1), Y_ONEHOT, LOGITS, ref_categorical_ce(True, 0.1)),
    ("categorical_crossentropy_function", lambda: (lambda y, p: losses.categorical_crossentropy(
        y, p, from_logits=True)), Y_ONEHOT, LOGITS, ref_categorical_ce(True, 0.0)),
    ("SparseCategoricalCrossentropy", lambda: losses.SparseCategoricalCrossentropy(), Y_INT,
     PROBS, ref_sparse_ce(False)),
    ("SparseCategoricalCrossentropy_logits", lambda: losses.SparseCategoricalCrossentropy(
        from_logits=True), Y_INT[:, None], LOGITS, ref_sparse_ce(True)),
    ("sparse_categorical_crossentropy_function", lambda: (
        lambda y, p: losses.sparse_categorical_crossentropy(y, p, from_logits=True)),
     Y_INT, LOGITS, ref_sparse_ce(True)),
    ("user_function", lambda: losses.get(lambda y, p: ops.mean(ops.square(ops.subtract(y, p)),
                                                               axis=-1)),
     Y_REG, P_REG, ref_mse),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, make, y, pred, ref", LOSS_OBJECTS, ids=[o[0] for o in LOSS_OBJECTS])
def test_loss_objects_on_numpy(name, make, y, pred, ref, dtype):
    y = y.astype(dtype) if y.dtype.kind == "f" else y
    pred = pred.astype(dtype)
    value = make()(y, pred)
    assert np.ndim(value) == 0, f"{name}: expected a scalar, received shape {np.shape(value)}"
    assert np.asarray(value).dtype == dtype
    rtol = 1e-10 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(value, ref(y.astype("float64") if y.dtype.kind == "f" else y,
                                          pred.astype("float64")), rtol=rtol)


def test_loss_objects_record_in_a_graph():
    y, p = input_tensor((None, 4), "float64"), input_tensor((None, 4), "float64")
    out = losses.CategoricalCrossentropy(from_logits=True)(y, p)
    assert out.shape == ()
    (value,), grads, _ = Function([y, p], [out]).gradients([Y_ONEHOT, LOGITS], [np.array(1.0)])
    np.testing.assert_allclose(value, ref_categorical_ce(True, 0.0)(Y_ONEHOT, LOGITS), rtol=1e-12)
    soft = np.exp(np_log_softmax(LOGITS))
    np.testing.assert_allclose(grads[1], (soft - Y_ONEHOT) / len(LOGITS), rtol=1e-10)
    assert grads[0] is None


# ---------------------------------------------------------------- bad labels and predictions

SCE = "sparse_categorical_crossentropy"


@pytest.mark.parametrize("bad", [3, 7, -1])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
def test_sparse_labels_out_of_range(bad, dtype):
    y = np.array([0, bad, 1], dtype=dtype)
    with pytest.raises(ValueError, match=rf"op '{SCE}'.*\[0, 3\).*received {bad}"):
        ops.apply_op(SCE, [y, np.full((3, 3), 1 / 3)], {"from_logits": True}, cast=False)


def test_sparse_labels_out_of_range_in_a_plan():
    y, p = input_tensor((None,), "int64"), input_tensor((None, 3), "float32")
    f = Function([y, p], [ops.apply_op(SCE, [y, p], cast=False)])
    with pytest.raises(ValueError, match=rf"op '{SCE}'.*\[0, 3\).*received 5"):
        f(np.array([0, 5]), np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"op '{SCE}'.*\[0, 3\).*received 5"):
        f.gradients([np.array([0, 5]), np.ones((2, 3))], [np.array(1.0)])


def test_sparse_labels_not_integers():
    with pytest.raises(ValueError, match=rf"op '{SCE}'.*integers in \[0, 3\).*1.5"):
        ops.apply_op(SCE, [np.array([0.0, 1.5]), np.ones((2, 3))], cast=False)


def _raises_both(exc, name, y, pred, match, attrs=None):
    """Raised eagerly on arrays and at shape inference on symbolic tensors."""
    with pytest.raises(exc, match=match):
        ops.apply_op(name, [y, pred], attrs, cast=False)
    sy, sp = (input_tensor(a.shape, str(a.dtype)) for a in (y, pred))
    with pytest.raises(exc, match=match):
        ops.apply_op(name, [sy, sp], attrs, cast=False)


@pytest.mark.parametrize("name, ys, ps", [
    (SCE, (3,), (2, 3)),
    (SCE, (2, 2), (2, 3)),
    (SCE, (2, 3), (2, 3, 4, 5)),
    ("sparse_categorical_accuracy", (3,), (2, 3)),
    ("categorical_crossentropy", (2, 4), (2, 3)),
    ("categorical_crossentropy", (2,), (2, 3)),
    ("binary_crossentropy", (4, 3), (4, 2)),
    ("binary_crossentropy", (4, 2), (4,)),
    ("mean_squared_error", (4,), (5,)),
    ("mean_absolute_error", (4, 3), (3, 4)),
    ("categorical_accuracy", (2, 4), (2, 3)),
    ("binary_accuracy", (3,), (4,)),
])
def test_labels_of_the_wrong_shape(name, ys, ps):
    y = np.zeros(ys, dtype="int64" if "sparse" in name else "float32")
    _raises_both(ValueError, name, y, np.ones(ps, dtype="float32"),
                 rf"op '{name}'.*y_true.*{ys}".replace("(", r"\(").replace(")", r"\)"))


def test_wrong_shape_with_unknown_batch():
    with pytest.raises(ValueError, match=rf"op '{SCE}'.*\(None, 3\)"):
        ops.apply_op(SCE, [input_tensor((None, 2), "int64"), input_tensor((None, 3), "float32")],
                     cast=False)


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy",
                                  "mean_squared_error", SCE, "binary_accuracy"])
def test_integer_predictions_rejected(name):
    y = np.zeros((2, 3), dtype="int64") if name != SCE else np.zeros(2, dtype="int64")
    _raises_both(TypeError, name, y, np.ones((2, 3), dtype="int64"),
                 rf"op '{name}'.*y_pred.*float32 or float64.*int64")


@pytest.mark.parametrize("ls", [-0.1, 1.5])
@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy"])
def test_label_smoothing_out_of_range(name, ls):
    _raises_both(ValueError, name, np.zeros((2, 3)), np.full((2, 3), 0.5),
                 rf"op '{name}'.*label_smoothing in \[0, 1\]", {"label_smoothing": ls})


def test_axis_other_than_last():
    _raises_both(ValueError, SCE, np.zeros((2, 3), "int64"), np.ones((2, 3, 4)),
                 rf"op '{SCE}'.*axis=-1", {"axis": 0})
    with pytest.raises(NotImplementedError, match="CategoricalCrossentropy.*axis=-1"):
        losses.CategoricalCrossentropy(axis=0)


@pytest.mark.parametrize("name", [SCE, "categorical_crossentropy", "mean_squared_error",
                                  "binary_accuracy"])
@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([1, None], dtype=object)],
                         ids=["str", "object"])
def test_non_numeric_labels(name, bad):
    with pytest.raises(TypeError, match=rf"op '{name}'.*numeric"):
        ops.apply_op(name, [bad, np.ones((2, 2))], cast=False)
    with pytest.raises(TypeError, match=rf"op '{name}'.*numeric"):
        ops.apply_op(name, [np.zeros(2, "int64"), bad], cast=False)


@pytest.fixture
def restore_threads():
    from ember import config
    n = config.get_num_threads()
    yield config
    config.set_num_threads(n)


@pytest.mark.parametrize("c", [c for c in CASES if "large" in c.name], ids=repr)
def test_loss_and_metric_values_do_not_depend_on_thread_count(c, restore_threads):
    arrays = c.sample(c.rng())
    values = []
    for n in (1, 3):
        restore_threads.set_num_threads(n)
        values.append(c.fn(*arrays))
    assert values[0] == values[1], f"{c.name}: {values[0]!r} with 1 thread, {values[1]!r} with 3"

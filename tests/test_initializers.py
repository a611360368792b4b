"""Tests of ember.initializers: Keras 3's names, defaults, formulas, seeding and configs."""

import json
import math

import numpy as np
import pytest

from ember import initializers
from ember.initializers import compute_fans
from ember.utils import set_random_seed

RANDOM_CLASSES = [
    initializers.RandomNormal, initializers.RandomUniform, initializers.TruncatedNormal,
    initializers.VarianceScaling, initializers.GlorotUniform, initializers.GlorotNormal,
    initializers.HeUniform, initializers.HeNormal, initializers.LecunUniform,
    initializers.LecunNormal, initializers.Orthogonal,
]
ALL_CLASSES = RANDOM_CLASSES + [
    initializers.Zeros, initializers.Ones, initializers.Constant, initializers.Identity,
]

# keras.src.initializers.ALL_OBJECTS_DICT of Keras 3.15, less the STFT initializer.
KERAS_NAMES = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "IdentityInitializer", "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
    "OrthogonalInitializer", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "Zeros", "constant", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "identity", "initializer", "lecun_normal", "lecun_uniform", "normal", "one",
    "ones", "orthogonal", "random_normal", "random_uniform", "truncated_normal", "uniform",
    "variance_scaling", "zero", "zeros",
]


# -- fans --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, fans",
    [((), (1, 1)), ((5,), (5, 5)), ((3, 4), (3, 4)), ((3, 16, 32), (48, 96)),
     ((3, 3, 16, 32), (144, 288)), ((2, 2, 2, 4, 8), (32, 64))],
)
def test_compute_fans(shape, fans):
    assert compute_fans(shape) == fans


def test_compute_fans_with_axes():
    # An attention kernel (d, heads, key_dim): inputs on axis 0, outputs on axes 1 and 2.
    assert compute_fans((16, 4, 8), input_axes=[0], output_axes=[1, 2]) == (16, 32)


# -- distributions -----------------------------------------------------------------------------

SHAPE = (300, 500)  # 150,000 values: sample statistics within ~1% of the formulas


def _std(x):
    return float(np.asarray(x, np.float64).std())


@pytest.mark.parametrize(
    "cls, scale, fan",
    [
        (initializers.GlorotUniform, 1.0, (300 + 500) / 2),
        (initializers.HeUniform, 2.0, 300),
        (initializers.LecunUniform, 1.0, 300),
    ],
)
def test_uniform_variance_scaling(cls, scale, fan):
    x = cls(seed=1)(SHAPE)
    limit = math.sqrt(3.0 * scale / fan)
    assert x.dtype == np.float32 and x.shape == SHAPE
    assert -limit <= x.min() and x.max() < limit
    assert x.max() > 0.99 * limit and x.min() < -0.99 * limit
    assert _std(x) == pytest.approx(limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    "cls, scale, fan",
    [
        (initializers.GlorotNormal, 1.0, (300 + 500) / 2),
        (initializers.HeNormal, 2.0, 300),
        (initializers.LecunNormal, 1.0, 300),
    ],
)
def test_truncated_normal_variance_scaling(cls, scale, fan):
    x = cls(seed=2)(SHAPE)
    target_std = math.sqrt(scale / fan)
    # After truncation the standard deviation is the target one (Keras's 0.8796... factor),
    # and no value is beyond two standard deviations of the untruncated normal.
    assert _std(x) == pytest.approx(target_std, rel=0.02)
    assert np.abs(x).max() <= 2 * target_std / 0.87962566103423978 * (1 + 1e-6)
    assert abs(float(x.mean())) < 0.02 * target_std


@pytest.mark.parametrize("mode, fan", [("fan_in", 300), ("fan_out", 500), ("fan_avg", 400)])
def test_variance_scaling_modes_untruncated(mode, fan):
    x = initializers.VarianceScaling(scale=3.0, mode=mode, distribution="untruncated_normal",
                                     seed=3)(SHAPE)
    assert _std(x) == pytest.approx(math.sqrt(3.0 / fan), rel=0.02)
    # untruncated: some values lie beyond 2 standard deviations
    assert np.abs(x).max() > 2 * math.sqrt(3.0 / fan)


def test_variance_scaling_conv_kernel_uses_receptive_field():
    x = initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform",
                                     seed=4)((5, 5, 64, 32))
    assert _std(x) == pytest.approx(math.sqrt(1.0 / (5 * 5 * 64)), rel=0.02)


def test_random_normal_uniform_truncated():
    x = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=5)(SHAPE)
    assert float(x.mean()) == pytest.approx(1.0, abs=0.01)
    assert _std(x) == pytest.approx(0.5, rel=0.02)
    u = initializers.RandomUniform(minval=2.0, maxval=3.0, seed=5)(SHAPE)
    assert 2.0 <= u.min() and u.max() < 3.0
    assert float(u.mean()) == pytest.approx(2.5, abs=0.01)
    t = initializers.TruncatedNormal(mean=-1.0, stddev=2.0, seed=5)(SHAPE)
    assert -5.0 <= t.min() and t.max() <= 3.0
    # std of a unit normal truncated to [-2, 2] is 0.8796
    assert _std(t) == pytest.approx(2.0 * 0.87962566103423978, rel=0.02)


def test_keras_defaults():
    assert initializers.RandomNormal().get_config() == {"seed": None, "mean": 0.0,
                                                        "stddev": 0.05}
    assert initializers.RandomUniform().get_config() == {"seed": None, "minval": -0.05,
                                                         "maxval": 0.05}
    assert initializers.TruncatedNormal().get_config() == {"seed": None, "mean": 0.0,
                                                           "stddev": 0.05}
    assert initializers.VarianceScaling().get_config() == {
        "seed": None, "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal",
        "input_axes": None, "output_axes": None}
    assert initializers.GlorotUniform().get_config() == {"seed": None, "input_axes": None,
                                                         "output_axes": None}
    assert initializers.Orthogonal().get_config() == {"seed": None, "gain": 1.0}
    assert initializers.Identity().get_config() == {"gain": 1.0}
    assert initializers.Constant().get_config() == {"value": 0.0}
    he = initializers.HeNormal()
    assert (he.scale, he.mode, he.distribution) == (2.0, "fan_in", "truncated_normal")
    gu = initializers.GlorotUniform()
    assert (gu.scale, gu.mode, gu.distribution) == (1.0, "fan_avg", "uniform")


# -- orthogonal, identity, constants -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(20, 8), (8, 20), (3, 3, 4, 8), (10, 10)])
def test_orthogonal(shape):
    x = initializers.Orthogonal(gain=2.0, seed=6)(shape, dtype="float64")
    assert x.shape == shape and x.dtype == np.float64
    m = x.reshape(-1, shape[-1])
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, 4.0 * np.eye(m.shape[1]), atol=1e-10)
    else:
        np.testing.assert_allclose(m @ m.T, 4.0 * np.eye(m.shape[0]), atol=1e-10)


def test_orthogonal_rejects_vectors():
    with pytest.raises(ValueError, match="Orthogonal.*at least two-dimensional.*rank 1"):
        initializers.Orthogonal()((5,))


def test_identity():
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)),
                                  [[3, 0, 0], [0, 3, 0]])
    with pytest.raises(ValueError, match="Identity.*2D.*rank 3"):
        initializers.Identity()((2, 2, 2))


def test_constants_and_dtypes():
    z = initializers.Zeros()((2, 3), dtype="int32")
    assert z.dtype == np.int32 and not z.any()
    o = initializers.Ones()((4,))
    assert o.dtype == np.float32 and (o == 1).all()
    c = initializers.Constant(np.float64(2.5))((2, 2), dtype="float64")
    assert c.dtype == np.float64 and (c == 2.5).all()
    assert type(initializers.Constant(np.float32(2.5)).get_config()["value"]) is float
    with pytest.raises(ValueError, match="Constant: expected a scalar"):
        initializers.Constant([1.0, 2.0])


# -- seeding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_seeded_initializer_repeats_its_values(cls):
    a = cls(seed=42)((6, 4))
    b = cls(seed=42)((6, 4))
    np.testing.assert_array_equal(a, b)
    init = cls(seed=42)
    np.testing.assert_array_equal(init((6, 4)), init((6, 4)))
    assert not np.array_equal(cls(seed=43)((6, 4)), a)


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_unseeded_initializer_differs_per_call_and_follows_global_seed(cls):
    init = cls()
    set_random_seed(3)
    a1, a2 = init((6, 4)), init((6, 4))
    assert not np.array_equal(a1, a2)  # two layers get different weights
    set_random_seed(3)
    b1, b2 = init((6, 4)), init((6, 4))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_random_initializers_dtypes(cls):
    assert cls(seed=1)((4, 3)).dtype == np.float32
    assert cls(seed=1)((4, 3), dtype="float64").dtype == np.float64
    assert cls(seed=1)((4, 3), dtype=np.float16).dtype == np.float16
    with pytest.raises(ValueError, match=f"{cls.__name__}: expected a floating-point"):
        cls(seed=1)((4, 3), dtype="int32")


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_bad_shapes(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: expected `shape`.*None"):
        cls()((None, 3))
    with pytest.raises(ValueError, match=f"{cls.__name__}: expected `shape`"):
        cls()((2, -1))


def test_scalar_shape():
    assert initializers.RandomNormal(seed=1)(()).shape == ()
    assert initializers.TruncatedNormal(seed=1)(()).shape == ()
    assert initializers.Zeros()(()).shape == ()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"scale": 0.0}, "scale"), ({"mode": "fan_sum"}, "mode"),
     ({"distribution": "cauchy"}, "distribution"), ({"seed": 1.5}, "seed"),
     ({"seed": "1"}, "seed")],
)
def test_variance_scaling_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"VarianceScaling.*{match}"):
        initializers.VarianceScaling(**kwargs)


def test_variance_scaling_normal_alias():
    assert initializers.VarianceScaling(distribution="Normal").distribution == "truncated_normal"


# -- get / serialize ---------------------------------------------------------------------------


def test_names_match_keras():
    assert sorted(initializers.ALL_OBJECTS_DICT) == sorted(KERAS_NAMES)


@pytest.mark.parametrize(
    "name, cls",
    [("glorot_uniform", initializers.GlorotUniform), ("he_normal", initializers.HeNormal),
     ("orthogonal", initializers.Orthogonal), ("zeros", initializers.Zeros),
     ("zero", initializers.Zeros), ("one", initializers.Ones),
     ("normal", initializers.RandomNormal), ("uniform", initializers.RandomUniform),
     ("OrthogonalInitializer", initializers.Orthogonal), ("GlorotUniform",
                                                          initializers.GlorotUniform),
     ("truncated_normal", initializers.TruncatedNormal), ("lecun_normal",
                                                          initializers.LecunNormal)],
)
def test_get_by_name(name, cls):
    obj = initializers.get(name)
    assert type(obj) is cls
    assert initializers.get(name) is not obj  # a fresh instance each time


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: "
                                         "'glorot'.*'glorot_uniform'"):
        initializers.get("glorot")


def test_get_other_identifiers():
    assert initializers.get(None) is None
    inst = initializers.HeUniform(seed=1)
    assert initializers.get(inst) is inst
    assert type(initializers.get(initializers.Ones)) is initializers.Ones

    def fn(shape, dtype=None):
        return np.full(shape, 7.0)

    assert initializers.get(fn) is fn
    got = initializers.get({"class_name": "RandomUniform",
                            "config": {"minval": 1.0, "maxval": 2.0, "seed": 3}})
    assert type(got) is initializers.RandomUniform and got.minval == 1.0 and got.seed == 3
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.get(42)


def test_get_array_identifier():
    value = np.arange(6.0).reshape(2, 3)
    init = initializers.get(value)
    out = init((2, 3), dtype="float64")
    np.testing.assert_array_equal(out, value)
    assert out is not value
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(2, 3\)"):
        init((3, 2))


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_serialize_round_trip(cls):
    obj = cls(seed=9) if cls in RANDOM_CLASSES else cls()
    config = initializers.serialize(obj)
    assert config["class_name"] == cls.__name__
    assert config["module"] == "ember.initializers"
    restored = initializers.deserialize(json.loads(json.dumps(config)))
    assert type(restored) is cls
    assert restored.get_config() == obj.get_config()
    np.testing.assert_array_equal(restored((4, 4)), obj((4, 4)))
    clone = obj.clone()
    assert type(clone) is cls and clone.get_config() == obj.get_config()


def test_deserialize_keras_config():
    keras_config = {"module": "keras.initializers", "class_name": "VarianceScaling",
                    "config": {"seed": None, "scale": 2.0, "mode": "fan_out",
                               "distribution": "uniform", "input_axes": None,
                               "output_axes": None},
                    "registered_name": None}
    obj = initializers.deserialize(keras_config)
    assert (obj.scale, obj.mode, obj.distribution) == (2.0, "fan_out", "uniform")


def test_custom_initializer_round_trip():
    class Halves(initializers.Initializer):
        def __init__(self, factor=0.5):
            self.factor = factor

        def __call__(self, shape, dtype=None):
            return np.full(shape, self.factor, dtype=dtype or "float32")

        def get_config(self):
            return {"factor": self.factor}

    config = initializers.serialize(Halves(0.25))
    assert config["registered_name"] == "Halves"
    with pytest.raises(ValueError, match="unknown initializer 'Halves'"):
        initializers.deserialize(config)
    restored = initializers.deserialize(config, custom_objects={"Halves": Halves})
    assert restored.factor == 0.25


def test_deserialize_rejects_bad_configs():
    with pytest.raises(ValueError, match="class_name"):
        initializers.deserialize({"config": {}})
    with pytest.raises(TypeError, match="serialize"):
        initializers.serialize(3)


def test_base_initializer_must_be_subclassed():
    with pytest.raises(NotImplementedError, match="__call__"):
        initializers.Initializer()((2,))

"""The one harness for ops (DESIGN.md, "Tests").

A test of an op is one `OpCase`: a callable that builds the op's output from its inputs with
`ember.ops` (it runs eagerly on NumPy arrays and records nodes on symbolic tensors), samplers for
the inputs, a NumPy reference, and which inputs to differentiate. Three checks run on every case:

- forward: eager float64 and float32 results against the NumPy reference (computed in float64
  on the very values the op saw), including the result dtype;
- gradients: float64 central differences of sum(G * out), G random, against the analytic
  gradients of a compiled plan; inputs listed in `params` are fed as `ember.Variable`s, so
  parameter gradients (the arena path) are checked as well. Inputs larger than
  MAX_ELEMENTWISE (cases that reach the kernels' parallel paths) are checked along random
  directions instead of element by element. Samplers and `avoid` keep inputs
  away from kinks (relu at 0, ties of max, clip bounds), where central differences are
  meaningless; conventions *at* kinks are tested separately;
- shape inference: the symbolic shape equals the eager shape, and with the batch axis of the
  `batch` inputs unknown (None) exactly the output axes that depend on the batch are None.
"""
import dataclasses
import zlib
from typing import Callable, Optional, Sequence

import numpy as np

from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from ember.backend.variables import Variable

EPS = 1e-6          # central-difference step (float64)
GRAD_TOL = 1e-6     # max |numeric - analytic| / max(1, |numeric|, |analytic|)
SEED = 1234         # plan seed: fixes dropout masks across forward, backward and differences
KINK_MARGIN = 1e-3  # distance kept from kinks; far larger than EPS so no difference crosses one
# Inputs larger than this, or outputs larger than 16 times it, get directional differences
# (2 runs per direction instead of 2 per element).
MAX_ELEMENTWISE = 256
DIRECTIONS = 2

# (rtol, atol relative to the reference's largest magnitude) for the eager forward.
FORWARD_TOL = {"float64": (1e-10, 1e-12), "float32": (2e-5, 2e-6)}


# ---------------------------------------------------------------- input samplers
# A sampler is a callable rng -> np.ndarray (float64 for float inputs, integers for labels).

def uniform(shape, low=-2.0, high=2.0):
    return lambda rng: rng.uniform(low, high, size=shape)


def positive(shape, low=0.5, high=2.0):
    return uniform(shape, low, high)


def away_from(shape, kinks=(0.0,), low=-2.0, high=2.0, margin=0.05):
    """Uniform values at least `margin` away from each kink (values inside are pushed out)."""
    def sample(rng):
        x = rng.uniform(low, high, size=shape)
        for k in kinks:
            near = np.abs(x - k) < margin
            x = np.where(near, k + np.where(x >= k, margin, -margin) * 2, x)
        return x
    return sample


def distinct(shape, low=-2.0, high=2.0):
    """Values on a shuffled grid: no two equal, so max/min/maximum have no ties."""
    def sample(rng):
        n = int(np.prod(shape, dtype=np.int64))
        grid = np.linspace(low, high, max(n, 2))[:n]
        return rng.permutation(grid).reshape(shape)
    return sample


def grid(shape, step=0.1, offset=0.0, low=-2.0, high=2.0):
    """Multiples of `step` plus `offset`: two grids offset by step/2 never come closer than it."""
    def sample(rng):
        k = rng.integers(int(low / step), int(high / step), size=shape)
        return k * step + offset
    return sample


def labels(shape, classes, dtype="int64"):
    return lambda rng: rng.integers(0, classes, size=shape).astype(dtype)


def one_hot(shape):
    """One-hot rows over the last axis of `shape`, as float64."""
    def sample(rng):
        ids = rng.integers(0, shape[-1], size=shape[:-1])
        return np.eye(shape[-1])[ids]
    return sample


def const(value):
    value = np.asarray(value)
    return lambda rng: value.copy()


# ---------------------------------------------------------------- the case

@dataclasses.dataclass
class OpCase:
    name: str
    fn: Callable                      # fn(*inputs) -> output, written with ember.ops
    inputs: Sequence                  # samplers (rng -> array) or arrays
    reference: Optional[Callable]     # reference(*float64 arrays) -> array; None: no forward check
    wrt: Optional[Sequence[int]] = None  # inputs to differentiate; None = every float input
    params: Sequence[int] = ()        # inputs fed as ember.Variable in the gradient check
    nondiff: Sequence[int] = ()       # inputs that must receive no gradient (labels)
    batch: Optional[Sequence[int]] = None  # inputs whose axis 0 is the batch; None = (0,) if ranked
    avoid: Optional[Callable] = None  # avoid(*arrays) -> True when too close to a kink: resample
    training: bool = False            # plan mode (dropout)
    grad_tol: float = GRAD_TOL

    def __repr__(self):
        return self.name

    def sample(self, rng):
        for _ in range(200):
            arrays = [np.array(s(rng) if callable(s) else s) for s in self.inputs]
            if self.avoid is None or not self.avoid(*arrays):
                return arrays
        raise AssertionError(f"{self.name}: could not sample inputs away from the kinks")

    def rng(self):
        return np.random.default_rng(zlib.crc32(self.name.encode()))

    def diff_inputs(self, arrays):
        if self.wrt is not None:
            return list(self.wrt)
        return [i for i, a in enumerate(arrays) if is_float(a) and i not in self.nondiff]

    def batch_inputs(self, arrays):
        if self.batch is not None:
            return list(self.batch)
        return [0] if arrays and arrays[0].ndim > 0 and 0 not in self.params else []


def is_float(a):
    return np.asarray(a).dtype.kind == "f"


def _as(arrays, dtype):
    return [a.astype(dtype) if is_float(a) else a for a in arrays]


# ---------------------------------------------------------------- checks

def check_forward(case, dtype):
    """Eager result of `case` in `dtype` against its NumPy reference."""
    arrays = _as(case.sample(case.rng()), dtype)
    out = case.fn(*arrays)
    assert isinstance(out, np.ndarray), f"{case.name}: eager result is {type(out).__name__}"
    assert str(out.dtype) == dtype, f"{case.name}: result dtype {out.dtype}, expected {dtype}"
    ref = np.asarray(case.reference(*_as(arrays, "float64")))
    assert_close(out, ref, *FORWARD_TOL[dtype], what=f"{case.name} forward {dtype}")


def assert_close(out, ref, rtol, atol, what):
    assert out.shape == ref.shape, f"{what}: shape {out.shape}, expected {ref.shape}"
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol * scale, err_msg=what)


class _Compiled:
    """The case's output compiled into a plan, fed float64 arrays (params as Variables)."""

    def __init__(self, case, arrays):
        self.case = case
        self.arrays = arrays
        self.variables = {i: Variable(arrays[i], name=f"p{i}", dtype="float64")
                          for i in case.params}
        self.feeds = [i for i in range(len(arrays)) if i not in self.variables]
        sym = {i: input_tensor(arrays[i].shape, str(arrays[i].dtype)) for i in self.feeds}
        args = [self.variables[i] if i in self.variables else sym[i] for i in range(len(arrays))]
        self.out = case.fn(*args)
        self.fn = Function([sym[i] for i in self.feeds], [self.out], training=case.training)
        # An op on parameters alone runs eagerly and bakes a constant: no gradient could flow.
        assert {id(v) for v in self.fn.variables} == {id(v) for v in self.variables.values()}, (
            f"{case.name}: a parameter is not a node of the graph")

    def value(self):
        """Current value of the output for the current `arrays` and variable values."""
        return self.fn(*[self.arrays[i] for i in self.feeds], seed=SEED)[0]

    def gradients(self, g):
        outs, in_grads, var_grads = self.fn.gradients(
            [self.arrays[i] for i in self.feeds], [g], seed=SEED)
        grads = {i: in_grads[k] for k, i in enumerate(self.feeds)}
        order = self.fn.variables
        for i, v in self.variables.items():
            grads[i] = var_grads[next(k for k, w in enumerate(order) if w is v)]
        return outs[0], grads

    def buffer(self, i):
        """The array the plan reads input i from (a Variable's value is copied at each run)."""
        return self.variables[i].value if i in self.variables else self.arrays[i]


def check_gradients(case):
    arrays = _as(case.sample(case.rng()), "float64")
    c = _Compiled(case, arrays)
    g = np.asarray(case.rng().standard_normal(c.out.shape))
    out, grads = c.gradients(g)
    if case.reference is not None:  # the plan's forward agrees with the eager one's reference
        assert_close(out, np.asarray(case.reference(*arrays)), *FORWARD_TOL["float64"],
                     what=f"{case.name} plan forward")
    for i in case.nondiff:
        assert grads.get(i) is None, f"{case.name}: input {i} must receive no gradient"
    for i in case.diff_inputs(arrays):
        analytic = grads[i]
        assert analytic is not None, f"{case.name}: no gradient reached input {i}"
        assert analytic.shape == arrays[i].shape, (
            f"{case.name}: gradient of input {i} has shape {analytic.shape}, "
            f"expected {arrays[i].shape}")
        if analytic.size <= MAX_ELEMENTWISE and g.size <= 16 * MAX_ELEMENTWISE:
            _assert_grad_close(case, i, numeric_gradient(c, i, g), analytic)
        else:
            rng = np.random.default_rng(i)
            for _ in range(DIRECTIONS):
                v = rng.standard_normal(analytic.shape)
                _assert_grad_close(case, i, directional_derivative(c, i, g, v),
                                   np.sum(analytic * v))


def _assert_grad_close(case, i, numeric, analytic):
    err = np.max(np.abs(numeric - analytic), initial=0.0) / max(
        1.0, np.max(np.abs(numeric), initial=0.0), np.max(np.abs(analytic), initial=0.0))
    assert err < case.grad_tol, (
        f"{case.name}: gradient of input {i} is off by {err:.2e} (relative)\n"
        f"numeric:\n{numeric}\nanalytic:\n{analytic}")


def numeric_gradient(c, i, g):
    """Central differences of sum(g * out) w.r.t. input i, one element at a time."""
    x = c.buffer(i)
    flat = x.reshape(-1)  # a view: perturbing it perturbs what the plan reads
    grad = np.zeros(x.size)
    for j in range(x.size):
        orig = flat[j]
        flat[j] = orig + EPS
        up = np.sum(g * c.value())
        flat[j] = orig - EPS
        down = np.sum(g * c.value())
        flat[j] = orig
        grad[j] = (up - down) / (2 * EPS)
    return grad.reshape(x.shape)


def directional_derivative(c, i, g, v):
    """Central difference of sum(g * out) along direction v of input i."""
    x = c.buffer(i)
    orig = x.copy()
    x[...] = orig + EPS * v
    up = np.sum(g * c.value())
    x[...] = orig - EPS * v
    down = np.sum(g * c.value())
    x[...] = orig
    return (up - down) / (2 * EPS)


def symbolic_shape(case, arrays, shapes):
    args = [Variable(a, name=f"p{i}", dtype=str(a.dtype)) if i in case.params
            else input_tensor(s, str(a.dtype)) for i, (a, s) in enumerate(zip(arrays, shapes))]
    return tuple(case.fn(*args).shape)


def check_shape_inference(case):
    arrays = case.sample(case.rng())
    eager = case.fn(*arrays).shape
    known = [a.shape for a in arrays]
    assert symbolic_shape(case, arrays, known) == eager, f"{case.name}: inferred shape"
    batch = case.batch_inputs(arrays)
    if not batch:
        return
    def with_batch(grow):  # each batch input's extent grown by `grow`, or None
        return [((None if grow is None else s[0] + grow),) + s[1:] if i in batch else s
                for i, s in enumerate(known)]
    other = symbolic_shape(case, arrays, with_batch(1))
    # Axes that change with the batch extent must be None, the others known and unchanged.
    expected = tuple(None if e != o else e for e, o in zip(eager, other))
    got = symbolic_shape(case, arrays, with_batch(None))
    assert got == expected, f"{case.name}: inferred {got} with a None batch, expected {expected}"

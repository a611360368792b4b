// matmul with NumPy semantics: operands of rank >= 2 are stacks of matrices whose batch extents
// broadcast; a rank-1 left operand is a row vector (1, K) and a rank-1 right operand a column
// (K, 1), the promoted axis being dropped from the result.
// Products go through the family's gemm kernel (BLAS). When the right operand is a single matrix
// the left operand's batch folds into M, so (B, T, K) @ (K, N) is one GEMM, forward and backward;
// other batched cases loop over GEMMs. Backward: dA = dC @ B^T, dB = A^T @ dC, summed over the
// batch extents an operand was broadcast along; the first write to each gradient matrix uses
// beta = accumulate ? 1 : 0, later writes beta = 1.
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

struct Geom {
  int64_t m = 1, k = 1, n = 1;
  Shape batch;                      // output batch extents
  std::vector<int64_t> sa, sb;      // per batch axis: matrix-index stride in A / B, 0 if broadcast
  int64_t count = 1, na = 1, nb = 1;  // matrices in the output, in A, in B
  bool fold() const { return nb == 1; }
};

Shape as_matrix_a(const Shape& a) { return a.size() == 1 ? Shape{1, a[0]} : a; }
Shape as_matrix_b(const Shape& b) { return b.size() == 1 ? Shape{b[0], 1} : b; }

void check_shapes(const Shape& a, const Shape& b) {
  EMBER_CHECK(!a.empty() && !b.empty(), ValueError,
              "op 'matmul': expected operands of rank >= 1, received ", shape_str(a), " and ",
              shape_str(b));
  const Shape a2 = as_matrix_a(a), b2 = as_matrix_b(b);
  EMBER_CHECK(dims_match(a2.back(), b2[b2.size() - 2]), ValueError,
              "op 'matmul': expected the inner dimensions to agree, received ", shape_str(a),
              " and ", shape_str(b));
}

// Matrix-index strides of one operand's batch axes aligned to the output's `r` batch axes.
std::vector<int64_t> batch_strides(const Shape& ob, size_t r, int64_t& count) {
  std::vector<int64_t> s(r, 0);
  count = 1;
  for (size_t i = ob.size(); i-- > 0;) {
    s[r - ob.size() + i] = ob[i] == 1 ? 0 : count;
    count *= ob[i];
  }
  return s;
}

Geom geom_of(const Shape& a, const Shape& b) {
  const Shape a2 = as_matrix_a(a), b2 = as_matrix_b(b);
  Geom g;
  g.m = a2[a2.size() - 2];
  g.k = a2.back();
  g.n = b2.back();
  const Shape ab(a2.begin(), a2.end() - 2), bb(b2.begin(), b2.end() - 2);
  g.batch = broadcast_shapes(ab, bb, "op 'matmul'");
  g.sa = batch_strides(ab, g.batch.size(), g.na);
  g.sb = batch_strides(bb, g.batch.size(), g.nb);
  g.count = numel(g.batch);
  return g;
}

// Matrix indices in A and B of output matrix `o`.
void operands_of(const Geom& g, int64_t o, int64_t& ia, int64_t& ib) {
  ia = ib = 0;
  for (size_t d = g.batch.size(); d-- > 0;) {
    const int64_t i = o % g.batch[d];
    o /= g.batch[d];
    ia += i * g.sa[d];
    ib += i * g.sb[d];
  }
}

template <class T>
void forward_t(const Geom& g, const T* a, const T* b, T* c) {
  const auto& k = kernels<TensorOpsKernels<T>>(Device::cpu);
  if (g.fold()) {
    k.gemm(false, false, g.na * g.m, g.n, g.k, T(1), a, g.k, b, g.n, T(0), c, g.n);
    return;
  }
  for (int64_t o = 0; o < g.count; ++o) {
    int64_t ia, ib;
    operands_of(g, o, ia, ib);
    k.gemm(false, false, g.m, g.n, g.k, T(1), a + ia * g.m * g.k, g.k, b + ib * g.k * g.n, g.n,
           T(0), c + o * g.m * g.n, g.n);
  }
}

template <class T>
void backward_t(const Geom& g, const T* a, const T* b, const T* dc, T* da, T* db, bool acc_a,
                bool acc_b) {
  const auto& k = kernels<TensorOpsKernels<T>>(Device::cpu);
  const T beta_a = acc_a ? T(1) : T(0), beta_b = acc_b ? T(1) : T(0);
  if (g.fold()) {
    const int64_t rows = g.na * g.m;
    if (da) k.gemm(false, true, rows, g.k, g.n, T(1), dc, g.n, b, g.n, beta_a, da, g.k);
    if (db) k.gemm(true, false, g.k, g.n, rows, T(1), a, g.k, dc, g.n, beta_b, db, g.n);
    return;
  }
  std::vector<bool> wrote_a(g.na, false), wrote_b(g.nb, false);
  for (int64_t o = 0; o < g.count; ++o) {
    int64_t ia, ib;
    operands_of(g, o, ia, ib);
    const T* dco = dc + o * g.m * g.n;
    if (da) {
      k.gemm(false, true, g.m, g.k, g.n, T(1), dco, g.n, b + ib * g.k * g.n, g.n,
             wrote_a[ia] ? T(1) : beta_a, da + ia * g.m * g.k, g.k);
      wrote_a[ia] = true;
    }
    if (db) {
      k.gemm(true, false, g.k, g.n, g.m, T(1), a + ia * g.m * g.k, g.k, dco, g.n,
             wrote_b[ib] ? T(1) : beta_b, db + ib * g.k * g.n, g.n);
      wrote_b[ib] = true;
    }
  }
  // A matrix no output used (an empty batch extent elsewhere) still gets its zero gradient.
  for (int64_t i = 0; da && !acc_a && i < g.na; ++i)
    if (!wrote_a[i]) k.fill(da + i * g.m * g.k, g.m * g.k, T(0));
  for (int64_t i = 0; db && !acc_b && i < g.nb; ++i)
    if (!wrote_b[i]) k.fill(db + i * g.k * g.n, g.k * g.n, T(0));
}

OpDef make_matmul() {
  OpDef d;
  d.name = "matmul";
  d.min_inputs = d.max_inputs = 2;
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs&) {
    const TensorMeta &a = in[0], &b = in[1];
    EMBER_CHECK(is_floating(a.dtype) && a.dtype == b.dtype, TypeError,
                "op 'matmul': expected two float32 or two float64 operands, received ",
                dtype_name(a.dtype), " and ", dtype_name(b.dtype));
    check_shapes(a.shape, b.shape);
    const Geom g = geom_of(a.shape, b.shape);
    TensorMeta out{g.batch, a.dtype};
    if (a.shape.size() > 1) out.shape.push_back(a.shape[a.shape.size() - 2]);
    if (b.shape.size() > 1) out.shape.push_back(b.shape.back());
    return out;
  };
  d.forward = [](OpContext& ctx) {
    const Tensor &a = ctx.in(0), &b = ctx.in(1);
    check_shapes(a.shape(), b.shape());
    const Geom g = geom_of(a.shape(), b.shape());
    dispatch_float(a.dtype(), "op 'matmul'", [&](auto t) {
      using T = decltype(t);
      forward_t<T>(g, a.data<T>(), b.data<T>(), ctx.output->data<T>());
    });
  };
  d.backward = [](GradContext& ctx) {
    const Tensor &a = ctx.in(0), &b = ctx.in(1);
    const Geom g = geom_of(a.shape(), b.shape());
    dispatch_float(a.dtype(), "op 'matmul'", [&](auto t) {
      using T = decltype(t);
      backward_t<T>(g, a.data<T>(), b.data<T>(), ctx.grad_out->data<T>(),
                    ctx.wants(0) ? ctx.grad_in[0]->data<T>() : nullptr,
                    ctx.wants(1) ? ctx.grad_in[1]->data<T>() : nullptr, ctx.accumulate[0],
                    ctx.accumulate[1]);
    });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_matmul);

}  // namespace ember

// matmul with NumPy semantics: operands of rank >= 2 are stacks of matrices whose batch extents
// broadcast; a rank-1 left operand is a row vector (1, K) and a rank-1 right operand a column
// (K, 1), the promoted axis being dropped from the result.
// Products go through the family's gemm kernel (BLAS). When the right operand is a single matrix
// the left operand's batch folds into M, so (B, T, K) @ (K, N) is one GEMM, forward and backward;
// other batched cases run as a batch of GEMMs (one per thread when they are small). Backward: dA = dC @ B^T, dB = A^T @ dC, summed over the
// batch extents an operand was broadcast along; the first write to each gradient matrix uses
// beta = accumulate ? 1 : 0, later writes beta = 1.
#include <algorithm>
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

// Element offsets of each output matrix's operands and result (the batched, unfolded case).
struct Offsets {
  std::vector<int64_t> a, b, c;
};

Offsets offsets_of(const Geom& g) {
  Offsets off;
  off.a.resize(g.count);
  off.b.resize(g.count);
  off.c.resize(g.count);
  for (int64_t o = 0; o < g.count; ++o) {
    int64_t rem = o, ia = 0, ib = 0;
    for (size_t d = g.batch.size(); d-- > 0;) {
      const int64_t i = rem % g.batch[d];
      rem /= g.batch[d];
      ia += i * g.sa[d];
      ib += i * g.sb[d];
    }
    off.a[o] = ia * g.m * g.k;
    off.b[o] = ib * g.k * g.n;
    off.c[o] = o * g.m * g.n;
  }
  return off;
}

template <class T>
void forward_t(const Geom& g, const T* a, const T* b, T* c) {
  const auto& k = kernels<TensorOpsKernels<T>>(Device::cpu);
  if (g.fold()) {
    k.gemm(false, false, g.na * g.m, g.n, g.k, T(1), a, g.k, b, g.n, T(0), c, g.n);
    return;
  }
  const Offsets off = offsets_of(g);
  k.gemm_batch(false, false, g.m, g.n, g.k, T(1), a, off.a.data(), g.k, b, off.b.data(), g.n,
               T(0), c, off.c.data(), g.n, g.count);
}

// Gradient matrices of an operand broadcast along the batch receive several products: the first
// write to each uses `beta`, later writes add (beta = 1), one product at a time.
template <class T>
void accumulate_products(const TensorOpsKernels<T>& k, bool ta, bool tb, int64_t m, int64_t n,
                         int64_t kk, const T* x, const std::vector<int64_t>& x_off, int64_t ldx,
                         const T* y, const std::vector<int64_t>& y_off, int64_t ldy, T beta,
                         T* dst, const std::vector<int64_t>& dst_off, int64_t matrices,
                         int64_t matrix_size) {
  std::vector<bool> wrote(matrices, false);
  for (size_t o = 0; o < dst_off.size(); ++o) {
    const int64_t t = dst_off[o] / std::max<int64_t>(matrix_size, 1);
    k.gemm(ta, tb, m, n, kk, T(1), x + x_off[o], ldx, y + y_off[o], ldy,
           wrote[t] ? T(1) : beta, dst + dst_off[o], n);
    wrote[t] = true;
  }
  // A matrix no output used (an empty batch extent elsewhere) still gets its zero gradient.
  for (int64_t t = 0; beta == T(0) && t < matrices; ++t)
    if (!wrote[t]) k.fill(dst + t * matrix_size, matrix_size, T(0));
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
  const Offsets off = offsets_of(g);
  // dA[ia] (+)= dC[o] @ B[ib]^T ; dB[ib] (+)= A[ia]^T @ dC[o]. When an operand was not
  // broadcast its gradient matrices are distinct per output and the products run as a batch.
  if (da) {
    if (g.na == g.count)
      k.gemm_batch(false, true, g.m, g.k, g.n, T(1), dc, off.c.data(), g.n, b, off.b.data(), g.n,
                   beta_a, da, off.a.data(), g.k, g.count);
    else
      accumulate_products(k, false, true, g.m, g.k, g.n, dc, off.c, g.n, b, off.b, g.n, beta_a,
                          da, off.a, g.na, g.m * g.k);
  }
  if (db) {
    if (g.nb == g.count)
      k.gemm_batch(true, false, g.k, g.n, g.m, T(1), a, off.a.data(), g.k, dc, off.c.data(), g.n,
                   beta_b, db, off.b.data(), g.n, g.count);
    else
      accumulate_products(k, true, false, g.k, g.n, g.m, a, off.a, g.k, dc, off.c, g.n, beta_b,
                          db, off.b, g.nb, g.k * g.n);
  }
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

// dot_product_attention(q, k, v[, mask]): keras.ops.dot_product_attention's computation, fused.
//
// q (B, Tq, H, D), k (B, Tk, H, D), v (B, Tk, H, Dv) -> (B, Tq, H, Dv). Attrs:
//   scale    float; <= 0 or absent: 1 / sqrt(D)
//   causal   bool; key j visible to query i only when j <= i (Keras's lower-triangular
//            (Tq, Tk) mask, use_causal_mask / is_causal)
//   has_mask bool; a 4th input, the mask: same float dtype, 4-D, each extent either 1 or that of
//            (B, H, Tq, Tk); nonzero = attend. It is not differentiable.
//   fully_masked  "uniform" (default: keras.ops.dot_product_attention, a row with no visible
//            key attends uniformly to all keys) or "zero" (keras.layers.Softmax with a mask, which
//            MultiHeadAttention uses with dropout or return_attention_scores: such a row is 0)
//   dropout  float rate on the attention probabilities, applied only in training ("training":
//            -1 follows the plan, 0/1 force it, as op 'dropout').
// Masked logits are replaced by Keras's large negative, so a fully masked row attends uniformly
// (see kernels/attention.h). The kernels are FlashAttention-style: aux keeps only each row's max
// and inverse softmax sum, (B, H, Tq) each; backward recomputes the scores tile by tile, so the
// memory of forward + backward grows linearly with the sequence lengths.
#include <cmath>
#include <string>
#include <vector>

#include "ember/op.h"
#include "ember/threads.h"
#include "kernels/attention.h"

namespace ember {
namespace {

const char* const kWho = "op 'dot_product_attention'";

bool has_mask(const Attrs& a) { return a.get_bool("has_mask", false); }

// Attr "training": -1 follows the plan (fit vs predict), 0/1 force it, as op 'dropout'.
double dropout_rate(const OpContext& c) {
  const int64_t forced = c.attrs->get_int("training", -1);
  const bool training = forced < 0 ? c.training : forced != 0;
  return training ? c.attrs->get_float("dropout", 0.0) : 0.0;
}

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const bool masked = has_mask(a);
  const size_t want = masked ? 4 : 3;
  EMBER_CHECK(in.size() == want, ValueError, kWho, ": expected ", want, " inputs (query, key, value",
              masked ? ", mask" : "", ") for has_mask=", masked ? "true" : "false",
              ", received ", in.size());
  const char* names[] = {"query", "key", "value", "mask"};
  for (size_t i = 0; i < in.size(); ++i) {
    EMBER_CHECK(is_floating(in[i].dtype), TypeError, kWho, ": expected ", names[i],
                " to be float32 or float64, received ", dtype_name(in[i].dtype));
    EMBER_CHECK(in[i].dtype == in[0].dtype, TypeError, kWho, ": expected ", names[i], " to be ",
                dtype_name(in[0].dtype), " like query, received ", dtype_name(in[i].dtype));
    EMBER_CHECK(in[i].shape.size() == 4, ValueError, kWho, ": expected ", names[i],
                i == 3 ? " of rank 4 (broadcastable to (batch, heads, query_len, key_len))"
                       : " of rank 4 (batch, seq_len, heads, dim)",
                ", received shape ", shape_str(in[i].shape));
  }
  const Shape &q = in[0].shape, &k = in[1].shape, &v = in[2].shape;
  const auto agree = [&](int axis, const char* what) {
    EMBER_CHECK(dims_match(q[axis], k[axis]) && dims_match(q[axis], v[axis]) &&
                    dims_match(k[axis], v[axis]),
                ValueError, kWho, ": expected query, key and value to agree in ", what,
                " (axis ", axis, "), received shapes ", shape_str(q), ", ", shape_str(k), ", ",
                shape_str(v));
  };
  agree(0, "the batch size");
  agree(2, "the number of heads");
  EMBER_CHECK(dims_match(q[3], k[3]), ValueError, kWho,
              ": expected query and key to have the same depth (axis 3), received shapes ",
              shape_str(q), " and ", shape_str(k));
  EMBER_CHECK(dims_match(k[1], v[1]), ValueError, kWho,
              ": expected key and value to have the same sequence length (axis 1), received "
              "shapes ", shape_str(k), " and ", shape_str(v));
  const int64_t batch = q[0] != kUnknown ? q[0] : (k[0] != kUnknown ? k[0] : v[0]);
  const int64_t heads = q[2] != kUnknown ? q[2] : (k[2] != kUnknown ? k[2] : v[2]);
  const int64_t key_len = k[1] != kUnknown ? k[1] : v[1];
  if (masked) {
    const Shape& m = in[3].shape;
    const Shape full = {batch, heads, q[1], key_len};
    for (int i = 0; i < 4; ++i)
      EMBER_CHECK(m[i] == 1 || dims_match(m[i], full[i]), ValueError, kWho, ": the mask of shape ",
                  shape_str(m), " is not broadcastable to (batch, heads, query_len, key_len) = ",
                  shape_str(full), "; each extent must be 1 or the full extent");
  }
  const std::string rows = a.get_str("fully_masked", "uniform");
  EMBER_CHECK(rows == "uniform" || rows == "zero", ValueError, kWho,
              ": expected fully_masked to be \"uniform\" or \"zero\", received \"", rows, "\"");
  const double rate = a.get_float("dropout", 0.0);
  EMBER_CHECK(rate >= 0.0 && rate < 1.0, ValueError, kWho,
              ": expected a dropout rate in [0, 1), received ", rate);
  return {{batch, q[1], heads, v[3]}, in[0].dtype};
}

template <class T>
AttnProblem<T> problem(const std::vector<TensorMeta>& in, const Attrs& a) {
  AttnProblem<T> p;
  const Shape &q = in[0].shape, &v = in[2].shape;
  p.B = q[0];
  p.Tq = q[1];
  p.H = q[2];
  p.D = q[3];
  p.Tk = v[1];
  p.Dv = v[3];
  const double scale = a.get_float("scale", 0.0);
  p.scale = static_cast<T>(scale > 0.0 ? scale : 1.0 / std::sqrt(static_cast<double>(p.D)));
  p.causal = a.get_bool("causal", false);
  p.zero_empty_rows = a.get_str("fully_masked", "uniform") == "zero";
  if (has_mask(a)) {  // strides of a contiguous (mb, mh, mq, mk) array, 0 where broadcast
    const Shape& m = in[3].shape;
    int64_t stride = 1;
    for (int i = 3; i >= 0; --i) {
      p.mask_stride[i] = m[i] == 1 ? 0 : stride;
      stride *= m[i];
    }
  }
  return p;
}

std::vector<TensorMeta> metas_of(const OpContext& c) {
  std::vector<TensorMeta> m;
  for (const Tensor* t : c.inputs) m.push_back({t->shape(), t->dtype()});
  return m;
}

template <class T>
AttnProblem<T> problem_of(const OpContext& c) {
  AttnProblem<T> p = problem<T>(metas_of(c), *c.attrs);
  if (has_mask(*c.attrs)) p.mask = c.in(3).data<T>();
  p.dropout = dropout_rate(c);
  p.seed = c.seed;
  return p;
}

template <class T>
void forward_t(OpContext& c) {
  const AttnProblem<T> p = problem_of<T>(c);
  T* row_max = reinterpret_cast<T*>(c.aux->raw());
  T* row_inv = row_max + p.B * p.H * p.Tq;
  kernels<AttentionKernels<T>>(Device::cpu)
      .forward(p, c.in(0).data<T>(), c.in(1).data<T>(), c.in(2).data<T>(), c.output->data<T>(),
               row_max, row_inv, c.scratch->raw(), c.scratch->nbytes());
}

template <class T>
void backward_t(GradContext& c) {
  const AttnProblem<T> p = problem_of<T>(c);
  T* grads[3];
  for (int i = 0; i < 3; ++i) grads[i] = c.wants(i) ? c.grad_in[i]->data<T>() : nullptr;
  const T* row_max = reinterpret_cast<const T*>(c.aux->raw());
  kernels<AttentionKernels<T>>(Device::cpu)
      .backward(p, c.in(0).data<T>(), c.in(1).data<T>(), c.in(2).data<T>(),
                c.output->data<T>(), c.grad_out->data<T>(), row_max,
                row_max + p.B * p.H * p.Tq, grads[0], grads[0] && c.accumulate[0], grads[1],
                grads[1] && c.accumulate[1], grads[2], grads[2] && c.accumulate[2],
                c.scratch->raw(), c.scratch->nbytes());
}

template <class F>
size_t work_bytes(const std::vector<TensorMeta>& in, const Attrs& a, F pick) {
  return dispatch_float(in[0].dtype, kWho, [&](auto t) -> size_t {
    using T = decltype(t);
    return pick(kernels<AttentionKernels<T>>(Device::cpu))(problem<T>(in, a), get_num_threads());
  });
}

OpDef make_dot_product_attention() {
  OpDef d;
  d.name = "dot_product_attention";
  d.min_inputs = 3;
  d.max_inputs = 4;
  d.infer = infer;
  d.nondiff_inputs = {3};
  d.aux_bytes = [](const std::vector<TensorMeta>& in, const Attrs&, bool) {
    const Shape& q = in[0].shape;
    return static_cast<size_t>(2 * q[0] * q[1] * q[2]) * dtype_size(in[0].dtype);
  };
  d.forward_scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    return work_bytes(in, a, [](const auto& k) { return k.forward_work; });
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) {
    return work_bytes(in, a, [](const auto& k) { return k.backward_work; });
  };
  d.forward = [](OpContext& c) {
    dispatch_float(c.in(0).dtype(), kWho, [&](auto t) { forward_t<decltype(t)>(c); });
  };
  d.backward = [](GradContext& c) {
    dispatch_float(c.in(0).dtype(), kWho, [&](auto t) { backward_t<decltype(t)>(c); });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_dot_product_attention);

}  // namespace ember

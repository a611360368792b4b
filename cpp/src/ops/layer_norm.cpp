// layer_norm(x[, gamma][, beta]): Keras 3 LayerNormalization's computation (ops.layer_normalization).
//
// Inputs: x, then gamma when attr "has_gamma" and beta when "has_beta" (both default false),
// each of exactly the normalised trailing shape x.shape[begin_axis:]. Attrs: "begin_axis" (int,
// negative allowed, default -1): the first of the trailing axes normalised together;
// "epsilon" (default 1e-3, Keras's LayerNormalization default); "rms_scaling" (bool: Keras
// 3.15's rms_scaling=True, y = x * rsqrt(var(x) + epsilon) * gamma with the centred variance
// and no beta, which Keras never creates in that mode, so passing one is an error).
// aux keeps the per-row mean and 1 / sqrt(var + epsilon) for the fused backward.
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/layer_norm.h"

namespace ember {
namespace {

const char* const kWho = "op 'layer_norm'";

struct Rows {
  int64_t rows = 1, n = 1;
};

int begin_axis(const Shape& x, const Attrs& a) {
  return normalize_axis(a.get_int("begin_axis", -1), static_cast<int>(x.size()), kWho);
}

Rows rows_of(const Shape& x, const Attrs& a) {
  const int axis = begin_axis(x, a);
  Rows r;
  for (int i = 0; i < axis; ++i) r.rows *= x[i];
  for (size_t i = axis; i < x.size(); ++i) r.n *= x[i];
  return r;
}

bool has_gamma(const Attrs& a) { return a.get_bool("has_gamma", false); }
bool has_beta(const Attrs& a) { return a.get_bool("has_beta", false); }

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const bool g = has_gamma(a), b = has_beta(a), rms = a.get_bool("rms_scaling", false);
  std::vector<std::string> names = {"x"};
  if (g) names.push_back("gamma");
  if (b) names.push_back("beta");
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  EMBER_CHECK(in.size() == names.size(), ValueError, kWho, ": expected ", names.size(),
              " input", names.size() == 1 ? "" : "s", " (", list, ") for has_gamma=",
              g ? "true" : "false", ", has_beta=", b ? "true" : "false", ", received ", in.size());
  EMBER_CHECK(!(rms && b), ValueError, kWho,
              ": rms_scaling=true takes no beta (Keras's LayerNormalization creates none in "
              "that mode); received has_beta=true");
  const TensorMeta& x = in[0];
  EMBER_CHECK(is_floating(x.dtype), TypeError, kWho,
              ": expected x to be float32 or float64, received ", dtype_name(x.dtype));
  EMBER_CHECK(!x.shape.empty(), ValueError, kWho,
              ": expected x of rank 1 or more, received a scalar");
  const int axis = begin_axis(x.shape, a);
  const Shape trailing(x.shape.begin() + axis, x.shape.end());
  for (size_t i = 1; i < in.size(); ++i) {
    EMBER_CHECK(in[i].dtype == x.dtype, TypeError, kWho, ": expected ", names[i], " to be ",
                dtype_name(x.dtype), " like x, received ", dtype_name(in[i].dtype));
    bool ok = in[i].shape.size() == trailing.size();
    for (size_t d = 0; ok && d < trailing.size(); ++d) ok = dims_match(in[i].shape[d], trailing[d]);
    EMBER_CHECK(ok, ValueError, kWho, ": expected ", names[i], " of shape ", shape_str(trailing),
                " (the axes of x ", shape_str(x.shape), " from begin_axis ",
                a.get_int("begin_axis", -1), "), received ", shape_str(in[i].shape));
  }
  const double eps = a.get_float("epsilon", 1e-3);
  EMBER_CHECK(eps >= 0.0, ValueError, kWho, ": expected epsilon >= 0, received ", eps);
  return x;
}

template <class T>
void forward_t(OpContext& c) {
  const Tensor& x = c.in(0);
  const Rows r = rows_of(x.shape(), *c.attrs);
  const bool g = has_gamma(*c.attrs), b = has_beta(*c.attrs);
  T* mean = reinterpret_cast<T*>(c.aux->raw());
  kernels<LayerNormKernels<T>>(Device::cpu)
      .forward(x.data<T>(), c.output->data<T>(), r.rows, r.n, g ? c.in(1).data<T>() : nullptr,
               b ? c.in(1 + g).data<T>() : nullptr, c.attrs->get_float("epsilon", 1e-3),
               c.attrs->get_bool("rms_scaling", false), mean, mean + r.rows);
}

template <class T>
void backward_t(GradContext& c) {
  const bool g = has_gamma(*c.attrs), b = has_beta(*c.attrs);
  const int gi = 1, bi = 1 + g;
  T* dx = c.wants(0) ? c.grad_in[0]->data<T>() : nullptr;
  T* dgamma = g && c.wants(gi) ? c.grad_in[gi]->data<T>() : nullptr;
  T* dbeta = b && c.wants(bi) ? c.grad_in[bi]->data<T>() : nullptr;
  if (!dx && !dgamma && !dbeta) return;
  const Tensor& x = c.in(0);
  const Rows r = rows_of(x.shape(), *c.attrs);
  const T* mean = reinterpret_cast<const T*>(c.aux->raw());
  kernels<LayerNormKernels<T>>(Device::cpu)
      .backward(x.data<T>(), c.grad_out->data<T>(), r.rows, r.n, g ? c.in(gi).data<T>() : nullptr,
                c.attrs->get_bool("rms_scaling", false), mean, mean + r.rows, dx,
                dx && c.accumulate[0], dgamma, dgamma && c.accumulate[gi], dbeta,
                dbeta && c.accumulate[bi], reinterpret_cast<double*>(c.scratch->raw()));
}

OpDef make_layer_norm() {
  OpDef d;
  d.name = "layer_norm";
  d.min_inputs = 1;
  d.max_inputs = 3;
  d.infer = infer;
  d.aux_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a, bool) {
    return static_cast<size_t>(2 * rows_of(in[0].shape, a).rows) * dtype_size(in[0].dtype);
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) {
    const Rows r = rows_of(in[0].shape, a);
    return static_cast<size_t>(ln_backward_work(r.rows, r.n)) * sizeof(double);
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

EMBER_REGISTER_OP(make_layer_norm);

}  // namespace ember

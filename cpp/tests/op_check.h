// Direct checks of one OpDef, without graph or plan: run its forward on concrete tensors and
// compare its backward against float64 central differences.
#pragma once
#include <random>

#include "ember/op.h"

namespace opcheck {

using namespace ember;

inline Tensor random_tensor(Shape s, DType t, uint32_t seed, double lo = -1, double hi = 1) {
  Tensor x(s, t);
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < x.size(); ++i) {
    if (t == DType::f64) x.data<double>()[i] = u(g);
    else x.data<float>()[i] = static_cast<float>(u(g));
  }
  return x;
}

inline Tensor forward(const std::string& op, const Attrs& attrs, const std::vector<Tensor>& in,
                      bool training = false, uint64_t seed = 7) {
  const OpDef& d = OpRegistry::instance().get(op);
  std::vector<TensorMeta> metas;
  for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
  TensorMeta m = d.infer(metas, attrs);
  Tensor out(m.shape, m.dtype);
  Tensor aux;
  if (d.aux_bytes) aux = Tensor({static_cast<int64_t>(d.aux_bytes(metas, attrs, training) / 4 + 1)}, DType::f32);
  Tensor scratch;
  if (d.forward_scratch_bytes)
    scratch = Tensor({static_cast<int64_t>(d.forward_scratch_bytes(metas, attrs) / 4 + 1)}, DType::f32);
  OpContext ctx;
  for (auto& t : in) ctx.inputs.push_back(&t);
  ctx.output = &out;
  ctx.attrs = &attrs;
  ctx.aux = &aux;
  ctx.scratch = &scratch;
  ctx.training = training;
  ctx.seed = seed;
  d.forward(ctx);
  return out;
}

// Max relative error between backward's gradients and central differences of
// L = sum(G * op(inputs)) for a random G, over the float64 inputs listed in `wrt`.
inline double grad_error(const std::string& op, const Attrs& attrs, std::vector<Tensor> in,
                         const std::vector<int>& wrt, bool training = false, double eps = 1e-6) {
  const OpDef& d = OpRegistry::instance().get(op);
  Tensor out = forward(op, attrs, in, training);
  Tensor G = random_tensor(out.shape(), DType::f64, 99);
  std::vector<TensorMeta> metas;
  for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
  Tensor aux;
  if (d.aux_bytes) aux = Tensor({static_cast<int64_t>(d.aux_bytes(metas, attrs, training) / 4 + 1)}, DType::f32);
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &attrs;
  gc.aux = &aux;
  gc.training = training;
  gc.seed = 7;
  Tensor fwd_scratch;
  if (d.forward_scratch_bytes)
    fwd_scratch = Tensor({static_cast<int64_t>(d.forward_scratch_bytes(metas, attrs) / 4 + 1)}, DType::f32);
  gc.scratch = &fwd_scratch;
  d.forward(gc);  // refresh aux for backward
  gc.grad_out = &G;
  std::vector<Tensor> grads;
  for (auto& t : in) grads.emplace_back(t.shape(), t.dtype());
  gc.grad_in.assign(in.size(), nullptr);
  gc.accumulate.assign(in.size(), false);
  for (int i : wrt) gc.grad_in[i] = &grads[i];
  Tensor scratch;
  if (d.scratch_bytes)
    scratch = Tensor({static_cast<int64_t>(d.scratch_bytes(metas, attrs, gc.wanted()) / 4 + 1)},
                     DType::f32);
  gc.scratch = &scratch;
  d.backward(gc);
  auto loss = [&]() {
    Tensor o = forward(op, attrs, in, training);
    double s = 0;
    for (int64_t j = 0; j < o.size(); ++j) s += o.data<double>()[j] * G.data<double>()[j];
    return s;
  };
  double worst = 0;
  for (int i : wrt) {
    double* x = in[i].data<double>();
    for (int64_t j = 0; j < in[i].size(); ++j) {
      double keep = x[j];
      x[j] = keep + eps;
      double lp = loss();
      x[j] = keep - eps;
      double lm = loss();
      x[j] = keep;
      double num = (lp - lm) / (2 * eps);
      double ana = grads[i].data<double>()[j];
      double err = std::fabs(num - ana) / std::max(1.0, std::fabs(num) + std::fabs(ana));
      worst = std::max(worst, err);
    }
  }
  return worst;
}

}  // namespace opcheck

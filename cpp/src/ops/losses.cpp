// Loss ops with Keras 3 semantics: inputs (y_true, y_pred), a scalar output of y_pred's dtype
// that is the mean of the per-sample losses (Keras's 'sum_over_batch_size' reduction). The
// gradient flows to y_pred only; y_true is never differentiated.
//
//   sparse_categorical_crossentropy  from_logits=false, axis=-1
//   categorical_crossentropy         from_logits=false, label_smoothing=0, axis=-1
//   binary_crossentropy              from_logits=false, label_smoothing=0 (mean over last axis)
//   mean_squared_error, mean_absolute_error                               (mean over last axis)
//
// A per-sample value that is a mean over the last axis makes the batch mean the mean over all
// elements, which is what the elementwise kernels compute.
#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/losses.h"
#include "ops/loss_helpers.h"

namespace ember {
namespace {

using namespace loss_detail;

const LossKernels& loss_kernels() { return kernels<LossKernels>(Device::cpu); }

template <class T>
void write_mean(const OpContext& ctx, double sum, int64_t count) {
  ctx.output->data<T>()[0] = count > 0 ? static_cast<T>(sum / static_cast<double>(count)) : T(0);
}

// d(mean)/d(sum) times the incoming scalar gradient.
template <class T>
T grad_scale(const GradContext& g, int64_t count) {
  return count > 0 ? g.grad_out->data<T>()[0] / static_cast<T>(count) : T(0);
}

// ---------------------------------------------------------------- sparse categorical CE

constexpr const char* kSparseCE = "sparse_categorical_crossentropy";

// Checks the pairing and returns the number of classes (may be unknown in a symbolic graph).
int64_t sparse_ce_check(const std::vector<TensorMeta>& in, const Attrs& a) {
  check_y_pred_float(in[1], kSparseCE);
  sparse_label_shape(in[0].shape, in[1].shape, kSparseCE);
  check_last_axis(a, static_cast<int>(in[1].shape.size()), kSparseCE);
  a.get_bool("from_logits", false);  // type check of the attribute
  const int64_t classes = in[1].shape.back();
  EMBER_CHECK(classes != 0, ValueError, "op '", kSparseCE,
              "': expected y_pred with at least one class on its last axis, received ",
              shape_str(in[1].shape));
  return classes;
}

std::vector<TensorMeta> metas_of(const OpContext& ctx) {
  std::vector<TensorMeta> m;
  for (const Tensor* t : ctx.inputs) m.push_back({t->shape(), t->dtype()});
  return m;
}

OpDef make_sparse_categorical_crossentropy() {
  OpDef d;
  d.name = kSparseCE;
  d.min_inputs = d.max_inputs = 2;
  d.nondiff_inputs = {0};
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    sparse_ce_check(in, a);
    return scalar_of(in[1]);
  };
  d.forward = [](OpContext& ctx) {
    const int64_t classes = sparse_ce_check(metas_of(ctx), *ctx.attrs);
    const Tensor& pred = ctx.in(1);
    const int64_t rows = pred.size() / classes;
    const bool logits = ctx.attrs->get_bool("from_logits", false);
    // Labels are checked here, serially, before any kernel (and its threads) runs.
    const std::vector<int64_t> ids = class_ids(ctx.in(0), classes, kSparseCE, true);
    dispatch_float(pred.dtype(), kSparseCE, [&](auto tag) {
      using T = decltype(tag);
      const double sum =
          loss_kernels().of<T>().sparse_ce(pred.data<T>(), ids.data(), rows, classes, logits);
      write_mean<T>(ctx, sum, rows);
    });
  };
  d.backward = [](GradContext& g) {
    if (!g.wants(1)) return;
    const int64_t classes = sparse_ce_check(metas_of(g), *g.attrs);
    const Tensor& pred = g.in(1);
    const int64_t rows = pred.size() / classes;
    const bool logits = g.attrs->get_bool("from_logits", false);
    const std::vector<int64_t> ids = class_ids(g.in(0), classes, kSparseCE, true);
    dispatch_float(pred.dtype(), kSparseCE, [&](auto tag) {
      using T = decltype(tag);
      loss_kernels().of<T>().sparse_ce_grad(pred.data<T>(), ids.data(), rows, classes, logits,
                                            grad_scale<T>(g, rows), g.grad_in[1]->data<T>(),
                                            g.accumulate[1]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- dense-target losses

// Which dense-target loss an OpDef computes; one definition serves the four.
enum class DenseLoss { categorical_ce, binary_ce, squared_error, absolute_error };

struct DenseLayout {
  int64_t rows = 0;     // samples: the elements of the paired shape without its last axis
  int64_t classes = 0;  // the last extent of the paired shape
  int64_t count = 0;    // what the sum is divided by: rows (categorical CE) or all elements
};

Shape dense_check(const char* op, DenseLoss kind, const std::vector<TensorMeta>& in,
                  const Attrs& a) {
  check_y_pred_float(in[1], op);
  Shape paired = paired_shape(in[0].shape, in[1].shape, op);
  if (kind == DenseLoss::categorical_ce) check_last_axis(a, static_cast<int>(paired.size()), op);
  if (kind == DenseLoss::categorical_ce || kind == DenseLoss::binary_ce) {
    a.get_bool("from_logits", false);
    check_label_smoothing(a.get_float("label_smoothing", 0.0), op);
  }
  return paired;
}

DenseLayout dense_layout(const Shape& paired, DenseLoss kind) {
  DenseLayout l;
  l.rows = numel(drop_last(paired));
  l.classes = paired.back();
  l.count = kind == DenseLoss::categorical_ce ? l.rows : l.rows * l.classes;
  return l;
}

template <class T>
double dense_forward(DenseLoss kind, const LossFns<T>& k, const T* t, const T* p,
                     const DenseLayout& l, const Attrs& a) {
  const bool logits = a.get_bool("from_logits", false);
  const double ls = a.get_float("label_smoothing", 0.0);
  switch (kind) {
    case DenseLoss::categorical_ce:
      return l.classes == 0 ? 0.0 : k.categorical_ce(t, p, l.rows, l.classes, logits, ls);
    case DenseLoss::binary_ce: return k.binary_ce(t, p, l.count, logits, ls);
    case DenseLoss::squared_error: return k.squared_error(t, p, l.count);
    case DenseLoss::absolute_error: return k.absolute_error(t, p, l.count);
  }
  return 0.0;
}

template <class T>
void dense_backward(DenseLoss kind, const LossFns<T>& k, const T* t, const T* p,
                    const DenseLayout& l, const Attrs& a, T scale, T* dp, bool acc) {
  const bool logits = a.get_bool("from_logits", false);
  const double ls = a.get_float("label_smoothing", 0.0);
  switch (kind) {
    case DenseLoss::categorical_ce:
      if (l.classes > 0) k.categorical_ce_grad(t, p, l.rows, l.classes, logits, ls, scale, dp, acc);
      return;
    case DenseLoss::binary_ce: return k.binary_ce_grad(t, p, l.count, logits, ls, scale, dp, acc);
    case DenseLoss::squared_error: return k.squared_error_grad(t, p, l.count, scale, dp, acc);
    case DenseLoss::absolute_error: return k.absolute_error_grad(t, p, l.count, scale, dp, acc);
  }
}

OpDef dense_loss_def(const char* name, DenseLoss kind) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.nondiff_inputs = {0};
  d.infer = [name, kind](const std::vector<TensorMeta>& in, const Attrs& a) {
    dense_check(name, kind, in, a);
    return scalar_of(in[1]);
  };
  d.forward = [name, kind](OpContext& ctx) {
    const DenseLayout l = dense_layout(dense_check(name, kind, metas_of(ctx), *ctx.attrs), kind);
    const Tensor& pred = ctx.in(1);
    const Tensor target = cast_to(ctx.in(0), pred.dtype());
    dispatch_float(pred.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      const double sum = dense_forward<T>(kind, loss_kernels().of<T>(), target.data<T>(),
                                          pred.data<T>(), l, *ctx.attrs);
      write_mean<T>(ctx, sum, l.count);
    });
  };
  d.backward = [name, kind](GradContext& g) {
    if (!g.wants(1)) return;
    const DenseLayout l = dense_layout(dense_check(name, kind, metas_of(g), *g.attrs), kind);
    const Tensor& pred = g.in(1);
    const Tensor target = cast_to(g.in(0), pred.dtype());
    dispatch_float(pred.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      dense_backward<T>(kind, loss_kernels().of<T>(), target.data<T>(), pred.data<T>(), l,
                        *g.attrs, grad_scale<T>(g, l.count), g.grad_in[1]->data<T>(),
                        g.accumulate[1]);
    });
  };
  return d;
}

OpDef make_categorical_crossentropy() {
  return dense_loss_def("categorical_crossentropy", DenseLoss::categorical_ce);
}
OpDef make_binary_crossentropy() {
  return dense_loss_def("binary_crossentropy", DenseLoss::binary_ce);
}
OpDef make_mean_squared_error() {
  return dense_loss_def("mean_squared_error", DenseLoss::squared_error);
}
OpDef make_mean_absolute_error() {
  return dense_loss_def("mean_absolute_error", DenseLoss::absolute_error);
}

}  // namespace

EMBER_REGISTER_OP(make_sparse_categorical_crossentropy);
EMBER_REGISTER_OP(make_categorical_crossentropy);
EMBER_REGISTER_OP(make_binary_crossentropy);
EMBER_REGISTER_OP(make_mean_squared_error);
EMBER_REGISTER_OP(make_mean_absolute_error);

}  // namespace ember

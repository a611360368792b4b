// Accuracy metric ops with Keras 3's definitions: inputs (y_true, y_pred), a scalar of y_pred's
// float dtype holding the fraction of matches in the batch (0 for an empty batch). Forward only:
// no gradient flows through a metric.
//
//   sparse_categorical_accuracy  argmax(y_pred) == y_true (integer class ids)
//   categorical_accuracy         argmax(y_pred) == argmax(y_true) (one-hot or scores)
//   binary_accuracy              (y_pred > threshold) == y_true, threshold=0.5
#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/losses.h"
#include "ops/loss_helpers.h"

namespace ember {
namespace {

using namespace loss_detail;

const LossKernels& metric_kernels() { return kernels<LossKernels>(Device::cpu); }

std::vector<TensorMeta> metas_of(const OpContext& ctx) {
  std::vector<TensorMeta> m;
  for (const Tensor* t : ctx.inputs) m.push_back({t->shape(), t->dtype()});
  return m;
}

template <class T>
void write_fraction(const OpContext& ctx, int64_t matches, int64_t count) {
  ctx.output->data<T>()[0] =
      count > 0 ? static_cast<T>(static_cast<double>(matches) / static_cast<double>(count)) : T(0);
}

OpDef metric_def(const char* name) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.nondiff_inputs = {0};
  d.backward = nullptr;  // a metric is not differentiable
  return d;
}

// ---------------------------------------------------------------- sparse_categorical_accuracy

constexpr const char* kSparseAcc = "sparse_categorical_accuracy";

void sparse_acc_check(const std::vector<TensorMeta>& in) {
  check_y_pred_float(in[1], kSparseAcc);
  sparse_label_shape(in[0].shape, in[1].shape, kSparseAcc);
}

OpDef make_sparse_categorical_accuracy() {
  OpDef d = metric_def(kSparseAcc);
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs&) {
    sparse_acc_check(in);
    return scalar_of(in[1]);
  };
  d.forward = [](OpContext& ctx) {
    sparse_acc_check(metas_of(ctx));
    const Tensor& pred = ctx.in(1);
    const int64_t classes = pred.dim(-1);
    const int64_t rows = numel(drop_last(pred.shape()));
    // A label that is no class id in range simply never matches, as in Keras.
    const std::vector<int64_t> ids = class_ids(ctx.in(0), classes, kSparseAcc, false);
    dispatch_float(pred.dtype(), kSparseAcc, [&](auto tag) {
      using T = decltype(tag);
      const int64_t m = metric_kernels().of<T>().sparse_matches(pred.data<T>(), ids.data(), rows,
                                                                classes);
      write_fraction<T>(ctx, m, rows);
    });
  };
  return d;
}

// ---------------------------------------------------------------- categorical_accuracy

constexpr const char* kCatAcc = "categorical_accuracy";

Shape cat_acc_check(const std::vector<TensorMeta>& in) {
  check_y_pred_float(in[1], kCatAcc);
  return paired_shape(in[0].shape, in[1].shape, kCatAcc);
}

OpDef make_categorical_accuracy() {
  OpDef d = metric_def(kCatAcc);
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs&) {
    cat_acc_check(in);
    return scalar_of(in[1]);
  };
  d.forward = [](OpContext& ctx) {
    const Shape paired = cat_acc_check(metas_of(ctx));
    const Tensor& pred = ctx.in(1);
    const Tensor target = cast_to(ctx.in(0), pred.dtype());
    const int64_t classes = paired.back();
    const int64_t rows = numel(drop_last(paired));
    dispatch_float(pred.dtype(), kCatAcc, [&](auto tag) {
      using T = decltype(tag);
      const int64_t m = metric_kernels().of<T>().argmax_matches(target.data<T>(), pred.data<T>(),
                                                                rows, classes);
      write_fraction<T>(ctx, m, rows);
    });
  };
  return d;
}

// ---------------------------------------------------------------- binary_accuracy

constexpr const char* kBinAcc = "binary_accuracy";

Shape bin_acc_check(const std::vector<TensorMeta>& in, const Attrs& a) {
  check_y_pred_float(in[1], kBinAcc);
  a.get_float("threshold", 0.5);  // type check of the attribute
  return paired_shape(in[0].shape, in[1].shape, kBinAcc);
}

OpDef make_binary_accuracy() {
  OpDef d = metric_def(kBinAcc);
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    bin_acc_check(in, a);
    return scalar_of(in[1]);
  };
  d.forward = [](OpContext& ctx) {
    bin_acc_check(metas_of(ctx), *ctx.attrs);
    const Tensor& pred = ctx.in(1);
    const Tensor target = cast_to(ctx.in(0), pred.dtype());
    const double threshold = ctx.attrs->get_float("threshold", 0.5);
    dispatch_float(pred.dtype(), kBinAcc, [&](auto tag) {
      using T = decltype(tag);
      const int64_t n = pred.size();
      const int64_t m = metric_kernels().of<T>().threshold_matches(
          target.data<T>(), pred.data<T>(), n, static_cast<T>(threshold));
      write_fraction<T>(ctx, m, n);
    });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_sparse_categorical_accuracy);
EMBER_REGISTER_OP(make_categorical_accuracy);
EMBER_REGISTER_OP(make_binary_accuracy);

}  // namespace ember

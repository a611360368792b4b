// Shared by the loss ops (losses.cpp) and the metric ops (metrics.cpp): how Keras pairs
// y_true with y_pred, label conversion and checking, and dtype casting of y_true.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "ember/error.h"
#include "ember/op.h"

namespace ember {
namespace loss_detail {

inline Shape drop_last(const Shape& s) { return Shape(s.begin(), s.end() - 1); }

// Dims agree one by one (unknown extents agree with anything); known extents win the merge.
inline bool merge_dims(const Shape& a, const Shape& b, Shape* out) {
  if (a.size() != b.size()) return false;
  out->resize(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!dims_match(a[i], b[i])) return false;
    (*out)[i] = a[i] == kUnknown ? b[i] : a[i];
  }
  return true;
}

// The common shape of (y_true, y_pred) after Keras's squeeze_or_expand_to_same_rank: equal
// shapes, or one side with an extra trailing 1. The element order is the same either way, so
// the ops pair element i of y_true with element i of y_pred and take classes (or the
// per-sample axis) from the last extent of the returned shape.
inline Shape paired_shape(const Shape& t, const Shape& p, const char* op) {
  auto fail = [&]() -> Shape {
    throw ValueError(detail::concat("op '", op, "': expected y_true and y_pred to have the same "
                                    "shape (or to differ by a trailing 1), received y_true ",
                                    shape_str(t), " and y_pred ", shape_str(p)));
  };
  EMBER_CHECK(!p.empty() && !t.empty(), ValueError, "op '", op,
              "': expected y_true and y_pred of rank >= 1, received y_true ", shape_str(t),
              " and y_pred ", shape_str(p));
  Shape out;
  if (t.size() == p.size()) {
    if (!merge_dims(t, p, &out)) fail();
    return out;
  }
  // The longer side has a trailing 1: Keras expands a rank-1 partner, else squeezes it away.
  const bool t_longer = t.size() == p.size() + 1;
  const Shape& longer = t_longer ? t : p;
  const Shape& shorter = t_longer ? p : t;
  if (!(t_longer || p.size() == t.size() + 1) || !dims_match(longer.back(), 1)) fail();
  if (!merge_dims(drop_last(longer), shorter, &out)) fail();
  if (shorter.size() == 1) out.push_back(1);
  return out;
}

// The label shape sparse ops accept: y_pred's shape without its class axis, or that with a
// trailing 1. Returns the merged label shape (rows = its element count).
inline Shape sparse_label_shape(const Shape& t, const Shape& p, const char* op) {
  EMBER_CHECK(!p.empty(), ValueError, "op '", op,
              "': expected y_pred of rank >= 1 with classes on the last axis, received ",
              shape_str(p));
  Shape want = drop_last(p);
  Shape labels = t;
  if (t.size() == p.size() && dims_match(t.back(), 1)) labels = drop_last(t);
  Shape out;
  Shape with_one = want;
  with_one.push_back(1);
  EMBER_CHECK(merge_dims(labels, want, &out), ValueError, "op '", op, "': expected y_true of shape ",
              shape_str(want), " or ", shape_str(with_one),
              " (y_pred's shape without its class axis), received y_true ", shape_str(t),
              " and y_pred ", shape_str(p));
  return out;
}

// Only the last axis can hold the classes.
inline void check_last_axis(const Attrs& attrs, int rank, const char* op) {
  const int64_t axis = attrs.get_int("axis", -1);
  EMBER_CHECK(axis == -1 || axis == rank - 1, ValueError, "op '", op,
              "': only axis=-1 (the last axis) is supported, received axis=", axis);
}

inline void check_label_smoothing(double ls, const char* op) {
  EMBER_CHECK(ls >= 0.0 && ls <= 1.0, ValueError, "op '", op,
              "': expected label_smoothing in [0, 1], received ", ls);
}

inline void check_y_pred_float(const TensorMeta& p, const char* op) {
  EMBER_CHECK(is_floating(p.dtype), TypeError, "op '", op,
              "': expected y_pred of dtype float32 or float64, received ", dtype_name(p.dtype));
}

// A scalar of y_pred's float dtype: what every loss and metric op returns.
inline TensorMeta scalar_of(const TensorMeta& pred) { return TensorMeta{Shape{}, pred.dtype}; }

// y_true in y_pred's dtype (a copy only when the dtypes differ), as Keras casts it.
inline Tensor cast_to(const Tensor& t, DType to) {
  if (t.dtype() == to) return t;
  Tensor out(t.shape(), to);
  auto read = [&](int64_t i) -> double {
    switch (t.dtype()) {
      case DType::f32: return t.data<float>()[i];
      case DType::f64: return t.data<double>()[i];
      case DType::i32: return t.data<int32_t>()[i];
      default: return static_cast<double>(t.data<int64_t>()[i]);
    }
  };
  for (int64_t i = 0; i < t.size(); ++i) {
    if (to == DType::f32) out.data<float>()[i] = static_cast<float>(read(i));
    else out.data<double>()[i] = read(i);
  }
  return out;
}

// Integer class ids from labels of any dtype. Strict (losses): a label that is not an integer
// in [0, classes) is a ValueError naming the op. Lenient (metrics): such a label becomes -1,
// which never matches a prediction, as a Keras equality test would never match it.
inline std::vector<int64_t> class_ids(const Tensor& labels, int64_t classes, const char* op,
                                      bool strict) {
  const int64_t n = labels.size();
  std::vector<int64_t> ids(static_cast<size_t>(n));
  auto bad_float = [&](double v) {
    EMBER_CHECK(!strict, ValueError, "op '", op, "': labels must be integers in [0, ", classes,
                "), received ", v);
  };
  for (int64_t i = 0; i < n; ++i) {
    int64_t id;
    if (labels.dtype() == DType::i32 || labels.dtype() == DType::i64) {
      id = labels.dtype() == DType::i32 ? labels.data<int32_t>()[i] : labels.data<int64_t>()[i];
    } else {
      const double v = labels.dtype() == DType::f32 ? labels.data<float>()[i]
                                                    : labels.data<double>()[i];
      if (!(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15)) {
        bad_float(v);
        ids[i] = -1;
        continue;
      }
      id = static_cast<int64_t>(v);
    }
    if (id < 0 || id >= classes) {
      EMBER_CHECK(!strict, ValueError, "op '", op, "': labels must be in [0, ", classes,
                  "), received ", id);
      id = -1;
    }
    ids[i] = id;
  }
  return ids;
}

}  // namespace loss_detail
}  // namespace ember

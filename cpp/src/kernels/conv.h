// The convolution family: conv (im2col + BLAS, or direct kernels for small reductions),
// conv_transpose (the im2col kernels with the roles of the two sides swapped) and
// depthwise_conv (direct loops).
//
// Every convolution here is described from two sides. The *image* side is the spatial tensor
// the kernel slides over (conv's input, conv_transpose's output); the *column* side has one
// pixel per kernel placement (conv's output, conv_transpose's input). A column-side pixel at
// position o reads the image at o * stride + tap * dilation - pad on each spatial axis. im2col
// gathers, for a range of column-side rows, one matrix row per pixel holding every tap's
// channels; col2im adds such a matrix back onto the image. conv's forward and conv_transpose's
// data gradient are im2col + gemm; conv_transpose's forward and conv's strided data gradient
// are gemm + col2im; with unit strides conv's data gradient is a convolution of its own
// (adjoint_geom, flip_kernel), im2col + gemm again.
//
// Geometry is always 3-D: 1-D and 2-D convolutions get leading spatial extents of 1. A "row" is
// one (image, depth, height) line of the column side: rows are the unit of tiling, since a
// range of rows is a contiguous block of the column-side tensor.
//
// The ops also share their attribute rules from here (padding, strides, fused activations).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ember/attrs.h"
#include "ember/dtype.h"
#include "ember/error.h"
#include "ember/kernel_registry.h"
#include "ember/shape.h"
#include "kernels/elementwise.h"

namespace ember {

struct ConvGeom {
  int64_t batch = 0;
  int64_t img[3] = {1, 1, 1};  // image-side spatial extents
  int64_t out[3] = {1, 1, 1};  // column-side spatial extents
  int64_t k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dil[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};  // leading (left) padding of the image; the right side is implied
  int64_t channels = 0;        // image-side channels, all groups together
  int64_t groups = 1;          // im2col lays a pixel's row out as [group][tap][channel of group]

  int64_t taps() const { return k[0] * k[1] * k[2]; }
  int64_t col_width() const { return taps() * channels; }
  int64_t rows_per_image() const { return out[0] * out[1]; }
  int64_t rows() const { return batch * rows_per_image(); }
  int64_t column_pixels() const { return rows() * out[2]; }  // none: nothing to multiply
  int64_t img_pixels() const { return img[0] * img[1] * img[2]; }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
  // 1x1, stride 1, unpadded, same extents: the column matrix is the image itself.
  bool pointwise() const {
    for (int i = 0; i < 3; ++i)
      if (k[i] != 1 || stride[i] != 1 || pad[i] != 0 || img[i] != out[i]) return false;
    return true;
  }
};

// The geometry of the adjoint of a stride-1 convolution, which maps the column side back onto
// the image side as a convolution of its own (with the flipped kernel): its image side is g's
// column side, and vice versa.
inline ConvGeom adjoint_geom(const ConvGeom& g, int64_t column_channels) {
  ConvGeom a = g;
  for (int i = 0; i < 3; ++i) {
    a.img[i] = g.out[i];
    a.out[i] = g.img[i];
    a.stride[i] = 1;
    a.pad[i] = (g.k[i] - 1) * g.dil[i] - g.pad[i];
  }
  a.channels = column_channels;
  return a;
}

inline bool unit_strides(const ConvGeom& g) {
  return g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
}

// ---------------------------------------------------------------- shared attribute rules
// (the ops' own checks; the Keras/TF padding rule)

// Effective extent of a dilated kernel.
inline int64_t dilated(int64_t k, int64_t d) { return (k - 1) * d + 1; }

// Output extent of a conv along one axis ('valid', 'same' or 'causal'); unknown stays unknown.
inline int64_t conv_out_extent(int64_t in, int64_t k, int64_t s, int64_t d,
                               const std::string& padding) {
  if (in == kUnknown) return kUnknown;
  if (padding == "valid") return (in - dilated(k, d)) / s + 1;
  return (in + s - 1) / s;  // same, causal: ceil(in / s)
}

// Left padding of a conv along one axis: 'same' splits the total as TF (extra on the right),
// 'causal' pads (k - 1) * d on the left only.
inline int64_t conv_pad_left(int64_t in, int64_t k, int64_t s, int64_t d,
                             const std::string& padding) {
  if (padding == "valid") return 0;
  if (padding == "causal") return dilated(k, d) - 1;
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + dilated(k, d) - in, 0);
  return total / 2;
}

// One positive integer per spatial axis from attribute `key` (a single value applies to all).
inline std::vector<int64_t> conv_axis_ints(const char* op, const Attrs& a, const char* key,
                                           int nsp) {
  std::vector<int64_t> v = a.get_ints(key, std::vector<int64_t>(nsp, 1));
  if (v.size() == 1 && nsp > 1) v.assign(nsp, v[0]);
  std::string got = "(";
  for (size_t i = 0; i < v.size(); ++i) got += (i ? ", " : "") + std::to_string(v[i]);
  got += v.size() == 1 ? ",)" : ")";
  EMBER_CHECK(static_cast<int>(v.size()) == nsp, ValueError, "op '", op, "': expected ", key,
              " with one value per spatial axis (", nsp, "), received ", got);
  for (int64_t e : v)
    EMBER_CHECK(e > 0, ValueError, "op '", op, "': expected positive ", key, ", received ", got);
  return v;
}

inline std::string conv_padding(const char* op, const Attrs& a, int nsp, bool allow_causal) {
  const std::string p = a.get_str("padding", "valid");
  if (p == "valid" || p == "same") return p;
  if (p == "causal" && allow_causal) {
    EMBER_CHECK(nsp == 1, ValueError, "op '", op,
                "': padding 'causal' is only supported for 1-D convolutions (rank-3 inputs), "
                "received a ", nsp, "-D convolution (rank-", nsp + 2, " input)");
    return p;
  }
  const char* allowed = allow_causal ? "'valid', 'same' or 'causal'" : "'valid' or 'same'";
  throw ValueError(
      detail::concat("op '", op, "': expected padding ", allowed, ", received '", p, "'"));
}

// The spatial extents of the output of a convolution sliding a kernel (*k, ...) over x
// (batch, *spatial, channels), unknown where the input's are; checks the kernel's extents
// and that a 'valid' kernel fits the input. conv and depthwise_conv's shape inference.
inline Shape conv_output_spatial(const char* op, const Shape& x, const Shape& w, const Attrs& a,
                                 int nsp) {
  const auto strides = conv_axis_ints(op, a, "strides", nsp);
  const auto dilation = conv_axis_ints(op, a, "dilation", nsp);
  const std::string padding = conv_padding(op, a, nsp, true);
  Shape out;
  for (int i = 0; i < nsp; ++i) {
    const int64_t k = w[i], n = x[1 + i];
    EMBER_CHECK(k != kUnknown && k >= 1, ValueError, "op '", op,
                "': expected kernel spatial extents >= 1, received a kernel of shape ",
                shape_str(w));
    const int64_t keff = dilated(k, dilation[i]);
    if (padding == "valid" && n != kUnknown)
      EMBER_CHECK(keff <= n, ValueError, "op '", op, "': kernel size ", keff,
                  dilation[i] > 1 ? " (dilated)" : "", " is larger than the padded input size ",
                  n, " on spatial axis ", i + 1, " with padding 'valid'; input shape ",
                  shape_str(x), ", kernel shape ", shape_str(w));
    out.push_back(conv_out_extent(n, k, strides[i], dilation[i], padding));
  }
  return out;
}

// The concrete geometry of such a convolution: image side = x, column side = its output
// (1-D and 2-D fill the trailing axes). Groups are the op's to set.
inline ConvGeom conv_forward_geom(const char* op, const Shape& x, const Shape& w,
                                  const Attrs& a) {
  const int nsp = static_cast<int>(x.size()) - 2;
  const auto strides = conv_axis_ints(op, a, "strides", nsp);
  const auto dilation = conv_axis_ints(op, a, "dilation", nsp);
  const std::string padding = conv_padding(op, a, nsp, true);
  ConvGeom g;
  g.batch = x[0];
  g.channels = x.back();
  for (int i = 0; i < nsp; ++i) {
    const int j = 3 - nsp + i;
    g.img[j] = x[1 + i];
    g.k[j] = w[i];
    g.stride[j] = strides[i];
    g.dil[j] = dilation[i];
    g.pad[j] = conv_pad_left(x[1 + i], w[i], strides[i], dilation[i], padding);
    g.out[j] = conv_out_extent(x[1 + i], w[i], strides[i], dilation[i], padding);
  }
  return g;
}

// Bytes rounded up to whole cache lines: the family's scratch layouts start each part on one.
inline size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

// What every convolution-family op asks of (x, kernel): one float dtype, an input of rank 3-5
// (batch, *spatial, channels) and a kernel of the same rank laid out as `kernel_layout`.
// Returns the number of spatial axes.
inline int check_conv_operands(const char* op, const Shape& x, DType xt, const Shape& w, DType wt,
                               const char* kernel_layout) {
  EMBER_CHECK(xt == wt, TypeError, "op '", op, "': input is ", dtype_name(xt), " but kernel is ",
              dtype_name(wt));
  EMBER_CHECK(is_floating(xt), TypeError, "op '", op,
              "': expected a float32 or float64 input, received ", dtype_name(xt));
  const int rank = static_cast<int>(x.size());
  EMBER_CHECK(rank >= 3 && rank <= 5, ValueError, "op '", op,
              "': expected an input of rank 3, 4 or 5 (batch, *spatial, channels), received "
              "shape ", shape_str(x));
  EMBER_CHECK(static_cast<int>(w.size()) == rank, ValueError, "op '", op,
              "': expected a kernel of rank ", rank, " (", kernel_layout,
              ") for an input of shape ", shape_str(x), ", received a kernel of shape ",
              shape_str(w));
  return rank - 2;
}

// The activations these ops fuse: their derivative reads only the output, so backward keeps
// no pre-activation.
inline Act conv_activation(const char* op, const Attrs& a) {
  const std::string name = a.get_str("activation", "linear");
  if (name.empty() || name == "linear") return Act::linear;
  for (Act act : {Act::relu, Act::sigmoid, Act::tanh})
    if (name == act_name(act)) return act;
  throw ValueError(detail::concat("op '", op, "': activation '", name,
                                  "' cannot be fused; expected linear, relu, sigmoid or tanh"));
}

// ---------------------------------------------------------------- kernel tables

template <class T>
struct ConvFns {
  // col[(r - row0) * out[2] + ow, :] = the image values under every tap of column-side pixel
  // (r, ow), r in [row0, row1); zeros where a tap falls in the padding.
  void (*im2col)(const T* img, T* col, const ConvGeom& g, int64_t row0, int64_t row1);
  // Adds the column rows [row0, row1) back onto the images they came from. With `assign`
  // (only for whole-image ranges) each pixel of those images is first set to `init` (a
  // per-channel value, or zeros when null); otherwise the contributions are added.
  void (*col2im)(const T* col, T* img, const ConvGeom& g, int64_t row0, int64_t row1,
                 const T* init, bool assign);
  // y[r, :] = act(y[r, :] + bias) over rows x cols (bias may be null).
  void (*bias_act)(T* y, const T* bias, int64_t rows, int64_t cols, Act act);
  // y[r, :] = value (zeros when null) for every row.
  void (*fill_rows)(T* y, const T* value, int64_t rows, int64_t cols);
  // db (=, or += when accumulate) the column sums of gz (rows x cols).
  void (*bias_grad)(const T* gz, T* db, bool accumulate, int64_t rows, int64_t cols);
  // The kernel of the adjoint convolution: w holds taps matrices (a x b) whose b columns form
  // `groups` blocks of bg = b / groups; out[taps - 1 - t][j][grp * a + i] =
  // w[t][i][grp * bg + j]: taps reversed (every spatial axis flipped), each block transposed,
  // so that out is again a conv kernel (taps * bg rows, a * groups columns in groups).
  void (*flip_kernel)(const T* w, T* out, int64_t taps, int64_t a, int64_t b, int64_t groups);
};

struct ConvKernels {
  static constexpr const char* family = "conv";
  ConvFns<float> f32;
  ConvFns<double> f64;
  template <class T> const ConvFns<T>& fns() const {
    if constexpr (sizeof(T) == 4) return f32; else return f64;
  }
};

// Bytes of column matrix a CPU thread builds and multiplies at a time: BLAS's rate on the
// ResNet 3x3x64 conv (one core) was 109-112 GFLOP/s with 1.8-3.6 MB of columns at a time, 85%
// of that with 7 MB, 62% with 14 MB.
constexpr size_t kConvTileBytes = size_t(2) << 20;
// Threads keep partial kernel gradients of their own while all of them stay below this;
// beyond, they share each chunk of columns and BLAS splits the product.
constexpr size_t kConvPartialBytes = size_t(32) << 20;

// The products of the family, each over the column matrix of geometry g built piecewise in
// temporary memory (`scratch`, `scratch_bytes` from the matching *_scratch query, which the
// op asks for at plan time with the thread count). W is a conv kernel as a matrix of
// taps * (channels / groups) rows and `cols` columns, both split in g.groups blocks; `rows`
// matrices have one row per column-side pixel and `cols` columns.
template <class T>
struct ConvGemmFns {
  // out (=, or += when accumulate) im2col(img) @ W; when assigning, then act(out + bias)
  // (bias may be null). conv's forward, and the data gradients computed as convolutions.
  void (*im2col_gemm)(const T* img, const T* w, T* out, const ConvGeom& g, int64_t cols,
                      bool accumulate, const T* bias, Act act, T* scratch,
                      size_t scratch_bytes);
  size_t (*im2col_gemm_scratch)(const ConvGeom& g, size_t elem, int threads);
  // dw (=, or += when accumulate) im2col(img)^T @ rows: the kernel gradients.
  void (*filter_grad)(const T* img, const T* rows, T* dw, const ConvGeom& g, int64_t cols,
                      bool accumulate, T* scratch, size_t scratch_bytes);
  size_t (*filter_grad_scratch)(const ConvGeom& g, int64_t cols, size_t elem, int threads);
  // img (=, or += when accumulate) col2im(rows @ W^T); when assigning each pixel starts at
  // `init` (per channel; zeros when null). conv's strided data gradient, conv_transpose's
  // forward.
  void (*gemm_col2im)(const T* rows, const T* w, T* img, const ConvGeom& g, int64_t cols,
                      bool accumulate, const T* init, T* scratch, size_t scratch_bytes);
  size_t (*gemm_col2im_scratch)(const ConvGeom& g, size_t elem, int threads);
};

struct ConvGemmKernels {
  static constexpr const char* family = "conv_gemm";
  ConvGemmFns<float> f32;
  ConvGemmFns<double> f64;
  template <class T> const ConvGemmFns<T>& fns() const {
    if constexpr (sizeof(T) == 4) return f32; else return f64;
  }
};

// Direct kernels for convolutions whose reduction (taps x channels, one group) is small: the
// first layer of image models (3x3x1, 3x3x3, 5x5x3). There im2col's column rows are a few
// values long, so building them costs more than BLAS's product on them; these kernels copy the
// input lines a segment of pixels reads into cache and multiply them in registers, fusing bias
// and activation (forward) and the activation's gradient and the bias gradient (parameter
// gradients). The bound: with 2 threads, 3x3 kernels on 32x32 images at batch 32, the direct
// kernels beat im2col + BLAS in both passes up to 9 input channels (reduction 81) whatever the
// output channels; with 12 or 16 input channels and 128 output channels BLAS's forward pass
// is 10% faster. 75 keeps 5x5 RGB kernels direct.
constexpr int64_t kConvDirectMaxReduction = 75;

inline bool conv_direct(const ConvGeom& g) {
  return g.groups == 1 && !g.pointwise() && g.taps() * g.channels <= kConvDirectMaxReduction;
}

template <class T>
struct ConvDirectFns {
  // y = act(conv(x, w) + bias) (bias may be null); w is (taps * channels) x cout.
  void (*forward)(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, int64_t cout,
                  Act act, T* scratch, size_t scratch_bytes);
  // With gz = gy * act'(y) (gy itself when act is linear; y is read only otherwise):
  // dw (=, or += when accumulate_w) im2col(x)^T @ gz and, unless db is null, db (=, or +=)
  // the column sums of gz. gz is formed tile by tile, never whole.
  void (*param_grads)(const T* x, const T* gy, const T* y, Act act, T* dw, bool accumulate_w,
                      T* db, bool accumulate_b, const ConvGeom& g, int64_t cout, T* scratch,
                      size_t scratch_bytes);
  // Temporary memory either of the two needs with `threads` threads.
  size_t (*scratch)(const ConvGeom& g, int64_t cout, size_t elem, int threads);
};

struct ConvDirectKernels {
  static constexpr const char* family = "conv_direct";
  ConvDirectFns<float> f32;
  ConvDirectFns<double> f64;
  template <class T> const ConvDirectFns<T>& fns() const {
    if constexpr (sizeof(T) == 4) return f32; else return f64;
  }
};

// depthwise_conv: image side = x (channels C), column side = y (channels C * dm, output channel
// c * dm + m from input channel c, as Keras). Kernel (*k, C, dm) = taps x (C * dm).
template <class T>
struct DepthwiseFns {
  // y = act(depthwise(x, w) + bias) (bias may be null).
  void (*forward)(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, int64_t dm,
                  Act act);
  // dw (=, or +=) the kernel gradient from x and gz (the gradient at the pre-activation).
  void (*filter_grad)(const T* x, const T* gz, T* dw, bool accumulate, const ConvGeom& g,
                      int64_t dm);
  // dx (=, or +=) the input gradient from gz and w.
  void (*data_grad)(const T* gz, const T* w, T* dx, bool accumulate, const ConvGeom& g,
                    int64_t dm);
};

struct DepthwiseConvKernels {
  static constexpr const char* family = "depthwise_conv";
  DepthwiseFns<float> f32;
  DepthwiseFns<double> f64;
  template <class T> const DepthwiseFns<T>& fns() const {
    if constexpr (sizeof(T) == 4) return f32; else return f64;
  }
};

}  // namespace ember

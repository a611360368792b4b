// CPU drivers of the conv family's BLAS products (kernels/conv.h, ConvGemmFns). The column
// matrix is never built whole: im2col fills it piecewise in temporary memory.
//
// Products whose output rows follow the column rows (im2col_gemm) run in one parallel region:
// each thread takes tiles of rows, builds the tile's columns and multiplies them at once,
// while they are in its cache (single-threaded BLAS, no barrier between tiles, so a thread
// slowed by another process does not hold the others up). The kernel gradient sums over all
// rows: each thread keeps a partial kernel over a static block of tiles (deterministic for a
// given thread count), added up at the end, or, when those partials would be too large, the
// threads share one chunk at a time and BLAS splits the product. gemm_col2im adds rows back onto
// overlapping image pixels, so it goes chunk by chunk, col2im gathering per image row.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/blas.h"
#include "ember/kernel_registry.h"
#include "ember/threads.h"
#include "kernels/conv.h"

namespace ember {
namespace {

struct Tiling {
  size_t row_bytes = 0;   // columns of one column-side row (out[2] pixels)
  int64_t tile_rows = 0;  // rows per tile
  size_t slice = 0;       // bytes of one thread's tile, 64-byte aligned
  int64_t tiles = 0;
};

Tiling tiling(const ConvGeom& g, size_t elem) {
  Tiling t;
  t.row_bytes = g.out[2] * g.col_width() * elem;
  t.tile_rows = std::max<int64_t>(
      1, static_cast<int64_t>(kConvTileBytes / std::max<size_t>(t.row_bytes, 1)));
  t.slice = round64(t.tile_rows * t.row_bytes);
  t.tiles = (g.rows() + t.tile_rows - 1) / t.tile_rows;
  return t;
}

// One tile per thread, or all rows when that is less.
size_t columns_scratch(const ConvGeom& g, size_t elem, int threads) {
  if (g.pointwise() || g.column_pixels() == 0) return 0;
  const Tiling t = tiling(g, elem);
  const size_t tiles = static_cast<size_t>(std::max(threads, 1)) * t.slice;
  return std::max(std::min(g.rows() * t.row_bytes, tiles), t.row_bytes);
}

// The op planned at least one row of columns (see columns_scratch); less would overrun.
void check_scratch(size_t scratch_bytes, const Tiling& t) {
  EMBER_CHECK(scratch_bytes >= t.row_bytes, Error, "conv: temporary memory of ", scratch_bytes,
              " bytes is smaller than one row of columns (", t.row_bytes, " bytes)");
}

// Below two tiles per thread the threads share chunks instead: a few large products split by
// BLAS beat unevenly shared tiles.
bool enough_tiles(int threads, const Tiling& t) {
  return threads <= 1 || t.tiles >= 2 * static_cast<int64_t>(threads);
}

// Threads that work on tiles of their own, each with `per_thread` bytes of the scratch given;
// 0 when there are too few tiles (or too little scratch) and the threads share chunks.
int tile_threads(size_t scratch_bytes, size_t per_thread, const Tiling& t) {
  const int want = get_num_threads();
  const int n = static_cast<int>(
      std::min<int64_t>(want, static_cast<int64_t>(scratch_bytes / per_thread)));
  return n >= 1 && enough_tiles(want, t) ? n : 0;
}

template <class T>
void im2col_gemm(const T* img, const T* w, T* out, const ConvGeom& g, int64_t cols,
                 bool accumulate, const T* bias, Act act, T* scratch, size_t scratch_bytes) {
  const auto& k = kernels<ConvKernels>().fns<T>();
  const int64_t G = g.groups, kg = g.taps() * (g.channels / G), og = cols / G;
  const int64_t cw = g.col_width(), OW = g.out[2], rows = g.rows();
  const T beta = accumulate ? T(1) : T(0);
  const bool epilogue = !accumulate && (bias != nullptr || act != Act::linear);
  // out rows [r0, r0 + m / OW) from their columns `col` (leading dimension ld)
  auto product = [&](const T* col, int64_t ld, int64_t r0, int64_t m) {
    T* o = out + r0 * OW * cols;
    for (int64_t grp = 0; grp < G; ++grp)
      gemm<T>(false, false, m, og, kg, T(1), col + grp * kg, ld, w + grp * og, cols, beta,
              o + grp * og, cols);
    if (epilogue) k.bias_act(o, bias, m, cols, act);
  };
  if (g.column_pixels() == 0) return;
  if (g.pointwise()) {  // img is the column matrix
    product(img, g.channels, 0, rows * OW);
    return;
  }
  const Tiling t = tiling(g, sizeof(T));
  check_scratch(scratch_bytes, t);
  const int nth = tile_threads(scratch_bytes, t.slice, t);
  if (nth >= 1) {
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
      T* col = scratch + omp_get_thread_num() * (t.slice / sizeof(T));
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < t.tiles; ++i) {
        const int64_t r0 = i * t.tile_rows, r1 = std::min(rows, r0 + t.tile_rows);
        k.im2col(img, col, g, r0, r1);
        product(col, cw, r0, (r1 - r0) * OW);
      }
    }
    return;
  }
  // Few tiles: chunks shared by all threads, im2col and BLAS each splitting the work.
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(scratch_bytes / t.row_bytes));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    k.im2col(img, scratch, g, r0, r1);
    product(scratch, cw, r0, (r1 - r0) * OW);
  }
}

size_t im2col_gemm_scratch(const ConvGeom& g, size_t elem, int threads) {
  return columns_scratch(g, elem, threads);
}

size_t partial_bytes(const ConvGeom& g, int64_t cols, size_t elem) {
  return round64(g.taps() * (g.channels / g.groups) * cols * elem);
}

template <class T>
void filter_grad(const T* img, const T* rows_m, T* dw, const ConvGeom& g, int64_t cols,
                 bool accumulate, T* scratch, size_t scratch_bytes) {
  const auto& k = kernels<ConvKernels>().fns<T>();
  const int64_t G = g.groups, kg = g.taps() * (g.channels / G), og = cols / G;
  const int64_t cw = g.col_width(), OW = g.out[2], rows = g.rows(), dw_elems = kg * cols;
  // dw (=, or +=) col^T @ rows over rows [r0, r0 + m / OW), into `dst`
  auto product = [&](const T* col, int64_t ld, int64_t r0, int64_t m, T* dst, T beta) {
    const T* gr = rows_m + r0 * OW * cols;
    for (int64_t grp = 0; grp < G; ++grp)
      gemm<T>(true, false, kg, og, m, T(1), col + grp * kg, ld, gr + grp * og, cols, beta,
              dst + grp * og, cols);
  };
  if (g.column_pixels() == 0) {
    if (!accumulate) std::memset(dw, 0, sizeof(T) * dw_elems);
    return;
  }
  if (g.pointwise()) {
    product(img, g.channels, 0, rows * OW, dw, accumulate ? T(1) : T(0));
    return;
  }
  const Tiling t = tiling(g, sizeof(T));
  check_scratch(scratch_bytes, t);
  const size_t part = partial_bytes(g, cols, sizeof(T));
  const int nth = tile_threads(scratch_bytes, t.slice + part, t);
  if (nth > 1) {  // per-thread partial kernels
    char* base = reinterpret_cast<char*>(scratch);
#pragma omp parallel num_threads(nth)
    {
      char* mine = base + omp_get_thread_num() * (t.slice + part);
      T* col = reinterpret_cast<T*>(mine);
      T* acc = reinterpret_cast<T*>(mine + t.slice);
      bool first = true;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < t.tiles; ++i) {
        const int64_t r0 = i * t.tile_rows, r1 = std::min(rows, r0 + t.tile_rows);
        k.im2col(img, col, g, r0, r1);
        product(col, cw, r0, (r1 - r0) * OW, acc, first ? T(0) : T(1));
        first = false;
      }
      if (first) std::memset(acc, 0, sizeof(T) * dw_elems);
    }
#pragma omp parallel for schedule(static) if (dw_elems * nth > kParallelGrain)
    for (int64_t e = 0; e < dw_elems; ++e) {
      T s = accumulate ? dw[e] : T(0);
      for (int p = 0; p < nth; ++p)
        s += reinterpret_cast<const T*>(base + p * (t.slice + part))[e + (t.slice / sizeof(T))];
      dw[e] = s;
    }
    return;
  }
  // Shared chunks: im2col split over rows, the product split by BLAS over the kernel's rows.
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(scratch_bytes / t.row_bytes));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    k.im2col(img, scratch, g, r0, r1);
    product(scratch, cw, r0, (r1 - r0) * OW, dw, (accumulate || r0 > 0) ? T(1) : T(0));
  }
}

size_t filter_grad_scratch(const ConvGeom& g, int64_t cols, size_t elem, int threads) {
  if (g.pointwise() || g.column_pixels() == 0) return 0;
  const Tiling t = tiling(g, elem);
  const size_t part = partial_bytes(g, cols, elem);
  if (threads > 1 && enough_tiles(threads, t) && threads * part <= kConvPartialBytes)
    return threads * (t.slice + part);
  return columns_scratch(g, elem, threads);
}

template <class T>
void gemm_col2im(const T* rows_m, const T* w, T* img, const ConvGeom& g, int64_t cols,
                 bool accumulate, const T* init, T* scratch, size_t scratch_bytes) {
  const auto& k = kernels<ConvKernels>().fns<T>();
  const int64_t G = g.groups, Cg = g.channels / G, kg = g.taps() * Cg, og = cols / G;
  const int64_t cw = g.col_width(), OW = g.out[2], rows = g.rows();
  const int64_t img_rows = g.batch * g.img_pixels();
  if (g.column_pixels() == 0) {  // no column rows: the image is its starting value
    if (!accumulate) k.fill_rows(img, init, img_rows, g.channels);
    return;
  }
  if (g.pointwise()) {  // img is the column matrix
    T beta = accumulate ? T(1) : T(0);
    if (!accumulate && init) {
      k.fill_rows(img, init, img_rows, g.channels);
      beta = T(1);
    }
    for (int64_t grp = 0; grp < G; ++grp)
      gemm<T>(false, true, img_rows, Cg, og, T(1), rows_m + grp * og, cols, w + grp * og, cols,
              beta, img + grp * Cg, g.channels);
    return;
  }
  const Tiling t = tiling(g, sizeof(T));
  check_scratch(scratch_bytes, t);
  // Whole images per chunk when one fits: col2im then assigns each image at once; chunks
  // inside one image add up on an image set beforehand.
  const int64_t rpi = g.rows_per_image();
  int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(scratch_bytes / t.row_bytes));
  if (chunk >= rpi) chunk = std::min(rows, chunk / rpi * rpi);
  const bool whole = chunk % rpi == 0;
  if (!whole && !accumulate) k.fill_rows(img, init, img_rows, g.channels);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk), m = (r1 - r0) * OW;
    const T* gr = rows_m + r0 * OW * cols;
    for (int64_t grp = 0; grp < G; ++grp)
      gemm<T>(false, true, m, kg, og, T(1), gr + grp * og, cols, w + grp * og, cols, T(0),
              scratch + grp * kg, cw);
    k.col2im(scratch, img, g, r0, r1, init, whole && !accumulate);
  }
}

size_t gemm_col2im_scratch(const ConvGeom& g, size_t elem, int threads) {
  return columns_scratch(g, elem, threads);
}

template <class T>
ConvGemmFns<T> table() {
  return {im2col_gemm<T>,       im2col_gemm_scratch, filter_grad<T>,
          filter_grad_scratch, gemm_col2im<T>,      gemm_col2im_scratch};
}

const ConvGemmKernels cpu_conv_gemm = {table<float>(), table<double>()};

}  // namespace

EMBER_REGISTER_KERNELS(ConvGemmKernels, Device::cpu, cpu_conv_gemm);

}  // namespace ember

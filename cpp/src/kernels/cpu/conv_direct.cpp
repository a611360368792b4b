// CPU direct kernels for convolutions with a small reduction (kernels/conv.h, ConvDirectFns).
//
// Work is cut in segments of at most kTile column-side pixels inside one output line
// (n, d, h). For a segment a thread copies the input lines its taps read into a small padded
// band (one band row per (kd, kh) tap row, zeros where the taps fall in the padding); the
// segment's im2col matrix is then implicit: A[p, k] = band[p * stride * C + offset[k]]. Two
// register-blocked micro-kernels over GCC vector types multiply it:
//   forward  Y[segment] = A @ W:        RB pixels x NV vectors of output channels per block,
//   dW      dW         += A^T @ GZ[seg]: RB kernel rows x NV vectors of output channels.
// NV is 4 when the output channels fill blocks of 4 vectors, else 2 (the channels are padded
// up to a whole block in the packed kernel and the gradient tile); RB keeps 12 accumulators in
// flight either way. Threads take segments dynamically, so one slowed by another process does
// not hold the others up; for the parameter gradients the segments form kChunksPerThread fixed
// chunks per thread, each summed into a partial of its own and the partials added in chunk
// order: the result depends on the thread count only.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "ember/kernel_registry.h"
#include "ember/threads.h"
#include "kernels/conv.h"
#include "kernels/cpu/simd.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

constexpr int64_t kTile = 64;  // most pixels per segment
constexpr int kAccumulators = 12;
constexpr int kChunksPerThread = 4;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// How the work is cut and blocked, and the scratch layout of one call with n threads: the
// packed kernel and bias (shared), n thread slices (the band and its tap offsets, the gradient
// tile), then kChunksPerThread * n partial sums of dW and db.
struct Layout {
  int64_t K = 0, cout = 0;
  int nv = 2;            // vectors of output channels per block
  int rb = 6;            // rows (pixels, or kernel rows in dW) per block: kAccumulators / nv
  int64_t cb = 0;        // output channels per block
  int64_t cp = 0;        // output channels padded to whole blocks
  int64_t kp = 0;        // K padded to whole blocks of rb kernel rows (dW)
  int64_t segs = 1;      // segments per output line
  int64_t seg_len = 0;   // pixels per segment (the last one may have fewer)
  int64_t band_rows = 0, band_stride = 0;  // band: one row (elements) per (kd, kh)
  size_t packed = 0, per_thread = 0;       // bytes
  size_t z_off = 0;                        // offset of the gradient tile in a thread's slice
  size_t part = 0;                         // bytes of one chunk's partial dW and db
  // Bytes each thread adds: its slice and its chunks' partials.
  size_t thread_cost() const { return per_thread + kChunksPerThread * part; }
  int64_t items(const ConvGeom& g) const { return g.out[2] > 0 ? g.rows() * segs : 0; }
};

Layout layout(const ConvGeom& g, int64_t cout, size_t elem) {
  Layout l;
  const int64_t lanes = EMBER_VEC_BYTES / static_cast<int64_t>(elem), C = g.channels;
  l.K = g.taps() * C;
  l.cout = cout;
  l.nv = cout % (4 * lanes) == 0 ? 4 : 2;
  l.rb = kAccumulators / l.nv;
  l.cb = l.nv * lanes;
  l.cp = round_up(cout, l.cb);
  l.kp = round_up(l.K, l.rb);
  l.segs = std::max<int64_t>(1, (g.out[2] + kTile - 1) / kTile);
  l.seg_len = (g.out[2] + l.segs - 1) / l.segs;
  // A band row covers the segment's pixels rounded up to whole blocks (the forward pass
  // computes, and drops, the pixels past the segment's end).
  const int64_t px = round_up(std::max<int64_t>(l.seg_len, 1), l.rb);
  l.band_rows = g.k[0] * g.k[1];
  l.band_stride = round_up(((px - 1) * g.stride[2] + (g.k[2] - 1) * g.dil[2] + 1) * C,
                           64 / static_cast<int64_t>(elem));
  l.packed = round64((l.K + 1) * l.cp * elem);  // kernel rows, then the bias row
  l.z_off = round64(l.band_rows * l.band_stride * elem + l.K * sizeof(int64_t));
  l.per_thread = l.z_off + round64(l.seg_len * l.cp * elem);
  l.part = round64((l.kp + 1) * l.cp * elem);  // dW rows, then db
  return l;
}

size_t scratch_bytes_for(const ConvGeom& g, int64_t cout, size_t elem, int threads) {
  const Layout l = layout(g, cout, elem);
  return l.packed + static_cast<size_t>(std::max(threads, 1)) * l.thread_cost();
}

// Threads for the call: one below a grain of work, else as many as there are segments and as
// the scratch holds (the op planned for its thread count).
int threads_for(const ConvGeom& g, const Layout& l, size_t scratch_bytes) {
  if (g.column_pixels() * (l.K + 1) * l.cout <= kParallelGrain || omp_in_parallel()) return 1;
  const int64_t fit = static_cast<int64_t>((scratch_bytes - l.packed) / l.thread_cost());
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>({get_num_threads(), fit, l.items(g)})));
}

// One thread's view of its slice of the scratch.
template <class T>
struct Slice {
  T* band;
  int64_t* offset;  // offset[k] of A[., k] in the band
  T* z;             // the gradient tile: seg_len rows of cp channels
  Slice(char* base, const Layout& l)
      : band(reinterpret_cast<T*>(base)),
        offset(reinterpret_cast<int64_t*>(base + l.band_rows * l.band_stride * sizeof(T))),
        z(reinterpret_cast<T*>(base + l.z_off)) {}
};

void tap_offsets(const ConvGeom& g, const Layout& l, int64_t* offset) {
  const int64_t C = g.channels;
  int64_t k = 0;
  for (int64_t r = 0; r < l.band_rows; ++r)
    for (int64_t kw = 0; kw < g.k[2]; ++kw)
      for (int64_t c = 0; c < C; ++c) offset[k++] = r * l.band_stride + kw * g.dil[2] * C + c;
}

// Work item `item`: output line r, pixels [ow0, ow0 + np).
struct Segment {
  int64_t r, ow0, np;
};
Segment segment(const ConvGeom& g, const Layout& l, int64_t item) {
  Segment s;
  s.r = item / l.segs;
  s.ow0 = (item % l.segs) * l.seg_len;
  s.np = std::min(l.seg_len, g.out[2] - s.ow0);
  return s;
}

// The band of segment s: row (kd, kh) holds the input line under that tap row from the
// segment's first tap on, zeros where it lies in the padding and past what the segment reads.
template <class T>
void fill_band(const T* x, const ConvGeom& g, const Layout& l, const Segment& s, T* band) {
  const int64_t C = g.channels, I2 = g.img[2];
  const int64_t oh = s.r % g.out[1], od = (s.r / g.out[1]) % g.out[0];
  const int64_t n = s.r / (g.out[1] * g.out[0]);
  const int64_t iw0 = s.ow0 * g.stride[2] - g.pad[2];
  const int64_t width = (s.np - 1) * g.stride[2] + (g.k[2] - 1) * g.dil[2] + 1;
  const int64_t lo = std::min(width, std::max<int64_t>(0, -iw0));
  const int64_t hi = std::max(lo, std::min(width, I2 - iw0));
  for (int64_t kd = 0; kd < g.k[0]; ++kd) {
    const int64_t id = od * g.stride[0] + kd * g.dil[0] - g.pad[0];
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      const int64_t ih = oh * g.stride[1] + kh * g.dil[1] - g.pad[1];
      T* row = band + (kd * g.k[1] + kh) * l.band_stride;
      if (id < 0 || id >= g.img[0] || ih < 0 || ih >= g.img[1]) {
        std::memset(row, 0, sizeof(T) * l.band_stride);
        continue;
      }
      const T* line = x + ((n * g.img[0] + id) * g.img[1] + ih) * I2 * C;
      std::memset(row, 0, sizeof(T) * lo * C);
      std::memcpy(row + lo * C, line + (iw0 + lo) * C, sizeof(T) * (hi - lo) * C);
      std::memset(row + hi * C, 0, sizeof(T) * (l.band_stride - hi * C));
    }
  }
}

template <class T> inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <class T> inline void store(T* p, const Vec<T>& v) { std::memcpy(p, &v, sizeof(v)); }

// y[i][cb-block] = bias + A[i, :K] @ Wp[:, cb-block] for the RB pixels i of a block, A[i, k] =
// a[i * step + offset[k]]; Wp's rows have ldw columns. Full blocks are stored straight from
// the registers; a block with fewer pixels (`rows`) or channels (`width`) goes through `tmp`.
template <class T, int NV, int RB>
inline void forward_block(const T* a, int64_t step, const int64_t* offset, int64_t K,
                          const T* Wp, const T* bias, int64_t ldw, T* y, int64_t ldy,
                          int64_t rows, int64_t width) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[RB][NV];
  for (int j = 0; j < NV; ++j) {
    const Vec<T> b = load(bias + j * L);
    for (int i = 0; i < RB; ++i) acc[i][j] = b;
  }
  for (int64_t k = 0; k < K; ++k) {
    Vec<T> w[NV];
    for (int j = 0; j < NV; ++j) w[j] = load(Wp + k * ldw + j * L);
    const T* ak = a + offset[k];
    for (int i = 0; i < RB; ++i) {
      const T v = ak[i * step];
      for (int j = 0; j < NV; ++j) acc[i][j] += v * w[j];
    }
  }
  if (rows == RB && width == NV * L) {
    for (int i = 0; i < RB; ++i)
      for (int j = 0; j < NV; ++j) store(y + i * ldy + j * L, acc[i][j]);
    return;
  }
  alignas(64) T tmp[NV * L];
  for (int64_t i = 0; i < rows; ++i) {
    for (int j = 0; j < NV; ++j) store(tmp + j * L, acc[i][j]);
    std::memcpy(y + i * ldy, tmp, sizeof(T) * width);
  }
}

// part[i][cb-block] += sum over p < np of A[p, k0 + i] * Z[p, cb-block] for the RB kernel rows
// k0 + i of a block, A[p, k] = a[p * step + offset[k]]; part's rows have ldp columns.
template <class T, int NV, int RB>
inline void filter_block(const T* a, int64_t step, const int64_t* offset, const T* Z,
                         int64_t ldz, int64_t np, T* part, int64_t ldp) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[RB][NV];
  const T* ai[RB];
  for (int i = 0; i < RB; ++i) {
    ai[i] = a + offset[i];
    for (int j = 0; j < NV; ++j) acc[i][j] = load(part + i * ldp + j * L);
  }
  for (int64_t p = 0; p < np; ++p) {
    Vec<T> z[NV];
    for (int j = 0; j < NV; ++j) z[j] = load(Z + p * ldz + j * L);
    for (int i = 0; i < RB; ++i) {
      const T v = ai[i][p * step];
      for (int j = 0; j < NV; ++j) acc[i][j] += v * z[j];
    }
  }
  for (int i = 0; i < RB; ++i)
    for (int j = 0; j < NV; ++j) store(part + i * ldp + j * L, acc[i][j]);
}

template <class T, int NV>
void forward_impl(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, const Layout& l,
                  Act act, char* scratch, int nth) {
  constexpr int RB = kAccumulators / NV;
  constexpr int64_t CB = NV * kLanes<T>;
  const int64_t K = l.K, cout = l.cout, cp = l.cp, step = g.stride[2] * g.channels;
  // The kernel and the bias, their channels padded with zeros to whole blocks.
  T* wp = reinterpret_cast<T*>(scratch);
  T* bp = wp + K * cp;
  for (int64_t k = 0; k <= K; ++k) {
    T* dst = wp + k * cp;
    const T* src = k < K ? w + k * cout : bias;
    if (src) std::memcpy(dst, src, sizeof(T) * cout);
    else std::memset(dst, 0, sizeof(T) * cout);
    std::memset(dst + cout, 0, sizeof(T) * (cp - cout));
  }
  const double alpha = act_default_alpha(act);
  const int64_t items = l.items(g);
#pragma omp parallel num_threads(nth) if (nth > 1)
  {
    Slice<T> sl(scratch + l.packed + omp_get_thread_num() * l.per_thread, l);
    tap_offsets(g, l, sl.offset);
    // Dynamic: segments are independent, and a thread slowed by another process does not
    // hold the others up.
#pragma omp for schedule(dynamic, 8)
    for (int64_t item = 0; item < items; ++item) {
      const Segment s = segment(g, l, item);
      fill_band(x, g, l, s, sl.band);
      T* ys = y + (s.r * g.out[2] + s.ow0) * cout;
      for (int64_t c0 = 0; c0 < cp; c0 += CB)
        for (int64_t p = 0; p < s.np; p += RB)
          forward_block<T, NV, RB>(sl.band + p * step, step, sl.offset, K, wp + c0, bp + c0, cp,
                                   ys + p * cout + c0, cout, std::min<int64_t>(RB, s.np - p),
                                   std::min(CB, cout - c0));
      if (act != Act::linear) act_forward<T>(act, ys, ys, s.np * cout, alpha);
    }
  }
}

template <class T>
void forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, int64_t cout,
             Act act, T* scratch, size_t scratch_bytes) {
  const Layout l = layout(g, cout, sizeof(T));
  if (g.column_pixels() == 0 || cout == 0) return;
  EMBER_CHECK(scratch_bytes >= l.packed + l.thread_cost(), Error,
              "conv: temporary memory of ", scratch_bytes,
              " bytes is smaller than the direct kernel's ", l.packed + l.thread_cost());
  const int nth = threads_for(g, l, scratch_bytes);
  char* s = reinterpret_cast<char*>(scratch);
  if (l.nv == 4) forward_impl<T, 4>(x, w, bias, y, g, l, act, s, nth);
  else forward_impl<T, 2>(x, w, bias, y, g, l, act, s, nth);
}

template <class T, int NV>
void param_grads_impl(const T* x, const T* gy, const T* y, Act act, const ConvGeom& g,
                      const Layout& l, char* scratch, int nth) {
  constexpr int RB = kAccumulators / NV;
  constexpr int64_t CB = NV * kLanes<T>;
  const int64_t K = l.K, cout = l.cout, cp = l.cp, kp = l.kp;
  const int64_t step = g.stride[2] * g.channels, items = l.items(g);
  const double alpha = act_default_alpha(act);
  const int64_t chunks = kChunksPerThread * nth;
  char* parts = scratch + l.packed + nth * l.per_thread;
#pragma omp parallel num_threads(nth) if (nth > 1)
  {
    Slice<T> sl(scratch + l.packed + omp_get_thread_num() * l.per_thread, l);
    tap_offsets(g, l, sl.offset);
    // Kernel rows past K (padding to whole blocks) read any band value; they are dropped.
    int64_t offset[kAccumulators];  // the block's offsets, past-K rows pointing at 0
#pragma omp for schedule(dynamic, 1)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      T* part = reinterpret_cast<T*>(parts + chunk * l.part);
      T* part_b = part + kp * cp;
      std::memset(part, 0, l.part);
      const int64_t i0 = items * chunk / chunks, i1 = items * (chunk + 1) / chunks;
      for (int64_t item = i0; item < i1; ++item) {
        const Segment s = segment(g, l, item);
        fill_band(x, g, l, s, sl.band);
        // The tile of gz = gy * act'(y), its rows padded with zeros to cp channels.
        const int64_t q0 = s.r * g.out[2] + s.ow0;
        const T* gys = gy + q0 * cout;
        T* Z = sl.z;
        if (cp == cout) {
          if (act == Act::linear) std::memcpy(Z, gys, sizeof(T) * s.np * cout);
          else act_backward<T>(act, nullptr, y + q0 * cout, gys, Z, s.np * cout, alpha, false);
        } else {
          for (int64_t p = 0; p < s.np; ++p) {
            T* z = Z + p * cp;
            if (act == Act::linear) std::memcpy(z, gys + p * cout, sizeof(T) * cout);
            else act_backward<T>(act, nullptr, y + (q0 + p) * cout, gys + p * cout, z, cout,
                                 alpha, false);
            std::memset(z + cout, 0, sizeof(T) * (cp - cout));
          }
        }
        for (int64_t p = 0; p < s.np; ++p) {
          const T* z = Z + p * cp;
          for (int64_t c = 0; c < cp; ++c) part_b[c] += z[c];
        }
        for (int64_t k0 = 0; k0 < kp; k0 += RB) {
          for (int i = 0; i < RB; ++i) offset[i] = k0 + i < K ? sl.offset[k0 + i] : 0;
          for (int64_t c0 = 0; c0 < cp; c0 += CB)
            filter_block<T, NV, RB>(sl.band, step, offset, Z + c0, cp, s.np,
                                    part + k0 * cp + c0, cp);
        }
      }
    }
  }
}

template <class T>
void param_grads(const T* x, const T* gy, const T* y, Act act, T* dw, bool accumulate_w, T* db,
                 bool accumulate_b, const ConvGeom& g, int64_t cout, T* scratch,
                 size_t scratch_bytes) {
  const Layout l = layout(g, cout, sizeof(T));
  const int64_t K = l.K;
  if (cout == 0) return;
  EMBER_CHECK(scratch_bytes >= l.packed + l.thread_cost(), Error,
              "conv: temporary memory of ", scratch_bytes,
              " bytes is smaller than the direct kernel's ", l.packed + l.thread_cost());
  const int nth = threads_for(g, l, scratch_bytes);
  char* s = reinterpret_cast<char*>(scratch);
  if (l.nv == 4) param_grads_impl<T, 4>(x, gy, y, act, g, l, s, nth);
  else param_grads_impl<T, 2>(x, gy, y, act, g, l, s, nth);
  // The chunks' partials, added in chunk order.
  const int chunks = kChunksPerThread * nth;
  auto partial = [&](int ch) {
    return reinterpret_cast<const T*>(s + l.packed + nth * l.per_thread + ch * l.part);
  };
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < cout; ++c) {
      T sum = accumulate_w ? dw[k * cout + c] : T(0);
      for (int ch = 0; ch < chunks; ++ch) sum += partial(ch)[k * l.cp + c];
      dw[k * cout + c] = sum;
    }
  if (!db) return;
  for (int64_t c = 0; c < cout; ++c) {
    T sum = accumulate_b ? db[c] : T(0);
    for (int ch = 0; ch < chunks; ++ch) sum += partial(ch)[l.kp * l.cp + c];
    db[c] = sum;
  }
}

template <class T>
ConvDirectFns<T> table() {
  return {forward<T>, param_grads<T>, scratch_bytes_for};
}

const ConvDirectKernels cpu_conv_direct = {table<float>(), table<double>()};

}  // namespace

EMBER_REGISTER_KERNELS(ConvDirectKernels, Device::cpu, cpu_conv_direct);

}  // namespace ember

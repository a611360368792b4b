// Kernel table of the recurrent family: whole-sequence LSTM, GRU and SimpleRNN, forward and
// backward through time, batch-major (B, T, D) inputs as Keras.
//
// Forward runs one GEMM for the input projection of all steps, then per step one recurrent
// product and the fused gate math. Backward runs the gate gradients and dh_prev = dG R^T per
// step, and the weight gradients as one GEMM each after the loop. Everything backward reads is
// kept in `aux` (layout below, linear in T); temporary buffers come from `scratch`.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"
#include "kernels/elementwise.h"

namespace ember {

enum class RnnCell { lstm, gru, simple };

inline int rnn_gates(RnnCell c) { return c == RnnCell::lstm ? 4 : c == RnnCell::gru ? 3 : 1; }
inline int rnn_states(RnnCell c) { return c == RnnCell::lstm ? 2 : 1; }

// What one recurrent op computes (attributes resolved, sizes concrete).
struct RnnConfig {
  RnnCell cell = RnnCell::lstm;
  int64_t B = 0, T = 0, D = 0, U = 0;
  Act act = Act::tanh, ract = Act::sigmoid;
  bool reset_after = true;  // gru only
  bool has_bias = false, has_initial_state = false, has_mask = false;
  bool return_sequences = false, return_state = false, go_backwards = false;
  bool zero_output_for_mask = false;
  double dropout = 0;  // recurrent dropout rate in effect (0 unless training and 0 < rate < 1)
  uint64_t seed = 0;   // counter-RNG key of the recurrent dropout masks

  int G() const { return rnn_gates(cell); }
  int64_t NU() const { return G() * U; }
  int64_t S_out() const { return return_sequences ? T : 1; }
  int64_t S() const { return S_out() + (return_state ? rnn_states(cell) : 0); }
  // Pre-activations are kept for backward only when a derivative is written in x, not y.
  bool keep_pre() const {
    return act_backward_reads_x(act) || (cell != RnnCell::simple && act_backward_reads_x(ract));
  }
};

// Offsets (in elements, each rounded to 64 bytes) of the buffers in aux, forward scratch and
// backward scratch. All per-(b, t) buffers are batch-major (B, T, width), so the input
// projection, dX and dW are single GEMMs and h_prev of step t is rows (b*T + t) of Hp.
struct RnnLayout {
  // aux: kept from forward to backward
  int64_t gates = 0;  // (B, T, NU): input projection, then the activated gates in place
  int64_t hp = 0;     // (B, T, U): h entering each step
  int64_t cp = 0;     // lstm (B, T, U): c entering each step
  int64_t ac = 0;     // lstm (B, T, U): activation(c) after each step
  int64_t rh = 0;     // gru (B, T, U): reset_after: r-gated h_h product input (h R_h + b_rec_h)
                      //                 otherwise: r * h_prev (dropped), the candidate's GEMM input
  int64_t pre = 0;    // (B, T, NU) pre-activations, only when keep_pre()
  int64_t aux_total = 0;
  // forward scratch
  int64_t f_rp = 0;     // (U, NU) recurrent kernel repacked per thread slice
  int64_t f_p = 0;      // (B, NU) per-thread products
  int64_t f_out = 0;    // (B, U) previous output (masking)
  int64_t f_state = 0;  // (n_states, B, U) final states
  int64_t f_mask = 0;   // (G, B, U) recurrent dropout masks
  int64_t f_hm = 0;     // (2, G, B, U) dropped h_prev per gate, double-buffered
  int64_t f_total = 0;
  // backward scratch
  int64_t b_dg = 0;     // (B, T, NU) gate gradients at the pre-activations (input side)
  int64_t b_dgr = 0;    // gru (B, T, U) gradient of the candidate's recurrent GEMM output
  int64_t b_dh = 0;     // (B, U) gradient reaching h entering the current step
  int64_t b_dc = 0;     // lstm (B, U)
  int64_t b_dout = 0;   // (B, U) gradient reaching the previous output (masking)
  int64_t b_tmp = 0;    // (B + 4, U): per thread (B + 4, n) for products and row temporaries
  int64_t b_mask = 0;   // (G, B, U) recurrent dropout masks
  int64_t b_hm = 0;     // (B, T, U) dropped Hp of one gate for its dR
  int64_t b_total = 0;
};

inline RnnLayout rnn_layout(const RnnConfig& c) {
  auto r16 = [](int64_t n) { return (n + 15) / 16 * 16; };
  RnnLayout L;
  const int64_t BT = c.B * c.T, B = c.B, U = c.U, NU = c.NU(), G = c.G();
  const bool lstm = c.cell == RnnCell::lstm, gru = c.cell == RnnCell::gru;
  const bool dp = c.dropout > 0;
  int64_t o = 0;
  auto take = [&](int64_t n) { int64_t at = o; o += r16(n); return at; };
  L.gates = take(BT * NU);
  L.hp = take(BT * U);
  L.cp = lstm ? take(BT * U) : 0;
  L.ac = lstm ? take(BT * U) : 0;
  L.rh = gru ? take(BT * U) : 0;
  L.pre = c.keep_pre() ? take(BT * NU) : 0;
  L.aux_total = o;
  o = 0;
  L.f_rp = take(U * NU);
  L.f_p = take(B * NU);
  L.f_out = take(B * U);
  L.f_state = take(2 * B * U);
  L.f_mask = dp ? take(G * B * U) : 0;
  L.f_hm = dp ? take(2 * G * B * U) : 0;
  L.f_total = o;
  o = 0;
  L.b_dg = take(BT * NU);
  L.b_dgr = gru ? take(BT * U) : 0;
  L.b_dh = take(B * U);
  L.b_dc = take(B * U);
  L.b_dout = take(B * U);
  L.b_tmp = take((B + 4) * U);
  L.b_mask = dp ? take(G * B * U) : 0;
  L.b_hm = dp ? take(BT * U) : 0;
  L.b_total = o;
  return L;
}

// The operands of one call. Optional inputs are null when absent. The output is (B, S, U):
// rows [0, S_out) the outputs (all steps, or the last), then the final states if return_state.
template <class T>
struct RnnTensors {
  const T* x = nullptr;       // (B, T, D)
  const T* kernel = nullptr;  // (D, NU)
  const T* rkernel = nullptr; // (U, NU)
  const T* bias = nullptr;    // lstm (4U), simple (U), gru (3U) or reset_after (2, 3U)
  const T* h0 = nullptr;      // (B, U)
  const T* c0 = nullptr;      // lstm (B, U)
  const T* mask = nullptr;    // (B, T), nonzero = valid step
  T* out = nullptr;           // (B, S, U)
  T* aux = nullptr;           // RnnLayout::aux_total elements
  T* scratch = nullptr;       // forward or backward scratch of RnnLayout
};

// Gradients to write (null = not wanted), each assigned or accumulated by its flag.
template <class T>
struct RnnGrads {
  const T* gout = nullptr;  // (B, S, U)
  T *dx = nullptr, *dkernel = nullptr, *drkernel = nullptr, *dbias = nullptr;
  T *dh0 = nullptr, *dc0 = nullptr;
  bool acc_x = false, acc_kernel = false, acc_rkernel = false, acc_bias = false;
  bool acc_h0 = false, acc_c0 = false;
};

template <class T>
struct RecurrentFns {
  void (*forward)(const RnnConfig& c, const RnnTensors<T>& t);
  void (*backward)(const RnnConfig& c, const RnnTensors<T>& t, const RnnGrads<T>& g);
};

struct RecurrentKernels {
  static constexpr const char* family = "recurrent";
  RecurrentFns<float> lstm_f32, gru_f32, simple_f32;
  RecurrentFns<double> lstm_f64, gru_f64, simple_f64;
  template <class T>
  const RecurrentFns<T>& fns(RnnCell cell) const {
    if constexpr (sizeof(T) == 4)
      return cell == RnnCell::lstm ? lstm_f32 : cell == RnnCell::gru ? gru_f32 : simple_f32;
    else
      return cell == RnnCell::lstm ? lstm_f64 : cell == RnnCell::gru ? gru_f64 : simple_f64;
  }
};

}  // namespace ember

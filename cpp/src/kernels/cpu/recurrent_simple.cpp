// SimpleRNN over a whole sequence (Keras SimpleRNNCell): h = a(x W + b + h_prev U).
// See recurrent_common.h for the threading and kernels/recurrent.h for the buffers.
#include "kernels/cpu/recurrent_common.h"

namespace ember {

template <class T>
void simple_rnn_forward(const RnnConfig& c, const RnnTensors<T>& io) {
  using namespace rnn;
  const RnnLayout L = rnn_layout(c);
  const int64_t B = c.B, TT = c.T, U = c.U;
  T* gates = io.aux + L.gates;  // (B, T, U): the activated h of each step
  T* Hp = io.aux + L.hp;
  T* PRE = c.keep_pre() ? io.aux + L.pre : nullptr;
  T* sc = io.scratch;
  T* states = sc + L.f_state;
  T* dmask = c.dropout > 0 ? sc + L.f_mask : nullptr;
  T* Hm = c.dropout > 0 ? sc + L.f_hm : nullptr;
  if (dmask) draw_masks(c, dmask);
  project_inputs(c, io, io.bias, gates);
  const ElementwiseFns<T>& ew = elementwise_fns<T>();

  TeamGuard guard;
#pragma omp parallel num_threads(threads_for(c))
  {
    Slice sl = my_slice(U);
    int64_t u0 = sl.u0, n = sl.n;
    T* own = sc + L.f_rp + u0 * U;
    repack(io.rkernel, U, 1, sl, own);
    const T* rp = own;
    T* P = sc + L.f_p + B * u0;
    T* oprev = sc + L.f_out;
    bool solo = false;
    const int64_t t0 = step_t(c, 0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t u = u0 + j;
        const T h = io.h0 ? io.h0[b * U + u] : T(0);
        Hp[(b * TT + t0) * U + u] = h;
        oprev[b * U + u] = T(0);
        if (Hm) Hm[b * U + u] = h * dmask[b * U + u];
      }
#pragma omp barrier
    for (int64_t s = 0; s < TT; ++s) {
      const int64_t t = step_t(c, s);
      const bool last = s == TT - 1;
      const int64_t tn = last ? 0 : step_t(c, s + 1);
      const T* hm = Hm ? Hm + (s & 1) * B * U : nullptr;
      T* hm_next = Hm ? Hm + ((s + 1) & 1) * B * U : nullptr;
      rec_product(B, U, 1, sl, 0, 1, Hp + t * U, TT * U, hm, rp, P);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = b * TT + t;
        T* gr = gates + row * U + u0;
        T* p = P + b * n;
        for (int64_t j = 0; j < n; ++j) p[j] += gr[j];
        if (PRE) std::memcpy(PRE + row * U + u0, p, sizeof(T) * n);
        act_fwd(c.act, p, n, ew);
        std::memcpy(gr, p, sizeof(T) * n);
        const bool ok = step_valid(io.mask, TT, b, t);
        T* hnext = last ? states + b * U + u0 : Hp + (b * TT + tn) * U + u0;
        std::memcpy(hnext, ok ? p : Hp + row * U + u0, sizeof(T) * n);
        emit(c, io, s, b, ok, hnext, oprev + b * U + u0, sl);
        if (hm_next)
          for (int64_t j = 0; j < n; ++j)
            hm_next[b * U + u0 + j] = hnext[j] * dmask[b * U + u0 + j];
      }
      if (!solo) {
#pragma omp barrier
        if (guard.split(s)) {  // oversubscribed: thread 0 goes on alone over all units
          if (omp_get_thread_num() != 0) break;
          sl = Slice{0, U};
          u0 = 0;
          n = U;
          rp = io.rkernel;
          P = sc + L.f_p;
          solo = true;
        }
      }
    }
  }
  write_states(c, io, states);
}

template <class T>
void simple_rnn_backward(const RnnConfig& c, const RnnTensors<T>& io, const RnnGrads<T>& gr) {
  using namespace rnn;
  const RnnLayout L = rnn_layout(c);
  const int64_t B = c.B, TT = c.T, U = c.U;
  const T* gates = io.aux + L.gates;
  const T* Hp = io.aux + L.hp;
  const T* PRE = c.keep_pre() ? io.aux + L.pre : nullptr;
  T* sc = io.scratch;
  T* dG = sc + L.b_dg;
  T* dh = sc + L.b_dh;
  T* dout = sc + L.b_dout;
  T* dmask = c.dropout > 0 ? sc + L.b_mask : nullptr;
  if (dmask) draw_masks(c, dmask);
  const ElementwiseFns<T>& ew = elementwise_fns<T>();

  TeamGuard guard;
#pragma omp parallel num_threads(threads_for(c))
  {
    Slice sl = my_slice(U);
    int64_t u0 = sl.u0, n = sl.n;
    T* tmp = sc + L.b_tmp + (B + 4) * u0;
    T* go = tmp + B * n;
    bool solo = false;
    state_grad_init(c, gr, 0, dh, sl);
    for (int64_t b = 0; b < B; ++b) std::fill(dout + b * U + u0, dout + b * U + u0 + n, T(0));
    for (int64_t s = TT - 1; s >= 0; --s) {
      const int64_t t = step_t(c, s);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = b * TT + t;
        const bool ok = step_valid(io.mask, TT, b, t);
        T* dhb = dh + b * U + u0;
        T* d = dG + row * U + u0;
        output_grad(c, gr, s, b, dout + b * U + u0, go, sl);
        masked_output_backward(c, ok, go, dhb, dout + b * U + u0, sl);
        if (!ok) {
          std::fill(d, d + n, T(0));
          continue;
        }
        std::memcpy(d, dhb, sizeof(T) * n);
        std::fill(dhb, dhb + n, T(0));
        act_bwd(c.act, PRE ? PRE + row * U + u0 : nullptr, gates + row * U + u0, d, n, ew);
      }
      if (!solo) {
#pragma omp barrier
        if (guard.split(TT - 1 - s)) {  // oversubscribed: thread 0 goes on alone
          if (omp_get_thread_num() != 0) break;
          sl = Slice{0, U};
          u0 = 0;
          n = U;
          tmp = sc + L.b_tmp;
          go = tmp + B * n;
          solo = true;
        }
      }
      rec_grad_product(B, U, 1, sl, 0, 1, dG + t * U, TT * U, io.rkernel, dmask, dh, tmp);
    }
  }
  store_state_grad(c, dh, gr.dh0, gr.acc_h0);
  input_grads(c, io, gr, dG);
  if (gr.dbias) col_sums(dG, B * TT, U, U, gr.dbias, gr.acc_bias);
  if (gr.drkernel)
    rec_weight_grad(c, Hp, dG, U, 0, 1, dmask, sc + L.b_hm, gr.drkernel, gr.acc_rkernel);
}

template void simple_rnn_forward<float>(const RnnConfig&, const RnnTensors<float>&);
template void simple_rnn_forward<double>(const RnnConfig&, const RnnTensors<double>&);
template void simple_rnn_backward<float>(const RnnConfig&, const RnnTensors<float>&,
                                         const RnnGrads<float>&);
template void simple_rnn_backward<double>(const RnnConfig&, const RnnTensors<double>&,
                                          const RnnGrads<double>&);

}  // namespace ember

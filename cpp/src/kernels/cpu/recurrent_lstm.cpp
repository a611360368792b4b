// LSTM over a whole sequence (Keras LSTMCell, gate order i, f, c, o):
//   i = ra(x W_i + h U_i + b_i), f = ra(..), g = a(..), o = ra(..)
//   c = f * c_prev + i * g,      h = o * a(c)
// See recurrent_common.h for the threading and kernels/recurrent.h for the buffers.
#include "kernels/cpu/recurrent_common.h"

namespace ember {

template <class T>
void lstm_forward(const RnnConfig& c, const RnnTensors<T>& io) {
  using namespace rnn;
  const RnnLayout L = rnn_layout(c);
  const int64_t B = c.B, TT = c.T, U = c.U, NU = c.NU();
  T* gates = io.aux + L.gates;
  T* Hp = io.aux + L.hp;
  T* Cp = io.aux + L.cp;
  T* AC = io.aux + L.ac;
  T* PRE = c.keep_pre() ? io.aux + L.pre : nullptr;
  T* sc = io.scratch;
  T* states = sc + L.f_state;  // final h (B, U) then final c (B, U)
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
    T* own = sc + L.f_rp + u0 * NU;
    repack(io.rkernel, U, 4, sl, own);
    const T* rp = own;
    T* P = sc + L.f_p + B * 4 * u0;
    T* oprev = sc + L.f_out;
    bool solo = false;
    const int64_t t0 = step_t(c, 0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t u = u0 + j;
        const T h = io.h0 ? io.h0[b * U + u] : T(0);
        Hp[(b * TT + t0) * U + u] = h;
        Cp[(b * TT + t0) * U + u] = io.c0 ? io.c0[b * U + u] : T(0);
        oprev[b * U + u] = T(0);
        if (Hm)
          for (int g = 0; g < 4; ++g) Hm[(g * B + b) * U + u] = h * dmask[(g * B + b) * U + u];
      }
#pragma omp barrier
    for (int64_t s = 0; s < TT; ++s) {
      const int64_t t = step_t(c, s);
      const bool last = s == TT - 1;
      const int64_t tn = last ? 0 : step_t(c, s + 1);
      const T* hm = Hm ? Hm + (s & 1) * 4 * B * U : nullptr;
      T* hm_next = Hm ? Hm + ((s + 1) & 1) * 4 * B * U : nullptr;
      rec_product(B, U, 4, sl, 0, 4, Hp + t * U, TT * U, hm, rp, P);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = b * TT + t;
        T* gr = gates + row * NU;
        T* p = P + b * 4 * n;
        for (int g = 0; g < 4; ++g)
          for (int64_t j = 0; j < n; ++j) p[g * n + j] += gr[g * U + u0 + j];
        if (PRE)
          for (int g = 0; g < 4; ++g)
            std::memcpy(PRE + row * NU + g * U + u0, p + g * n, sizeof(T) * n);
        act_fwd(c.ract, p, 2 * n, ew);  // i, f
        act_fwd(c.act, p + 2 * n, n, ew);
        act_fwd(c.ract, p + 3 * n, n, ew);
        for (int g = 0; g < 4; ++g) std::memcpy(gr + g * U + u0, p + g * n, sizeof(T) * n);
        const T* hprev = Hp + row * U + u0;
        const T* cprev = Cp + row * U + u0;
        T* hnext = last ? states + b * U + u0 : Hp + (b * TT + tn) * U + u0;
        T* cnext = last ? states + (B + b) * U + u0 : Cp + (b * TT + tn) * U + u0;
        T* ac = AC + row * U + u0;
        const bool ok = step_valid(io.mask, TT, b, t);
        for (int64_t j = 0; j < n; ++j) ac[j] = p[n + j] * cprev[j] + p[j] * p[2 * n + j];
        if (ok) std::memcpy(cnext, ac, sizeof(T) * n);
        else std::memcpy(cnext, cprev, sizeof(T) * n);
        act_fwd(c.act, ac, n, ew);
        if (ok) {
          for (int64_t j = 0; j < n; ++j) hnext[j] = p[3 * n + j] * ac[j];
        } else {
          std::memcpy(hnext, hprev, sizeof(T) * n);
        }
        emit(c, io, s, b, ok, hnext, oprev + b * U + u0, sl);
        if (hm_next)
          for (int g = 0; g < 4; ++g)
            for (int64_t j = 0; j < n; ++j)
              hm_next[(g * B + b) * U + u0 + j] = hnext[j] * dmask[(g * B + b) * U + u0 + j];
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
void lstm_backward(const RnnConfig& c, const RnnTensors<T>& io, const RnnGrads<T>& gr) {
  using namespace rnn;
  const RnnLayout L = rnn_layout(c);
  const int64_t B = c.B, TT = c.T, U = c.U, NU = c.NU();
  const T* gates = io.aux + L.gates;
  const T* Hp = io.aux + L.hp;
  const T* Cp = io.aux + L.cp;
  const T* AC = io.aux + L.ac;
  const T* PRE = c.keep_pre() ? io.aux + L.pre : nullptr;
  const bool c_from_x = act_backward_reads_x(c.act);
  T* sc = io.scratch;
  T* dG = sc + L.b_dg;
  T* dh = sc + L.b_dh;
  T* dc = sc + L.b_dc;
  T* dout = sc + L.b_dout;
  T* dmask = c.dropout > 0 ? sc + L.b_mask : nullptr;
  if (dmask) draw_masks(c, dmask);
  const ElementwiseFns<T>& ew = elementwise_fns<T>();

  TeamGuard guard;
#pragma omp parallel num_threads(threads_for(c))
  {
    Slice sl = my_slice(U);
    int64_t u0 = sl.u0, n = sl.n;
    T* tmp = sc + L.b_tmp + (B + 4) * u0;  // B*n for products, then row temporaries
    T* go = tmp + B * n;
    T* dac = go + n;
    T* cx = dac + n;
    bool solo = false;
    state_grad_init(c, gr, 0, dh, sl);
    state_grad_init(c, gr, 1, dc, sl);
    for (int64_t b = 0; b < B; ++b) std::fill(dout + b * U + u0, dout + b * U + u0 + n, T(0));
    for (int64_t s = TT - 1; s >= 0; --s) {
      const int64_t t = step_t(c, s);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = b * TT + t;
        const bool ok = step_valid(io.mask, TT, b, t);
        T* dhb = dh + b * U + u0;
        T* dcb = dc + b * U + u0;
        T* d = dG + row * NU;
        output_grad(c, gr, s, b, dout + b * U + u0, go, sl);
        masked_output_backward(c, ok, go, dhb, dout + b * U + u0, sl);
        if (!ok) {  // states carried over: dh, dc pass through; no gate gradient
          for (int g = 0; g < 4; ++g) std::fill(d + g * U + u0, d + g * U + u0 + n, T(0));
          continue;
        }
        const T* g_ = gates + row * NU;
        const T *gi = g_ + u0, *gf = g_ + U + u0, *gg = g_ + 2 * U + u0, *go_ = g_ + 3 * U + u0;
        const T* cprev = Cp + row * U + u0;
        const T* ac = AC + row * U + u0;
        if (c_from_x)  // c itself, the pre-activation of a(c)
          for (int64_t j = 0; j < n; ++j) cx[j] = gf[j] * cprev[j] + gi[j] * gg[j];
        for (int64_t j = 0; j < n; ++j) dac[j] = dhb[j] * go_[j];
        act_bwd(c.act, cx, ac, dac, n, ew);
        T *di = d + u0, *df = d + U + u0, *dgg = d + 2 * U + u0, *dO = d + 3 * U + u0;
        for (int64_t j = 0; j < n; ++j) {
          const T gc = dcb[j] + dac[j];
          dO[j] = dhb[j] * ac[j];
          di[j] = gc * gg[j];
          df[j] = gc * cprev[j];
          dgg[j] = gc * gi[j];
          dcb[j] = gc * gf[j];
          dhb[j] = T(0);  // h_prev reaches h only through the recurrent product, added below
        }
        const T* pre = PRE ? PRE + row * NU : nullptr;
        act_bwd(c.ract, pre ? pre + u0 : nullptr, gi, di, n, ew);
        act_bwd(c.ract, pre ? pre + U + u0 : nullptr, gf, df, n, ew);
        act_bwd(c.act, pre ? pre + 2 * U + u0 : nullptr, gg, dgg, n, ew);
        act_bwd(c.ract, pre ? pre + 3 * U + u0 : nullptr, go_, dO, n, ew);
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
          dac = go + n;
          cx = dac + n;
          solo = true;
        }
      }
      rec_grad_product(B, U, 4, sl, 0, 4, dG + t * NU, TT * NU, io.rkernel, dmask, dh, tmp);
    }
  }
  store_state_grad(c, dh, gr.dh0, gr.acc_h0);
  store_state_grad(c, dc, gr.dc0, gr.acc_c0);
  input_grads(c, io, gr, dG);
  if (gr.dbias) col_sums(dG, B * TT, NU, NU, gr.dbias, gr.acc_bias);
  if (gr.drkernel)
    rec_weight_grad(c, Hp, dG, NU, 0, 4, dmask, sc + L.b_hm, gr.drkernel, gr.acc_rkernel);
}

template void lstm_forward<float>(const RnnConfig&, const RnnTensors<float>&);
template void lstm_forward<double>(const RnnConfig&, const RnnTensors<double>&);
template void lstm_backward<float>(const RnnConfig&, const RnnTensors<float>&,
                                   const RnnGrads<float>&);
template void lstm_backward<double>(const RnnConfig&, const RnnTensors<double>&,
                                    const RnnGrads<double>&);

}  // namespace ember

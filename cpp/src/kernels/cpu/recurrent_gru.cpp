// GRU over a whole sequence (Keras GRUCell, gate order z, r, h):
//   z = ra(x W_z + h U_z + b_z),  r = ra(x W_r + h U_r + b_r)
//   reset_after:  hh = a(x W_h + b_in_h + r * (h U_h + b_rec_h))   bias (2, 3U)
//   otherwise:    hh = a(x W_h + b_h + (r * h) U_h)                 bias (3U)
//   h = z * h_prev + (1 - z) * hh
// With recurrent dropout each gate sees h_prev times its own mask (Keras implementation 1); the
// final mix uses the undropped h_prev. See recurrent_common.h for the threading.
#include "kernels/cpu/recurrent_common.h"

namespace ember {

template <class T>
void gru_forward(const RnnConfig& c, const RnnTensors<T>& io) {
  using namespace rnn;
  const RnnLayout L = rnn_layout(c);
  const int64_t B = c.B, TT = c.T, U = c.U, NU = c.NU();
  const bool after = c.reset_after;
  T* gates = io.aux + L.gates;
  T* Hp = io.aux + L.hp;
  T* RH = io.aux + L.rh;  // after: h U_h + b_rec_h; before: r * h_prev (dropped by m_h)
  T* PRE = c.keep_pre() ? io.aux + L.pre : nullptr;
  T* sc = io.scratch;
  T* states = sc + L.f_state;
  T* dmask = c.dropout > 0 ? sc + L.f_mask : nullptr;
  T* Hm = c.dropout > 0 ? sc + L.f_hm : nullptr;
  if (dmask) draw_masks(c, dmask);
  const T* b_rec = io.bias && after ? io.bias + NU : nullptr;
  project_inputs(c, io, io.bias, gates);  // row 0 of a (2, 3U) bias is the input bias
  const ElementwiseFns<T>& ew = elementwise_fns<T>();

  TeamGuard guard;
#pragma omp parallel num_threads(threads_for(c))
  {
    Slice sl = my_slice(U);
    int64_t u0 = sl.u0, n = sl.n;
    T* own = sc + L.f_rp + u0 * NU;
    repack(io.rkernel, U, 3, sl, own);
    const T* rp = own;
    T* P = sc + L.f_p + B * 3 * u0;
    T* oprev = sc + L.f_out;
    bool solo = false;
    const int64_t t0 = step_t(c, 0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t u = u0 + j;
        const T h = io.h0 ? io.h0[b * U + u] : T(0);
        Hp[(b * TT + t0) * U + u] = h;
        oprev[b * U + u] = T(0);
        if (Hm)
          for (int g = 0; g < 3; ++g) Hm[(g * B + b) * U + u] = h * dmask[(g * B + b) * U + u];
      }
#pragma omp barrier
    for (int64_t s = 0; s < TT; ++s) {
      const int64_t t = step_t(c, s);
      const bool last = s == TT - 1;
      const int64_t tn = last ? 0 : step_t(c, s + 1);
      const T* hm = Hm ? Hm + (s & 1) * 3 * B * U : nullptr;
      T* hm_next = Hm ? Hm + ((s + 1) & 1) * 3 * B * U : nullptr;
      rec_product(B, U, 3, sl, 0, after ? 3 : 2, Hp + t * U, TT * U, hm, rp, P);
      // z and r of this slice (and, reset_after, the r-gated recurrent part of the candidate)
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = b * TT + t;
        T* gr = gates + row * NU;
        T* p = P + b * 3 * n;
        if (b_rec)
          for (int g = 0; g < 3; ++g)
            for (int64_t j = 0; j < n; ++j) p[g * n + j] += b_rec[g * U + u0 + j];
        for (int g = 0; g < 2; ++g)
          for (int64_t j = 0; j < n; ++j) p[g * n + j] += gr[g * U + u0 + j];
        if (PRE)
          for (int g = 0; g < 2; ++g)
            std::memcpy(PRE + row * NU + g * U + u0, p + g * n, sizeof(T) * n);
        act_fwd(c.ract, p, 2 * n, ew);
        T* rh = RH + row * U + u0;
        if (after) {
          std::memcpy(rh, p + 2 * n, sizeof(T) * n);
        } else {  // r * h_prev (dropped by the candidate's mask): the candidate GEMM's input
          const T* hh = hm ? hm + (2 * B + b) * U + u0 : Hp + row * U + u0;
          for (int64_t j = 0; j < n; ++j) rh[j] = p[n + j] * hh[j];
        }
      }
      if (!after) {
        if (!solo) {
#pragma omp barrier
        }
        if (n > 0)
          gemm<T>(false, false, B, n, U, T(1), RH + t * U, TT * U, rp + 2 * n, 3 * n, T(0),
                  P + 2 * n, 3 * n);
      }
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = b * TT + t;
        T* gr = gates + row * NU;
        T* p = P + b * 3 * n;
        T* ph = p + 2 * n;
        const T* xh = gr + 2 * U + u0;
        if (after) {
          for (int64_t j = 0; j < n; ++j) ph[j] = xh[j] + p[n + j] * ph[j];
        } else {
          for (int64_t j = 0; j < n; ++j) ph[j] += xh[j];
        }
        if (PRE) std::memcpy(PRE + row * NU + 2 * U + u0, ph, sizeof(T) * n);
        act_fwd(c.act, ph, n, ew);
        for (int g = 0; g < 3; ++g) std::memcpy(gr + g * U + u0, p + g * n, sizeof(T) * n);
        const T* hprev = Hp + row * U + u0;
        T* hnext = last ? states + b * U + u0 : Hp + (b * TT + tn) * U + u0;
        const bool ok = step_valid(io.mask, TT, b, t);
        if (ok) {
          for (int64_t j = 0; j < n; ++j) hnext[j] = p[j] * hprev[j] + (T(1) - p[j]) * ph[j];
        } else {
          std::memcpy(hnext, hprev, sizeof(T) * n);
        }
        emit(c, io, s, b, ok, hnext, oprev + b * U + u0, sl);
        if (hm_next)
          for (int g = 0; g < 3; ++g)
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
void gru_backward(const RnnConfig& c, const RnnTensors<T>& io, const RnnGrads<T>& gr) {
  using namespace rnn;
  const RnnLayout L = rnn_layout(c);
  const int64_t B = c.B, TT = c.T, U = c.U, NU = c.NU();
  const bool after = c.reset_after;
  const T* gates = io.aux + L.gates;
  const T* Hp = io.aux + L.hp;
  const T* RH = io.aux + L.rh;
  const T* PRE = c.keep_pre() ? io.aux + L.pre : nullptr;
  T* sc = io.scratch;
  T* dG = sc + L.b_dg;    // input side: z, r, candidate pre-activations
  T* dGr = sc + L.b_dgr;  // reset_after: gradient of h U_h + b_rec_h (recurrent side of h)
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
        T* d = dG + row * NU;
        output_grad(c, gr, s, b, dout + b * U + u0, go, sl);
        masked_output_backward(c, ok, go, dhb, dout + b * U + u0, sl);
        if (!ok) {
          for (int g = 0; g < 3; ++g) std::fill(d + g * U + u0, d + g * U + u0 + n, T(0));
          if (after) std::fill(dGr + row * U + u0, dGr + row * U + u0 + n, T(0));
          continue;
        }
        const T* g_ = gates + row * NU;
        const T *z = g_ + u0, *r = g_ + U + u0, *hh = g_ + 2 * U + u0;
        const T* hprev = Hp + row * U + u0;
        const T* pre = PRE ? PRE + row * NU : nullptr;
        T *dz = d + u0, *dr = d + U + u0, *dah = d + 2 * U + u0;
        for (int64_t j = 0; j < n; ++j) {
          dz[j] = dhb[j] * (hprev[j] - hh[j]);
          dah[j] = dhb[j] * (T(1) - z[j]);
          dhb[j] *= z[j];  // the direct path h_prev -> h
        }
        act_bwd(c.act, pre ? pre + 2 * U + u0 : nullptr, hh, dah, n, ew);
        act_bwd(c.ract, pre ? pre + u0 : nullptr, z, dz, n, ew);
        if (after) {
          const T* ph = RH + row * U + u0;
          T* dph = dGr + row * U + u0;
          for (int64_t j = 0; j < n; ++j) {
            dr[j] = dah[j] * ph[j];
            dph[j] = dah[j] * r[j];
          }
          act_bwd(c.ract, pre ? pre + U + u0 : nullptr, r, dr, n, ew);
        }
      }
      if (!after) {
        // d(r * h_prev) = dah @ U_h^T needs every unit's dah: one more barrier.
        if (!solo) {
#pragma omp barrier
        }
        if (n > 0)
          gemm<T>(false, true, B, n, U, T(1), dG + t * NU + 2 * U, TT * NU,
                  io.rkernel + u0 * NU + 2 * U, NU, T(0), tmp, n);
        for (int64_t b = 0; b < B; ++b) {
          const int64_t row = b * TT + t;
          if (!step_valid(io.mask, TT, b, t)) continue;
          const T* r = gates + row * NU + U + u0;
          const T* hprev = Hp + row * U + u0;
          const T* m = dmask ? dmask + (2 * B + b) * U + u0 : nullptr;
          const T* drh = tmp + b * n;
          T* dr = dG + row * NU + U + u0;
          T* dhb = dh + b * U + u0;
          for (int64_t j = 0; j < n; ++j) {
            const T hh_in = m ? hprev[j] * m[j] : hprev[j];
            dr[j] = drh[j] * hh_in;
            dhb[j] += drh[j] * r[j] * (m ? m[j] : T(1));
          }
          const T* pre = PRE ? PRE + row * NU : nullptr;
          act_bwd(c.ract, pre ? pre + U + u0 : nullptr, r, dr, n, ew);
        }
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
      rec_grad_product(B, U, 3, sl, 0, 2, dG + t * NU, TT * NU, io.rkernel, dmask, dh, tmp);
      if (after)
        rec_grad_product(B, U, 3, sl, 2, 3, dGr + t * U, TT * U, io.rkernel, dmask, dh, tmp);
    }
  }
  store_state_grad(c, dh, gr.dh0, gr.acc_h0);
  input_grads(c, io, gr, dG);
  const int64_t rows = B * TT;
  if (gr.dbias) {
    col_sums(dG, rows, NU, NU, gr.dbias, gr.acc_bias);
    if (after) {  // row 1, the recurrent bias: z and r as the input side, h from dGr
      col_sums(dG, rows, 2 * U, NU, gr.dbias + NU, gr.acc_bias);
      col_sums(dGr, rows, U, U, gr.dbias + NU + 2 * U, gr.acc_bias);
    }
  }
  if (gr.drkernel) {
    T* hm = sc + L.b_hm;
    rec_weight_grad(c, Hp, dG, NU, 0, 2, dmask, hm, gr.drkernel, gr.acc_rkernel);
    if (after)
      rec_weight_grad(c, Hp, dGr, U, 2, 3, dmask, hm, gr.drkernel, gr.acc_rkernel);
    else  // the candidate's GEMM input r * h_prev is kept as it is (already dropped)
      rec_weight_grad<T>(c, RH, dG + 2 * U, NU, 2, 3, nullptr, hm, gr.drkernel,
                         gr.acc_rkernel);
  }
}

template void gru_forward<float>(const RnnConfig&, const RnnTensors<float>&);
template void gru_forward<double>(const RnnConfig&, const RnnTensors<double>&);
template void gru_backward<float>(const RnnConfig&, const RnnTensors<float>&,
                                  const RnnGrads<float>&);
template void gru_backward<double>(const RnnConfig&, const RnnTensors<double>&,
                                   const RnnGrads<double>&);

}  // namespace ember

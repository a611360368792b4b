// lstm, gru, simple_rnn: a whole recurrent layer over the sequence as one op (Keras semantics,
// batch-major x (B, T, D); kernels in kernels/cpu/recurrent_*.cpp).
//
// Inputs, in order: x, kernel, recurrent_kernel, [bias if has_bias], [initial states if
// has_initial_state: lstm h0, c0; gru and simple_rnn h0, each (B, U)], [mask (B, T) if has_mask,
// x's dtype, nonzero = valid step]. Attributes: activation ("tanh"), recurrent_activation
// ("sigmoid", lstm/gru), reset_after (gru, true), has_bias, has_initial_state, has_mask,
// return_sequences, return_state, go_backwards, zero_output_for_mask, recurrent_dropout (0).
//
// The one output (B, S, U) packs what Keras returns: rows [0, S_out) the outputs (every step,
// or only the last: S_out = T or 1), then, with return_state, the final states (lstm h then c).
//
// The mask's position depends on the attributes, so it cannot be listed in the static
// nondiff_inputs; its gradient is zero (the output is piecewise constant in it).
#include <cstring>

#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/recurrent.h"

namespace ember {
namespace {

const char* op_name(RnnCell cell) {
  return cell == RnnCell::lstm ? "lstm" : cell == RnnCell::gru ? "gru" : "simple_rnn";
}

// Positions of the optional inputs (-1 when absent) and the expected count.
struct Slots {
  int bias = -1, h0 = -1, c0 = -1, mask = -1, count = 3;
};

Slots slots(RnnCell cell, const Attrs& a) {
  Slots s;
  if (a.get_bool("has_bias", false)) s.bias = s.count++;
  if (a.get_bool("has_initial_state", false)) {
    s.h0 = s.count++;
    if (cell == RnnCell::lstm) s.c0 = s.count++;
  }
  if (a.get_bool("has_mask", false)) s.mask = s.count++;
  return s;
}

Act parse_act(RnnCell cell, const Attrs& a, const char* key, const char* def) {
  try {
    return act_from_name(a.get_str(key, def));
  } catch (const ValueError& e) {
    throw ValueError(detail::concat("op '", op_name(cell), "': ", key, ": ", e.what()));
  }
}

std::string names_of_inputs(RnnCell cell, const Slots& s) {
  std::string n = "x, kernel, recurrent_kernel";
  if (s.bias >= 0) n += ", bias";
  if (s.h0 >= 0) n += cell == RnnCell::lstm ? ", h0, c0" : ", h0";
  if (s.mask >= 0) n += ", mask";
  return n;
}

TensorMeta infer(RnnCell cell, const std::vector<TensorMeta>& in, const Attrs& a) {
  const char* op = op_name(cell);
  const Slots s = slots(cell, a);
  const int G = rnn_gates(cell);
  EMBER_CHECK(static_cast<int>(in.size()) == s.count, ValueError, "op '", op, "': expected ",
              s.count, " inputs (", names_of_inputs(cell, s), ") for these attributes, received ",
              in.size());
  parse_act(cell, a, "activation", "tanh");
  if (cell != RnnCell::simple) parse_act(cell, a, "recurrent_activation", "sigmoid");
  const double rate = a.get_float("recurrent_dropout", 0.0);
  EMBER_CHECK(rate >= 0.0 && rate <= 1.0, ValueError, "op '", op,
              "': expected a recurrent_dropout in [0, 1], received ", rate);
  const TensorMeta &x = in[0], &w = in[1], &r = in[2];
  EMBER_CHECK(is_floating(x.dtype), TypeError, "op '", op,
              "': expected a float32 or float64 input, received ", dtype_name(x.dtype));
  const char* names[] = {"x", "kernel", "recurrent_kernel", "bias", "h0", "c0", "mask"};
  auto name_of = [&](int i) -> const char* {
    if (i < 3) return names[i];
    if (i == s.bias) return "bias";
    if (i == s.h0) return "h0";
    if (i == s.c0) return "c0";
    return "mask";
  };
  for (int i = 1; i < s.count; ++i)
    EMBER_CHECK(in[i].dtype == x.dtype, TypeError, "op '", op, "': expected ", name_of(i),
                " of the input's dtype ", dtype_name(x.dtype), ", received ",
                dtype_name(in[i].dtype));
  EMBER_CHECK(x.shape.size() == 3, ValueError, "op '", op,
              "': expected an input of rank 3 (batch, timesteps, features), received shape ",
              shape_str(x.shape));
  EMBER_CHECK(w.shape.size() == 2, ValueError, "op '", op,
              "': expected a 2-D kernel (features, ", G, " * units), received ",
              shape_str(w.shape));
  EMBER_CHECK(r.shape.size() == 2 && r.shape[0] > 0 && r.shape[1] == G * r.shape[0], ValueError,
              "op '", op, "': expected a recurrent_kernel of shape (units, ", G,
              " * units), received ", shape_str(r.shape));
  const int64_t U = r.shape[0], B = x.shape[0], T = x.shape[1];
  EMBER_CHECK(T != 0, ValueError, "op '", op, "': expected at least one timestep, received shape ",
              shape_str(x.shape));
  EMBER_CHECK(dims_match(w.shape[0], x.shape[2]), ValueError, "op '", op,
              "': expected a kernel with ", x.shape[2], " rows (the input's features), received ",
              shape_str(w.shape));
  EMBER_CHECK(w.shape[1] == G * U, ValueError, "op '", op, "': expected a kernel with ", G * U,
              " columns (", G, " * units, units = ", U, " from the recurrent_kernel), received ",
              shape_str(w.shape));
  if (s.bias >= 0) {
    const Shape want = cell == RnnCell::gru && a.get_bool("reset_after", true)
                           ? Shape{2, G * U}
                           : Shape{G * U};
    EMBER_CHECK(in[s.bias].shape == want, ValueError, "op '", op, "': expected a bias of shape ",
                shape_str(want), ", received ", shape_str(in[s.bias].shape));
  }
  for (int i : {s.h0, s.c0}) {
    if (i < 0) continue;
    const Shape& h = in[i].shape;
    EMBER_CHECK(h.size() == 2 && dims_match(h[0], B) && h[1] == U, ValueError, "op '", op,
                "': expected an initial state ", name_of(i), " of shape ", shape_str({B, U}),
                ", received ", shape_str(h));
  }
  if (s.mask >= 0) {
    const Shape& m = in[s.mask].shape;
    EMBER_CHECK(m.size() == 2 && dims_match(m[0], B) && dims_match(m[1], T), ValueError, "op '",
                op, "': expected a mask of shape ", shape_str({B, T}), ", received ",
                shape_str(m));
  }
  const bool seqs = a.get_bool("return_sequences", false);
  const bool state = a.get_bool("return_state", false);
  int64_t S = seqs ? T : 1;
  if (S != kUnknown && state) S += rnn_states(cell);
  return {{B, S, U}, x.dtype};
}

// The concrete configuration. `dropout` is the rate in effect: the attribute's when it is in
// (0, 1) and the step trains; sizing passes training = true so scratch covers both.
RnnConfig config(RnnCell cell, const std::vector<TensorMeta>& in, const Attrs& a, bool training,
                 uint64_t seed) {
  RnnConfig c;
  c.cell = cell;
  c.B = in[0].shape[0];
  c.T = in[0].shape[1];
  c.D = in[0].shape[2];
  c.U = in[2].shape[0];
  c.act = parse_act(cell, a, "activation", "tanh");
  if (cell != RnnCell::simple) c.ract = parse_act(cell, a, "recurrent_activation", "sigmoid");
  c.reset_after = cell == RnnCell::gru && a.get_bool("reset_after", true);
  c.has_bias = a.get_bool("has_bias", false);
  c.has_initial_state = a.get_bool("has_initial_state", false);
  c.has_mask = a.get_bool("has_mask", false);
  c.return_sequences = a.get_bool("return_sequences", false);
  c.return_state = a.get_bool("return_state", false);
  c.go_backwards = a.get_bool("go_backwards", false);
  c.zero_output_for_mask = a.get_bool("zero_output_for_mask", false);
  const double rate = a.get_float("recurrent_dropout", 0.0);
  c.dropout = training && rate > 0.0 && rate < 1.0 ? rate : 0.0;
  c.seed = seed;
  return c;
}

std::vector<TensorMeta> metas_of(const OpContext& ctx) {
  std::vector<TensorMeta> m;
  for (const Tensor* t : ctx.inputs) m.push_back({t->shape(), t->dtype()});
  return m;
}

template <class T>
RnnTensors<T> tensors_of(RnnCell cell, const OpContext& ctx, T* scratch) {
  const Slots s = slots(cell, *ctx.attrs);
  RnnTensors<T> t;
  t.x = ctx.in(0).data<T>();
  t.kernel = ctx.in(1).data<T>();
  t.rkernel = ctx.in(2).data<T>();
  if (s.bias >= 0) t.bias = ctx.in(s.bias).data<T>();
  if (s.h0 >= 0) t.h0 = ctx.in(s.h0).data<T>();
  if (s.c0 >= 0) t.c0 = ctx.in(s.c0).data<T>();
  if (s.mask >= 0) t.mask = ctx.in(s.mask).data<T>();
  t.out = ctx.output->data<T>();
  t.aux = ctx.aux->data<T>();
  t.scratch = scratch;
  return t;
}

template <class T>
void forward(RnnCell cell, OpContext& ctx) {
  const RnnConfig c = config(cell, metas_of(ctx), *ctx.attrs, ctx.training, ctx.seed);
  kernels<RecurrentKernels>().fns<T>(cell).forward(c, tensors_of<T>(cell, ctx, ctx.scratch->data<T>()));
}

template <class T>
void backward(RnnCell cell, GradContext& ctx) {
  const RnnConfig c = config(cell, metas_of(ctx), *ctx.attrs, ctx.training, ctx.seed);
  const Slots s = slots(cell, *ctx.attrs);
  RnnGrads<T> g;
  g.gout = ctx.grad_out->data<T>();
  auto slot = [&](int i, T*& dst, bool& acc) {
    if (i < 0 || !ctx.wants(i)) return;
    dst = ctx.grad_in[i]->data<T>();
    acc = ctx.accumulate[i];
  };
  slot(0, g.dx, g.acc_x);
  slot(1, g.dkernel, g.acc_kernel);
  slot(2, g.drkernel, g.acc_rkernel);
  slot(s.bias, g.dbias, g.acc_bias);
  slot(s.h0, g.dh0, g.acc_h0);
  slot(s.c0, g.dc0, g.acc_c0);
  kernels<RecurrentKernels>().fns<T>(cell).backward(
      c, tensors_of<T>(cell, ctx, ctx.scratch->data<T>()), g);
  if (s.mask >= 0 && ctx.wants(s.mask) && !ctx.accumulate[s.mask])
    ctx.grad_in[s.mask]->zero();
}

template <RnnCell cell>
OpDef make() {
  OpDef d;
  d.name = op_name(cell);
  d.min_inputs = 3;
  d.max_inputs = cell == RnnCell::lstm ? 7 : 6;
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) { return infer(cell, in, a); };
  d.forward = [](OpContext& ctx) {
    dispatch_float(ctx.output->dtype(), op_name(cell),
                   [&](auto t) { forward<decltype(t)>(cell, ctx); });
  };
  d.backward = [](GradContext& ctx) {
    dispatch_float(ctx.output->dtype(), op_name(cell),
                   [&](auto t) { backward<decltype(t)>(cell, ctx); });
  };
  d.aux_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a, bool) -> size_t {
    return rnn_layout(config(cell, in, a, true, 0)).aux_total * dtype_size(in[0].dtype);
  };
  d.forward_scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a) -> size_t {
    return rnn_layout(config(cell, in, a, true, 0)).f_total * dtype_size(in[0].dtype);
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) -> size_t {
    return rnn_layout(config(cell, in, a, true, 0)).b_total * dtype_size(in[0].dtype);
  };
  return d;
}

OpDef make_lstm() { return make<RnnCell::lstm>(); }
OpDef make_gru() { return make<RnnCell::gru>(); }
OpDef make_simple_rnn() { return make<RnnCell::simple>(); }

EMBER_REGISTER_OP(make_lstm);
EMBER_REGISTER_OP(make_gru);
EMBER_REGISTER_OP(make_simple_rnn);

}  // namespace
}  // namespace ember

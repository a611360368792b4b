// embedding(table, ids): out[..., :] = table[ids[...], :], table (V, E) float, ids int32/int64
// of any shape -> (*ids.shape, E). Every id is checked against [0, V) before any kernel runs, so
// a bad id is an IndexError naming it, never a read out of bounds. ids get no gradient; the
// table's gradient is a scatter-add into the rows used (the others are zeroed when assigning).
#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/embedding.h"

namespace ember {
namespace {

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs&) {
  const TensorMeta &table = in[0], &ids = in[1];
  EMBER_CHECK(is_floating(table.dtype), TypeError,
              "op 'embedding': expected a float32 or float64 table, received ",
              dtype_name(table.dtype));
  EMBER_CHECK(ids.dtype == DType::i32 || ids.dtype == DType::i64, TypeError,
              "op 'embedding': expected int32 or int64 ids, received ", dtype_name(ids.dtype),
              " (cast the ids to an integer type)");
  EMBER_CHECK(table.shape.size() == 2, ValueError,
              "op 'embedding': expected a 2-D table (input_dim, output_dim), received ",
              shape_str(table.shape));
  Shape out = ids.shape;
  out.push_back(table.shape[1]);
  return {out, table.dtype};
}

template <class I>
void check_ids(const Tensor& ids, int64_t V) {
  const I* p = ids.data<I>();
  for (int64_t i = 0; i < ids.size(); ++i)
    if (p[i] < 0 || static_cast<int64_t>(p[i]) >= V)
      throw IndexError(detail::concat("op 'embedding': id ", static_cast<int64_t>(p[i]),
                                      " (at flat position ", i,
                                      ") is out of range for a table of ", V,
                                      " rows; expected 0 <= id < ", V));
}

// Calls f(I{}) with I the C++ type of the ids.
template <class F>
void dispatch_ids(DType t, F&& f) {
  if (t == DType::i32) f(int32_t{});
  else f(int64_t{});
}

OpDef make_embedding() {
  OpDef d;
  d.name = "embedding";
  d.min_inputs = d.max_inputs = 2;
  d.infer = infer;
  d.nondiff_inputs = {1};
  d.forward = [](OpContext& c) {
    const Tensor &table = c.in(0), &ids = c.in(1);
    const int64_t V = table.dim(0), E = table.dim(1);
    dispatch_ids(ids.dtype(), [&](auto i) {
      using I = decltype(i);
      check_ids<I>(ids, V);
      dispatch_float(table.dtype(), "op 'embedding'", [&](auto t) {
        using T = decltype(t);
        kernels<EmbeddingKernels>().gather<T, I>()(table.data<T>(), E, ids.data<I>(), ids.size(),
                                                   c.output->data<T>());
      });
    });
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    const Tensor& ids = c.in(1);
    const int64_t E = c.in(0).dim(1);
    if (!c.accumulate[0]) c.grad_in[0]->zero();
    dispatch_ids(ids.dtype(), [&](auto i) {
      using I = decltype(i);
      dispatch_float(c.in(0).dtype(), "op 'embedding'", [&](auto t) {
        using T = decltype(t);
        kernels<EmbeddingKernels>().scatter_add<T, I>()(c.grad_out->data<T>(), E, ids.data<I>(),
                                                        ids.size(), c.grad_in[0]->data<T>());
      });
    });
  };
  return d;
}

EMBER_REGISTER_OP(make_embedding);

}  // namespace
}  // namespace ember

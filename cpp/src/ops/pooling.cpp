// Pooling ops max_pool and avg_pool over channels_last inputs of rank 3, 4 or 5 (1, 2 or 3
// spatial dimensions). Attributes: "pool_size" (one int per spatial dim), "strides" (default:
// pool_size), "padding" ('valid' or 'same'). Output extents and 'same' padding follow Keras/TF:
// valid = floor((in - pool) / stride) + 1, same = ceil(in / stride) with total padding
// max((out - 1) * stride + pool - in, 0), the smaller half before. Padding never counts: a
// padded max ignores it and a padded average divides by the number of real elements.
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/pooling.h"

namespace ember {
namespace {

std::string ints_str(const std::vector<int64_t>& v) {  // "(2, 2)": attribute values
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

struct PoolSpec {
  int spatial = 0;  // number of spatial dimensions
  std::vector<int64_t> pool, strides;
  bool same = false;
};

// Validates the input rank and the attributes against it; errors name the op.
PoolSpec pool_spec(const std::string& op, const Shape& in, const Attrs& attrs) {
  const int rank = static_cast<int>(in.size());
  EMBER_CHECK(rank >= 3 && rank <= 5, ValueError, "op '", op, "': expected an input of rank 3, 4 "
              "or 5 (batch, *spatial, channels), received shape ", shape_str(in));
  PoolSpec s;
  s.spatial = rank - 2;
  EMBER_CHECK(attrs.has("pool_size"), ValueError, "op '", op, "': missing the attribute "
              "'pool_size'");
  s.pool = attrs.get_ints("pool_size", {});
  s.strides = attrs.get_ints("strides", s.pool);
  auto check_ints = [&](const char* name, const std::vector<int64_t>& v) {
    EMBER_CHECK(static_cast<int>(v.size()) == s.spatial, ValueError, "op '", op, "': expected ",
                name, " to hold ", s.spatial, " integers (one per spatial dimension of input "
                "shape ", shape_str(in), "), received ", ints_str(v));
    for (int64_t e : v)
      EMBER_CHECK(e > 0, ValueError, "op '", op, "': expected positive ", name, ", received ",
                  ints_str(v));
  };
  check_ints("pool_size", s.pool);
  check_ints("strides", s.strides);
  const std::string padding = attrs.get_str("padding", "valid");
  EMBER_CHECK(padding == "valid" || padding == "same", ValueError, "op '", op, "': expected "
              "padding 'valid' or 'same', received '", padding, "'");
  s.same = padding == "same";
  return s;
}

// Output extent along one spatial axis (kUnknown stays unknown).
int64_t pooled_extent(const std::string& op, const Shape& in, const PoolSpec& s, int a) {
  const int64_t len = in[a + 1], k = s.pool[a], st = s.strides[a];
  if (len == kUnknown) return kUnknown;
  if (s.same) return (len + st - 1) / st;
  EMBER_CHECK(k <= len, ValueError, "op '", op, "': pool_size ", ints_str(s.pool), " is larger "
              "than the input's spatial extents with padding 'valid' (axis ", a + 1, ": pool ", k,
              ", extent ", len, "); received input shape ", shape_str(in), ". Use a smaller "
              "pool_size or padding 'same'");
  return (len - k) / st + 1;
}

TensorMeta pool_infer(const std::string& op, const std::vector<TensorMeta>& in,
                      const Attrs& attrs) {
  EMBER_CHECK(is_floating(in[0].dtype), TypeError, "op '", op, "': expected a float32 or float64 "
              "input, received ", dtype_name(in[0].dtype));
  const Shape& x = in[0].shape;
  const PoolSpec s = pool_spec(op, x, attrs);
  TensorMeta out{x, in[0].dtype};
  for (int a = 0; a < s.spatial; ++a) out.shape[a + 1] = pooled_extent(op, x, s, a);
  return out;
}

// The kernels' 3-D description of a concrete input: fewer spatial dims sit at the end.
PoolGeom pool_geom(const std::string& op, const Shape& x, const Attrs& attrs) {
  const PoolSpec s = pool_spec(op, x, attrs);
  PoolGeom g;
  g.n = x.front();
  g.c = x.back();
  const int lead = 3 - s.spatial;
  for (int a = 0; a < s.spatial; ++a) {
    const int k = lead + a;
    g.in[k] = x[a + 1];
    g.out[k] = pooled_extent(op, x, s, a);
    g.window[k] = s.pool[a];
    g.stride[k] = s.strides[a];
    const int64_t total = (g.out[k] - 1) * g.stride[k] + g.window[k] - g.in[k];
    g.pad[k] = s.same && total > 0 ? total / 2 : 0;
  }
  return g;
}

OpDef make_pool(const std::string& name, bool is_max) {
  OpDef d;
  d.name = name;
  d.infer = [name](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    return pool_infer(name, in, attrs);
  };
  d.forward = [name, is_max](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const PoolGeom g = pool_geom(name, x.shape(), *ctx.attrs);
    const std::string who = "op '" + name + "'";
    dispatch_float(x.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      const auto& k = kernels<PoolingKernels<T>>(Device::cpu);
      (is_max ? k.max_pool : k.avg_pool)(x.data<T>(), ctx.output->data<T>(), g);
    });
  };
  d.backward = [name, is_max](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    const PoolGeom g = pool_geom(name, x.shape(), *ctx.attrs);
    const std::string who = "op '" + name + "'";
    dispatch_float(x.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      const auto& k = kernels<PoolingKernels<T>>(Device::cpu);
      T* gx = ctx.grad_in[0]->data<T>();
      const T* gy = ctx.grad_out->data<T>();
      if (is_max)  // the argmax is recomputed from x and the forward output y
        k.max_pool_backward(x.data<T>(), ctx.output->data<T>(), gy, gx, g, ctx.accumulate[0]);
      else
        k.avg_pool_backward(gy, gx, g, ctx.accumulate[0]);
    });
  };
  return d;
}

OpDef make_max_pool() { return make_pool("max_pool", true); }
OpDef make_avg_pool() { return make_pool("avg_pool", false); }

}  // namespace

EMBER_REGISTER_OP(make_max_pool);
EMBER_REGISTER_OP(make_avg_pool);

}  // namespace ember

#include "ember/plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ember/nan_check.h"
#include "ember/rng.h"
#include "graph/memory_planner.h"

namespace ember {

namespace {

// A gradient write that lands in a scratch buffer because the same node feeds two slots of one
// op; the plan adds it into the real gradient after that op's backward.
struct ScratchAdd {
  int slot;
  int buffer;  // index into Impl::buffers
  int target;  // node whose gradient receives the sum
};

struct Step {
  int node;
  std::vector<int> grad_buffers;   // backward: buffer per input slot, -1 = none / param
  std::vector<bool> accumulate;
  std::vector<ScratchAdd> scratch;
};

}  // namespace

struct Plan::Impl {
  const Graph* graph = nullptr;
  PlanSpec spec;
  std::vector<TensorMeta> metas;     // concrete, per node
  std::vector<bool> needed;
  std::vector<bool> grad_active;
  std::vector<int> value_buf, aux_buf, grad_buf, scratch_buf, fwd_scratch_buf;  // or -1
  std::vector<Buffer> buffers;
  std::vector<Step> forward, backward;
  size_t workspace = 0;
  std::shared_ptr<void> storage;
  std::vector<Tensor> values, grads, auxes, scratches, fwd_scratches;  // per node
  bool seeds_accumulated = true;

  Tensor view(int buf, const TensorMeta& m) const {
    char* base = static_cast<char*>(storage.get()) + buffers[buf].offset;
    return Tensor::view(base, m.shape, m.dtype, storage);
  }
  // Op-private memory (aux, scratch) as a flat float32 tensor; ops cast the pointer.
  Tensor bytes_view(int buf) const {
    return view(buf, {{static_cast<int64_t>(buffers[buf].bytes / 4)}, DType::f32});
  }
};

// Runs f; an error it throws is re-thrown, same kind, with the layer that recorded the node.
template <class F>
static auto with_layer_name(const Node& n, F&& f) -> decltype(f()) {
  if (n.name.empty()) return f();
  try {
    return f();
  } catch (const ValueError& e) {
    throw ValueError("layer '" + n.name + "': " + e.what());
  } catch (const TypeError& e) {
    throw TypeError("layer '" + n.name + "': " + e.what());
  } catch (const IndexError& e) {
    throw IndexError("layer '" + n.name + "': " + e.what());
  }
}

static std::string node_label(const Node& n) {
  if (!n.name.empty()) return "'" + n.name + "'";
  return n.kind == NodeKind::op ? "op '" + n.op + "'" : "node";
}

// The NaN check: throws NumericError if `t` holds a NaN or an infinity (`what` says which
// tensor of the op it is).
static void check_finite(const Node& n, const Tensor& t, const std::string& what) {
  const int64_t i = first_non_finite(t);
  if (i < 0) return;
  const double v = t.dtype() == DType::f32 ? t.data<float>()[i] : t.data<double>()[i];
  throw NumericError(detail::concat(
      "NaN check: op '", n.op, "'", n.name.empty() ? "" : " (layer '" + n.name + "')",
      " produced ", std::isnan(v) ? "NaN" : "an infinity", " in ", what, " (element ", i,
      " of shape ", shape_str(t.shape()), ")"));
}

Plan::Plan(const Graph& g, PlanSpec spec, const std::vector<Shape>& feed_shapes,
           const ParamArena* arena)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.graph = &g;
  p.spec = std::move(spec);
  const int N = g.size();
  EMBER_CHECK(feed_shapes.size() == p.spec.feeds.size(), ValueError, "plan: expected ",
              p.spec.feeds.size(), " input arrays, received ", feed_shapes.size());

  // 1. Which nodes the requested values and gradients need.
  p.needed.assign(N, false);
  std::vector<int> stack(p.spec.fetch);
  stack.insert(stack.end(), p.spec.seeds.begin(), p.spec.seeds.end());
  stack.insert(stack.end(), p.spec.wrt.begin(), p.spec.wrt.end());
  while (!stack.empty()) {
    int id = stack.back();
    stack.pop_back();
    if (p.needed[id]) continue;
    p.needed[id] = true;
    for (int in : g.node(id).inputs) stack.push_back(in);
  }

  // 2. Concrete shapes, in node order (node order is topological).
  p.metas.resize(N);
  std::vector<int> feed_index(N, -1);
  for (size_t i = 0; i < p.spec.feeds.size(); ++i) feed_index[p.spec.feeds[i]] = static_cast<int>(i);
  for (int id = 0; id < N; ++id) {
    if (!p.needed[id]) continue;
    const Node& n = g.node(id);
    switch (n.kind) {
      case NodeKind::input: {
        EMBER_CHECK(feed_index[id] >= 0, ValueError, "input ", node_label(n),
                    " is needed but no array was given for it");
        const Shape& s = feed_shapes[feed_index[id]];
        bool ok = s.size() == n.meta.shape.size();
        for (size_t k = 0; ok && k < s.size(); ++k) ok = dims_match(s[k], n.meta.shape[k]);
        EMBER_CHECK(ok, ValueError, "input ", node_label(n), ": expected shape ",
                    shape_str(n.meta.shape), ", received ", shape_str(s));
        p.metas[id] = {s, n.meta.dtype};
        break;
      }
      case NodeKind::param:
      case NodeKind::constant:
        p.metas[id] = n.meta;
        break;
      case NodeKind::op: {
        std::vector<TensorMeta> in;
        for (int k : n.inputs) in.push_back(p.metas[k]);
        p.metas[id] = with_layer_name(n, [&] { return n.def->infer(in, n.attrs); });
        break;
      }
    }
  }

  // 3. Which gradients flow: from the seeds back along differentiable edges, to nodes that
  // need one (trainable params, requested inputs, and ops depending on them).
  const bool backward = !p.spec.seeds.empty();
  std::vector<bool> needs_grad(N, false), flows(N, false);
  std::vector<bool> is_wrt(N, false);
  for (int id : p.spec.wrt) is_wrt[id] = true;
  auto diff_slot = [&](const Node& n, int slot) {
    return n.def->backward && std::find(n.def->nondiff_inputs.begin(), n.def->nondiff_inputs.end(),
                                        slot) == n.def->nondiff_inputs.end();
  };
  if (backward) {
    for (int id = 0; id < N; ++id) {
      if (!p.needed[id]) continue;
      const Node& n = g.node(id);
      if (n.kind == NodeKind::param)
        needs_grad[id] = p.spec.param_grads && arena && arena->segment(n.param).trainable;
      else if (n.kind == NodeKind::input)
        needs_grad[id] = is_wrt[id];
      else if (n.kind == NodeKind::op)
        for (size_t s = 0; s < n.inputs.size(); ++s)
          if (needs_grad[n.inputs[s]] && diff_slot(n, static_cast<int>(s))) needs_grad[id] = true;
    }
    for (int id : p.spec.seeds) flows[id] = true;
    for (int id = N - 1; id >= 0; --id) {
      if (!p.needed[id] || !flows[id]) continue;
      const Node& n = g.node(id);
      if (n.kind != NodeKind::op || !needs_grad[id]) continue;
      for (size_t s = 0; s < n.inputs.size(); ++s)
        if (diff_slot(n, static_cast<int>(s))) flows[n.inputs[s]] = true;
    }
    for (int id : p.spec.seeds) {
      const Node& n = g.node(id);
      EMBER_CHECK(n.kind != NodeKind::op || n.def->backward || !needs_grad[id], ValueError,
                  node_label(n), " is not differentiable");
    }
  }
  p.grad_active.assign(N, false);
  for (int id = 0; id < N; ++id) p.grad_active[id] = backward && needs_grad[id] && flows[id];

  // 4. Schedules and buffer lifetimes on one timeline: forward steps, then backward steps.
  for (int id = 0; id < N; ++id)
    if (p.needed[id] && g.node(id).kind == NodeKind::op) p.forward.push_back({id, {}, {}, {}});
  for (int id = N - 1; id >= 0; --id)
    if (p.grad_active[id] && g.node(id).kind == NodeKind::op) p.backward.push_back({id, {}, {}, {}});
  const int F = static_cast<int>(p.forward.size());
  const int T = F + static_cast<int>(p.backward.size()) + 1;  // T-1: "after run"
  std::vector<int> fwd_time(N, -1), bwd_time(N, -1);
  for (int t = 0; t < F; ++t) fwd_time[p.forward[t].node] = t;
  for (size_t t = 0; t < p.backward.size(); ++t) bwd_time[p.backward[t].node] = F + static_cast<int>(t);

  p.value_buf.assign(N, -1);
  p.aux_buf.assign(N, -1);
  p.grad_buf.assign(N, -1);
  p.scratch_buf.assign(N, -1);
  p.fwd_scratch_buf.assign(N, -1);
  auto add_buffer = [&](size_t bytes, int start, int end) {
    p.buffers.push_back({bytes, start, end, 0});
    return static_cast<int>(p.buffers.size()) - 1;
  };
  std::vector<int> last_use(N, -1);
  for (const Step& s : p.forward) {
    const Node& n = g.node(s.node);
    for (int in : n.inputs) last_use[in] = std::max(last_use[in], fwd_time[s.node]);
    if (bwd_time[s.node] >= 0) {  // backward may read the inputs and the output
      for (int in : n.inputs) last_use[in] = std::max(last_use[in], bwd_time[s.node]);
      last_use[s.node] = std::max(last_use[s.node], bwd_time[s.node]);
    }
  }
  for (int id : p.spec.fetch) last_use[id] = T - 1;
  for (const Step& s : p.forward) {
    const Node& n = g.node(s.node);
    const TensorMeta& m = p.metas[s.node];
    int end = std::max(last_use[s.node], fwd_time[s.node]);
    p.value_buf[s.node] = add_buffer(numel(m.shape) * dtype_size(m.dtype), fwd_time[s.node], end);
    if (n.def->aux_bytes) {
      std::vector<TensorMeta> in;
      for (int k : n.inputs) in.push_back(p.metas[k]);
      size_t bytes = n.def->aux_bytes(in, n.attrs, p.spec.training);
      int aux_end = bwd_time[s.node] >= 0 ? bwd_time[s.node] : fwd_time[s.node];
      if (bytes) p.aux_buf[s.node] = add_buffer(bytes, fwd_time[s.node], aux_end);
    }
    if (n.def->forward_scratch_bytes) {
      std::vector<TensorMeta> in;
      for (int k : n.inputs) in.push_back(p.metas[k]);
      size_t bytes = n.def->forward_scratch_bytes(in, n.attrs);
      if (bytes) p.fwd_scratch_buf[s.node] = add_buffer(bytes, fwd_time[s.node], fwd_time[s.node]);
    }
  }

  // Gradient buffers: written first by the earliest backward consumer (or seeded at F), read
  // last by the node's own backward (or kept to the end when requested).
  if (backward) {
    std::vector<int> first_write(N, T);
    for (int id : p.spec.seeds) first_write[id] = F;
    for (const Step& s : p.backward) {
      const Node& n = g.node(s.node);
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (p.grad_active[n.inputs[k]] && diff_slot(n, static_cast<int>(k)))
          first_write[n.inputs[k]] = std::min(first_write[n.inputs[k]], bwd_time[s.node]);
    }
    for (int id = 0; id < N; ++id) {
      if (!p.grad_active[id] || g.node(id).kind == NodeKind::param) continue;
      int end = is_wrt[id] ? T - 1 : std::max(bwd_time[id], first_write[id]);
      const TensorMeta& m = p.metas[id];
      p.grad_buf[id] = add_buffer(numel(m.shape) * dtype_size(m.dtype), first_write[id], end);
    }
    std::vector<bool> written(N, false);
    for (int id : p.spec.seeds) written[id] = true;
    for (Step& s : p.backward) {
      const Node& n = g.node(s.node);
      if (n.def->scratch_bytes) {
        std::vector<TensorMeta> in;
        std::vector<bool> wants;  // as the loop below gives the inputs gradient buffers
        for (size_t k = 0; k < n.inputs.size(); ++k) {
          in.push_back(p.metas[n.inputs[k]]);
          wants.push_back(p.grad_active[n.inputs[k]] && diff_slot(n, static_cast<int>(k)));
        }
        size_t bytes = n.def->scratch_bytes(in, n.attrs, wants);
        if (bytes) p.scratch_buf[s.node] = add_buffer(bytes, bwd_time[s.node], bwd_time[s.node]);
      }
      s.grad_buffers.assign(n.inputs.size(), -1);
      s.accumulate.assign(n.inputs.size(), false);
      std::vector<int> seen;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        int in = n.inputs[k];
        if (!p.grad_active[in] || !diff_slot(n, static_cast<int>(k))) continue;
        bool param = g.node(in).kind == NodeKind::param;
        if (std::find(seen.begin(), seen.end(), in) != seen.end()) {
          const TensorMeta& m = p.metas[in];
          int buf = add_buffer(numel(m.shape) * dtype_size(m.dtype), bwd_time[s.node],
                               bwd_time[s.node]);
          s.scratch.push_back({static_cast<int>(k), buf, in});
          s.grad_buffers[k] = buf;
          s.accumulate[k] = false;
          continue;
        }
        seen.push_back(in);
        s.grad_buffers[k] = param ? -1 : p.grad_buf[in];
        s.accumulate[k] = param || written[in];
        written[in] = true;
      }
    }
  }
  p.workspace = plan_memory(p.buffers);
  p.storage = aligned_alloc_bytes(p.workspace);
  p.values.resize(N);
  p.grads.resize(N);
  p.auxes.resize(N);
  p.scratches.resize(N);
  p.fwd_scratches.resize(N);
  for (int id = 0; id < N; ++id) {
    if (p.value_buf[id] >= 0) p.values[id] = p.view(p.value_buf[id], p.metas[id]);
    if (p.grad_buf[id] >= 0) p.grads[id] = p.view(p.grad_buf[id], p.metas[id]);
    if (p.aux_buf[id] >= 0) p.auxes[id] = p.bytes_view(p.aux_buf[id]);
    if (p.scratch_buf[id] >= 0) p.scratches[id] = p.bytes_view(p.scratch_buf[id]);
    if (p.fwd_scratch_buf[id] >= 0) p.fwd_scratches[id] = p.bytes_view(p.fwd_scratch_buf[id]);
  }
}

Plan::~Plan() = default;

template <class T>
static void add_into(const Tensor& dst, const Tensor& src) {
  T* d = dst.data<T>();
  const T* s = src.data<T>();
  for (int64_t i = 0, n = dst.size(); i < n; ++i) d[i] += s[i];
}

template <class T>
static void fill_seed(const Tensor& dst, const Tensor& given) {
  T* d = dst.data<T>();
  if (!given.raw()) {
    std::fill(d, d + dst.size(), T(1));
    return;
  }
  EMBER_CHECK(given.size() == dst.size(), ValueError, "plan: output gradient has ",
              given.size(), " elements, expected ", dst.size());
  EMBER_CHECK(given.dtype() == dst.dtype(), TypeError, "plan: output gradient is ",
              dtype_name(given.dtype()), ", expected ", dtype_name(dst.dtype()));
  std::memcpy(d, given.raw(), dst.nbytes());
}

void Plan::run(const std::vector<Tensor>& feeds, const ParamArena* arena,
               const std::vector<Tensor>& seed_grads, uint64_t seed) {
  Impl& p = *impl_;
  const Graph& g = *p.graph;
  EMBER_CHECK(feeds.size() == p.spec.feeds.size(), ValueError, "plan: expected ",
              p.spec.feeds.size(), " input arrays, received ", feeds.size());
  for (size_t i = 0; i < feeds.size(); ++i) {
    int id = p.spec.feeds[i];
    if (!p.needed[id]) continue;
    const Node& n = g.node(id);
    EMBER_CHECK(feeds[i].dtype() == n.meta.dtype, TypeError, "input ", node_label(n),
                ": expected ", dtype_name(n.meta.dtype), ", received ",
                dtype_name(feeds[i].dtype()));
    EMBER_CHECK(feeds[i].shape() == p.metas[id].shape, ValueError, "input ", node_label(n),
                ": this plan was compiled for shape ", shape_str(p.metas[id].shape),
                ", received ", shape_str(feeds[i].shape()));
    p.values[id] = feeds[i];
  }
  for (int id = 0; id < g.size(); ++id) {
    if (!p.needed[id]) continue;
    const Node& n = g.node(id);
    if (n.kind == NodeKind::param) {
      EMBER_CHECK(arena != nullptr, ValueError, "parameter ", node_label(n),
                  " needs a parameter arena");
      p.values[id] = arena->value(n.param);
      if (p.grad_active[id]) p.grads[id] = arena->grad(n.param);
    } else if (n.kind == NodeKind::constant) {
      p.values[id] = n.value;
    }
  }

  const bool check = nan_check_enabled();
  OpContext ctx;
  for (const Step& s : p.forward) {
    const Node& n = g.node(s.node);
    ctx.inputs.clear();
    for (int in : n.inputs) ctx.inputs.push_back(&p.values[in]);
    ctx.output = &p.values[s.node];
    ctx.attrs = &n.attrs;
    ctx.aux = &p.auxes[s.node];
    ctx.scratch = &p.fwd_scratches[s.node];
    ctx.training = p.spec.training;
    ctx.seed = rng_key(seed, static_cast<uint64_t>(s.node));
    with_layer_name(n, [&] { n.def->forward(ctx); });
    if (check) check_finite(n, *ctx.output, "its output, in the forward pass");
  }
  if (p.backward.empty()) return;

  EMBER_CHECK(seed_grads.size() == p.spec.seeds.size(), ValueError, "plan: expected ",
              p.spec.seeds.size(), " output gradients, received ", seed_grads.size());
  for (size_t i = 0; i < p.spec.seeds.size(); ++i) {
    int id = p.spec.seeds[i];
    if (!p.grad_active[id] || g.node(id).kind == NodeKind::param) continue;
    dispatch_float(p.metas[id].dtype, "plan", [&](auto t) {
      fill_seed<decltype(t)>(p.grads[id], seed_grads[i]);
    });
  }
  GradContext gc;
  std::vector<Tensor> scratch;
  for (const Step& s : p.backward) {
    const Node& n = g.node(s.node);
    gc.inputs.clear();
    for (int in : n.inputs) gc.inputs.push_back(&p.values[in]);
    gc.output = &p.values[s.node];
    gc.attrs = &n.attrs;
    gc.aux = &p.auxes[s.node];
    gc.scratch = &p.scratches[s.node];
    gc.training = p.spec.training;
    gc.seed = rng_key(seed, static_cast<uint64_t>(s.node));
    gc.grad_out = &p.grads[s.node];
    gc.grad_in.assign(n.inputs.size(), nullptr);
    gc.accumulate = s.accumulate;
    scratch.resize(s.scratch.size());
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int in = n.inputs[k];
      if (s.grad_buffers[k] >= 0) gc.grad_in[k] = &p.grads[in];
      else if (g.node(in).kind == NodeKind::param && p.grad_active[in]) gc.grad_in[k] = &p.grads[in];
    }
    for (size_t j = 0; j < s.scratch.size(); ++j) {
      scratch[j] = p.view(s.scratch[j].buffer, p.metas[s.scratch[j].target]);
      gc.grad_in[s.scratch[j].slot] = &scratch[j];
    }
    n.def->backward(gc);
    for (size_t j = 0; j < s.scratch.size(); ++j) {
      const Tensor& dst = p.grads[s.scratch[j].target];
      dispatch_float(dst.dtype(), "plan", [&](auto t) { add_into<decltype(t)>(dst, scratch[j]); });
    }
    if (check)
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (gc.grad_in[k] != nullptr)
          check_finite(n, p.grads[n.inputs[k]],
                       detail::concat("the gradient of its input ", k, ", in the backward pass"));
  }
}

Tensor Plan::value(int node) const {
  const Impl& p = *impl_;
  EMBER_CHECK(node >= 0 && node < p.graph->size() && p.needed[node], IndexError, "plan: node ",
              node, " is not computed by this plan");
  return p.values[node];
}

Tensor Plan::grad(int node) const {
  const Impl& p = *impl_;
  EMBER_CHECK(node >= 0 && node < p.graph->size() && p.grad_active[node], IndexError,
              "plan: no gradient flows to node ", node, " in this plan");
  return p.grads[node];
}

size_t Plan::workspace_bytes() const { return impl_->workspace; }

size_t Plan::naive_bytes() const {
  size_t total = 0;
  for (const Buffer& b : impl_->buffers) total += b.bytes;
  return total;
}

}  // namespace ember

// ember::Optimizer: one Keras 3 step over the trainable segments of a parameter arena, in the
// order of keras/src/optimizers/base_optimizer.py `apply`: clip the gradients, decay the
// weights, apply the rule with the current `iterations`, then count the step.
//
// Slots (see slots()), each a tensor the size of the arena, in this order:
//   sgd             [momentum]                        (only when momentum > 0)
//   adam, adamw     [momentum, velocity] (+ velocity_hat with amsgrad)
//   rmsprop         [velocity] (+ momentum when momentum > 0) (+ average_gradient if centered)
//   adagrad         [accumulator]                     (filled with initial_accumulator_value)
#include "ember/optimizer.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "ember/error.h"
#include "ember/threads.h"
#include "optim/update_rules.h"

namespace ember {

namespace {

const char* const kKinds[] = {"adagrad", "adam", "adamw", "rmsprop", "sgd"};

int slot_count(const OptimizerConfig& c) {
  if (c.kind == "sgd") return c.momentum > 0 ? 1 : 0;
  if (c.kind == "adam" || c.kind == "adamw") return c.amsgrad ? 3 : 2;
  if (c.kind == "rmsprop") return 1 + (c.momentum > 0) + (c.centered ? 1 : 0);
  return 1;  // adagrad
}

// Work is split into chunks of at most this many elements, so one parallel loop covers every
// trainable segment, large or small, and the partial sums of norms have fixed boundaries.
constexpr int64_t kChunk = 8192;

struct Chunk {
  int64_t begin, end;  // element range in the arena
  int seg;             // the parameter it belongs to
};

std::vector<Chunk> trainable_chunks(const ParamArena& arena, int64_t* elements) {
  std::vector<Chunk> chunks;
  *elements = 0;
  for (int s = 0; s < arena.count(); ++s) {
    const ParamSegment& seg = arena.segment(s);
    if (!seg.trainable) continue;
    for (int64_t b = 0; b < seg.size; b += kChunk)
      chunks.push_back({seg.offset + b, seg.offset + std::min(seg.size, b + kChunk), s});
    *elements += seg.size;
  }
  return chunks;
}

// Per-parameter gradient scale from clipnorm or global_clipnorm (1 where neither is set).
template <class T>
std::vector<double> clip_scales(const OptimizerConfig& cfg, const ParamArena& arena,
                                const std::vector<Chunk>& chunks, int64_t elements) {
  std::vector<double> scale(static_cast<size_t>(arena.count()), 1.0);
  if (!(cfg.clipnorm > 0) && !(cfg.global_clipnorm > 0)) return scale;
  const T* g = arena.grads().data<T>();
  const int64_t nc = static_cast<int64_t>(chunks.size());
  std::vector<double> part(chunks.size(), 0.0);
#pragma omp parallel for schedule(static) if (elements > kParallelGrain)
  for (int64_t c = 0; c < nc; ++c) {
    double s = 0.0;
    for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) s += double(g[i]) * g[i];
    part[c] = s;
  }
  std::vector<double> sq(static_cast<size_t>(arena.count()), 0.0);
  for (int64_t c = 0; c < nc; ++c) sq[chunks[c].seg] += part[c];
  if (cfg.clipnorm > 0) {
    // g * clipnorm / max(||g||, clipnorm), per parameter
    for (size_t s = 0; s < sq.size(); ++s)
      scale[s] = cfg.clipnorm / std::max(std::sqrt(sq[s]), cfg.clipnorm);
  } else {
    // clip_by_global_norm: a NaN or infinite norm makes the scale NaN, as in Keras.
    double total = 0.0;
    for (double v : sq) total += v;
    const double norm = std::sqrt(total);
    const double c = cfg.global_clipnorm;
    const double s = c * std::min(1.0 / norm, 1.0 / c) + (norm - norm);
    std::fill(scale.begin(), scale.end(), s);
  }
  return scale;
}

template <class T>
void run_step(const OptimizerConfig& cfg, const ParamArena& arena, std::vector<Tensor>& slots,
              double lr, int64_t iterations) {
  int64_t elements = 0;
  const std::vector<Chunk> chunks = trainable_chunks(arena, &elements);
  const std::vector<double> scale = clip_scales<T>(cfg, arena, chunks, elements);

  T* w = arena.values().data<T>();
  const T* g = arena.grads().data<T>();
  T* s0 = slots.size() > 0 ? slots[0].data<T>() : nullptr;
  T* s1 = slots.size() > 1 ? slots[1].data<T>() : nullptr;
  T* s2 = slots.size() > 2 ? slots[2].data<T>() : nullptr;

  optim::Common<T> common;
  common.lr = static_cast<T>(lr);
  common.decay = static_cast<T>(1.0 - cfg.weight_decay * lr);
  if (cfg.clipvalue > 0) common.clip = static_cast<T>(cfg.clipvalue);

  // Runs body(offset, n, common) over every chunk in one parallel loop.
  const int64_t nc = static_cast<int64_t>(chunks.size());
  auto for_chunks = [&](auto&& body) {
#pragma omp parallel for schedule(static) if (elements > kParallelGrain)
    for (int64_t c = 0; c < nc; ++c) {
      optim::Common<T> cc = common;
      cc.scale = static_cast<T>(scale[chunks[c].seg]);
      body(chunks[c].begin, chunks[c].end - chunks[c].begin, cc);
    }
  };

  const T eps = static_cast<T>(cfg.epsilon);
  const T mom = static_cast<T>(cfg.momentum);
  const std::string& k = cfg.kind;
  if (k == "sgd") {
    if (!(cfg.momentum > 0)) {
      for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
        optim::sgd<T, false, false>(w + o, g + o, nullptr, n, c, mom);
      });
    } else if (cfg.nesterov) {
      for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
        optim::sgd<T, true, true>(w + o, g + o, s0 + o, n, c, mom);
      });
    } else {
      for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
        optim::sgd<T, true, false>(w + o, g + o, s0 + o, n, c, mom);
      });
    }
  } else if (k == "adam" || k == "adamw") {
    // Bias correction with t = iterations + 1, computed in the arena's type as Keras does.
    const T t = static_cast<T>(iterations + 1);
    const T b1 = static_cast<T>(cfg.beta_1), b2 = static_cast<T>(cfg.beta_2);
    const T alpha = static_cast<T>(lr) * std::sqrt(T(1) - std::pow(b2, t)) /
                    (T(1) - std::pow(b1, t));
    if (cfg.amsgrad) {
      for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
        optim::adam<T, true>(w + o, g + o, s0 + o, s1 + o, s2 + o, n, c, b1, b2, eps, alpha);
      });
    } else {
      for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
        optim::adam<T, false>(w + o, g + o, s0 + o, s1 + o, nullptr, n, c, b1, b2, eps, alpha);
      });
    }
  } else if (k == "rmsprop") {
    const T rho = static_cast<T>(cfg.rho);
    const bool use_mom = cfg.momentum > 0;
    T* momentum_slot = use_mom ? s1 : nullptr;
    T* average_slot = cfg.centered ? (use_mom ? s2 : s1) : nullptr;
    auto run = [&](auto centered, auto with_momentum) {
      for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
        optim::rmsprop<T, decltype(centered)::value, decltype(with_momentum)::value>(
            w + o, g + o, s0 + o, momentum_slot ? momentum_slot + o : nullptr,
            average_slot ? average_slot + o : nullptr, n, c, rho, mom, eps);
      });
    };
    using Yes = std::true_type;
    using No = std::false_type;
    if (cfg.centered && use_mom) run(Yes{}, Yes{});
    else if (cfg.centered) run(Yes{}, No{});
    else if (use_mom) run(No{}, Yes{});
    else run(No{}, No{});
  } else {  // adagrad
    for_chunks([&](int64_t o, int64_t n, const optim::Common<T>& c) {
      optim::adagrad<T>(w + o, g + o, s0 + o, n, c, eps);
    });
  }
}

void check_clip(double v, const char* name) {
  EMBER_CHECK(std::isfinite(v) && v >= 0, ValueError, "Optimizer: expected ", name,
              " >= 0 (0 turns it off), received ", v);
}

}  // namespace

Optimizer::Optimizer(OptimizerConfig cfg) : cfg_(std::move(cfg)) {
  const bool known = std::find(std::begin(kKinds), std::end(kKinds), cfg_.kind) != std::end(kKinds);
  if (!known) {
    std::string valid;
    for (const char* k : kKinds) valid += (valid.empty() ? "" : ", ") + std::string(k);
    throw ValueError("Optimizer: unknown kind '" + cfg_.kind + "'; valid kinds: " + valid);
  }
  check_clip(cfg_.clipnorm, "clipnorm");
  check_clip(cfg_.clipvalue, "clipvalue");
  check_clip(cfg_.global_clipnorm, "global_clipnorm");
  const int clips = (cfg_.clipnorm > 0) + (cfg_.clipvalue > 0) + (cfg_.global_clipnorm > 0);
  EMBER_CHECK(clips <= 1, ValueError,
              "Optimizer: only one of clipnorm, clipvalue and global_clipnorm can be set, "
              "received clipnorm=", cfg_.clipnorm, ", clipvalue=", cfg_.clipvalue,
              ", global_clipnorm=", cfg_.global_clipnorm);
  if (cfg_.kind == "sgd")
    EMBER_CHECK(cfg_.momentum >= 0 && cfg_.momentum <= 1, ValueError,
                "Optimizer 'sgd': expected momentum in [0, 1], received ", cfg_.momentum);
  if (cfg_.kind == "rmsprop")
    EMBER_CHECK(cfg_.momentum >= 0, ValueError,
                "Optimizer 'rmsprop': expected momentum >= 0, received ", cfg_.momentum);
}

void Optimizer::ensure_slots(const ParamArena& arena) {
  const int want = slot_count(cfg_);
  if (slots_.empty()) {
    for (int i = 0; i < want; ++i) slots_.emplace_back(Shape{arena.total()}, arena.dtype());
    if (cfg_.kind == "adagrad") {
      const Tensor& acc = slots_[0];
      dispatch_float(arena.dtype(), "Optimizer", [&](auto tag) {
        using T = decltype(tag);
        std::fill(acc.data<T>(), acc.data<T>() + acc.size(),
                  static_cast<T>(cfg_.initial_accumulator_value));
      });
    }
    return;
  }
  // Slots set from a checkpoint, or built on an earlier step: they must fit this arena.
  EMBER_CHECK(static_cast<int>(slots_.size()) == want, ValueError, "Optimizer '", cfg_.kind,
              "': expected ", want, " slot tensors, received ", slots_.size());
  for (const Tensor& s : slots_) {
    EMBER_CHECK(s.dtype() == arena.dtype() && s.rank() == 1 && s.size() == arena.total(),
                ValueError, "Optimizer '", cfg_.kind, "': expected slot tensors of shape (",
                arena.total(), ",) and dtype ", dtype_name(arena.dtype()),
                " to match the parameter arena, received ", shape_str(s.shape()), " ",
                dtype_name(s.dtype()));
  }
}

void Optimizer::step(const ParamArena& arena, double lr) {
  // As Keras, a step with no gradients to apply changes nothing, not even `iterations`.
  bool any_trainable = false;
  for (const ParamSegment& s : arena.segments()) any_trainable = any_trainable || s.trainable;
  if (!any_trainable) return;
  ensure_slots(arena);
  dispatch_float(arena.dtype(), "Optimizer", [&](auto tag) {
    run_step<decltype(tag)>(cfg_, arena, slots_, lr, iterations_);
  });
  ++iterations_;
}

}  // namespace ember

#include "learning_rate.h"

#include <algorithm>
#include <cmath>

#include "config_reader.h"

namespace ember::api {

namespace {

constexpr double kPi = 3.14159265358979323846;

const json& inner(const json& schedule) {
  static const json empty = json::object();
  return schedule.contains("config") && schedule.at("config").is_object() ? schedule.at("config")
                                                                          : empty;
}

std::string class_of(const json& schedule) {
  if (!schedule.is_object() || !schedule.contains("class_name") ||
      !schedule.at("class_name").is_string())
    return "";
  return schedule.at("class_name").get<std::string>();
}

}  // namespace

void check_schedule(const json& schedule) {
  const std::string cls = class_of(schedule);
  EMBER_CHECK(cls == "ExponentialDecay" || cls == "PiecewiseConstantDecay" ||
                  cls == "CosineDecay",
              ValueError, "unknown learning-rate schedule ", short_json(schedule),
              "; ember's C++ API evaluates ExponentialDecay, PiecewiseConstantDecay and "
              "CosineDecay");
  ConfigReader r(inner(schedule), cls);
  if (cls == "PiecewiseConstantDecay") {
    const json& c = r.raw();
    EMBER_CHECK(c.contains("boundaries") && c.contains("values") && c.at("boundaries").is_array() &&
                    c.at("values").is_array() &&
                    c.at("values").size() == c.at("boundaries").size() + 1,
                ValueError, "PiecewiseConstantDecay: expected len(values) == len(boundaries) + "
                "1, received ", short_json(c));
    for (const json& v : c.at("values"))
      EMBER_CHECK(v.is_number(), ValueError, "PiecewiseConstantDecay: values must be numbers");
    for (const json& v : c.at("boundaries"))
      EMBER_CHECK(v.is_number(), ValueError, "PiecewiseConstantDecay: boundaries must be numbers");
    return;
  }
  EMBER_CHECK(r.get_float("decay_steps", 0) > 0, ValueError, cls,
              ": expected decay_steps > 0, received ", short_json(r.raw().value("decay_steps", json())));
  r.get_float("initial_learning_rate", 0);
  if (cls == "ExponentialDecay") {
    r.get_float("decay_rate", 0);
    r.get_bool("staircase", false);
  } else {
    r.get_float("alpha", 0);
    r.get_float("warmup_steps", 0);
    r.get_float("warmup_target", 0);
  }
}

double evaluate_schedule(const json& schedule, int64_t step_count) {
  const std::string cls = class_of(schedule);
  ConfigReader r(inner(schedule), cls);
  const double step = static_cast<double>(step_count);
  if (cls == "ExponentialDecay") {
    double p = step / r.get_float("decay_steps", 1);
    if (r.get_bool("staircase", false)) p = std::floor(p);
    return r.get_float("initial_learning_rate", 0) * std::pow(r.get_float("decay_rate", 1), p);
  }
  if (cls == "PiecewiseConstantDecay") {
    const json& c = r.raw();
    const json& b = c.at("boundaries");
    const json& v = c.at("values");
    for (size_t i = 0; i < b.size(); ++i)
      if (step <= b[i].get<double>()) return v[i].get<double>();
    return v.back().get<double>();
  }
  // CosineDecay, with its optional linear warmup
  const double initial = r.get_float("initial_learning_rate", 0);
  const double decay_steps = r.get_float("decay_steps", 1);
  const double alpha = r.get_float("alpha", 0);
  const bool warmup = r.has("warmup_target");
  const double warmup_steps = r.get_float("warmup_steps", 0);
  const double target = r.get_float("warmup_target", initial);
  if (warmup && step < warmup_steps) return initial + step / warmup_steps * (target - initial);
  const double start = warmup ? target : initial;
  const double s = std::min(step - (warmup ? warmup_steps : 0.0), decay_steps);
  const double cosine = 0.5 * (1.0 + std::cos(kPi * s / decay_steps));
  return start * ((1 - alpha) * cosine + alpha);
}

}  // namespace ember::api

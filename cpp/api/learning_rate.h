// Keras's learning-rate schedules (ExponentialDecay, PiecewiseConstantDecay, CosineDecay), as
// ember.optimizers.schedules evaluates them, for models loaded with one.
#pragma once
#include <cstdint>

#include "model_impl.h"

namespace ember::api {

// The learning rate at optimizer step `step` of the schedule config {"class_name", "config"}.
double evaluate_schedule(const json& schedule, int64_t step);
// Throws ValueError unless `schedule` is a schedule this file can evaluate.
void check_schedule(const json& schedule);

}  // namespace ember::api

// A model's architecture as the Keras config JSON of model files ("model_config").
#pragma once
#include "model_impl.h"

namespace ember::api {

// Rebuilds the layers of a {"class_name": "Sequential" | "Functional", "config": ...} entry
// into `m` (empty), calling them as the config says; sets m's inputs and outputs.
void model_from_config(ModelState& m, const json& entry);
// The entry Python's ember.models.load_model reads: Sequential when the layers form one chain,
// Functional otherwise.
json model_to_config(const ModelState& m);

}  // namespace ember::api

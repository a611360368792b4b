// Model files: the safetensors format, shared with Python's model.save / ember.models.load_model.
//
//   8 bytes   N, the header length (little-endian u64)
//   N bytes   UTF-8 JSON: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
//             "shape": [..], "data_offsets": [begin, end]}, ...}, space-padded to 8 bytes
//   rest      the tensors' little-endian bytes, tiling the section exactly
//
// A model file adds metadata "format" = "ember.model", "model_config" (the Keras config of a
// Sequential or Functional model), "weight_names" (model.weights order), "compile_config",
// "optimizer_iterations", "train_rng", and tensors "optimizer/slot_<k>".
//
// Reading validates everything before trusting it (every offset and size, the JSON, the
// dtypes): a corrupt, truncated or hostile file raises FileFormatError naming the file and the
// fault, and is never read out of bounds. Writing is atomic (temporary file + rename).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ember/model.h"

namespace ember {

// A file that is not a valid safetensors / model file (Python: FileFormatError, a ValueError).
struct FileFormatError : ValueError {
  using ValueError::ValueError;
};

// One tensor of a safetensors file. `dtype` is the format's code ("F32", "I64", "U8", ...).
// F32, F64, I32 and I64 tensors come as `tensor`; the other codes as raw little-endian bytes.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  Shape shape;
  Tensor tensor;
  std::vector<unsigned char> raw;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsEntry> tensors;  // in header order
  const SafetensorsEntry* find(const std::string& name) const;
};

// Largest header accepted (safetensors' own limit): a hostile length field must not make the
// reader allocate gigabytes before anything is checked.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100000000;

SafetensorsFile read_safetensors(const std::string& path);
// Parses a whole file image held in memory (`what` names it in errors).
SafetensorsFile parse_safetensors(const unsigned char* data, size_t size, const std::string& what);
// Writes F32/F64/I32/I64 tensors, in the given order, and string metadata; atomically.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata);

// Rebuilds a model saved by Python's model.save (or save_model below): architecture, weights,
// and, when it was compiled, its loss, metrics, optimizer state and dropout stream, so that both
// predict and further training work. `options.seed` seeds what comes next (shuffling).
Model load_model(const std::string& path, const ModelOptions& options = {});

struct SaveOptions {
  bool include_optimizer = true;
  bool overwrite = true;
};
// Writes a file that Python's ember.models.load_model reads. The name must end in .ember or
// .keras, as in Python.
void save_model(const Model& model, const std::string& path, const SaveOptions& options = {});

}  // namespace ember

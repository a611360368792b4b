// The C++ half of the C++/Python interop tests (make_reference.py is the Python half).
//
//   interop_check DIR
//
// For each model Python saved in DIR: load it here, check that predict and evaluate equal
// Python's, train one more epoch as Python did (shuffle off: same batches, and the same dropout
// masks, since the file carries the random stream) and check the weights equal Python's; then
// save it for Python to load (check_cpp_saved.py). It also defines models with the builder,
// trains them and saves them with their predictions. Exits 77 when DIR has no Python models.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ember/buffers.h"
#include "ember/model_file.h"
#include "ember/rng.h"

namespace {

int failures = 0;

void fail(const std::string& what) {
  ++failures;
  std::printf("FAILED: %s\n", what.c_str());
}

double value_at(const ember::Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case ember::DType::f32: return t.data<float>()[i];
    case ember::DType::f64: return t.data<double>()[i];
    case ember::DType::i32: return t.data<int32_t>()[i];
    case ember::DType::i64: return static_cast<double>(t.data<int64_t>()[i]);
  }
  return 0;
}

// |a - b| <= atol + rtol * |b| everywhere; reports the worst element.
bool close(const std::string& what, const ember::Tensor& a, const ember::Tensor& b, double atol,
           double rtol) {
  if (a.shape() != b.shape()) {
    fail(what + ": shape " + ember::shape_str(a.shape()) + " vs " + ember::shape_str(b.shape()));
    return false;
  }
  double worst = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < a.size(); ++i) {
    double x = value_at(a, i), y = value_at(b, i);
    double excess = std::fabs(x - y) - (atol + rtol * std::fabs(y));
    if (!(excess <= 0) && (at < 0 || excess > worst)) worst = excess, at = i;
  }
  if (at >= 0) {
    fail(what + ": element " + std::to_string(at) + " is " + std::to_string(value_at(a, at)) +
         ", expected " + std::to_string(value_at(b, at)));
    return false;
  }
  return true;
}

void close_scalar(const std::string& what, double a, double b, double tol) {
  if (!(std::fabs(a - b) <= tol * (1 + std::fabs(b))))
    fail(what + ": " + std::to_string(a) + " vs " + std::to_string(b));
}

const ember::Tensor& tensor(const ember::SafetensorsFile& f, const std::string& name) {
  const ember::SafetensorsEntry* e = f.find(name);
  if (!e) throw std::runtime_error("reference file lacks tensor '" + name + "'");
  return e->tensor;
}

std::vector<ember::Tensor> numbered(const ember::SafetensorsFile& f, const char* prefix) {
  std::vector<ember::Tensor> out;
  for (int i = 0; f.find(prefix + std::to_string(i)); ++i)
    out.push_back(tensor(f, prefix + std::to_string(i)));
  return out;
}

void write_predictions(const std::string& path, const std::vector<ember::Tensor>& xs,
                       const std::vector<ember::Tensor>& preds) {
  std::vector<std::pair<std::string, ember::Tensor>> t;
  for (size_t i = 0; i < xs.size(); ++i) t.emplace_back("x" + std::to_string(i), xs[i]);
  for (size_t i = 0; i < preds.size(); ++i) t.emplace_back("pred" + std::to_string(i), preds[i]);
  ember::write_safetensors(path, t, {});
}

// Loads the file C++ saved, trains one epoch (no shuffling) and writes the data and the
// resulting weights: Python, loading the same file and training the same way, must get the
// same weights (the file carries the optimizer state and the dropout stream).
void write_training(const std::string& path, const std::string& model_path,
                    const std::vector<ember::Tensor>& xs, const std::vector<ember::Tensor>& ys,
                    int64_t batch) {
  ember::Model model = ember::load_model(model_path);
  ember::FitOptions fit;
  fit.batch_size = batch;
  fit.shuffle = false;
  model.fit(xs, ys, fit);
  std::vector<std::pair<std::string, ember::Tensor>> t;
  for (size_t i = 0; i < xs.size(); ++i) t.emplace_back("x" + std::to_string(i), xs[i]);
  for (size_t i = 0; i < ys.size(); ++i) t.emplace_back("y" + std::to_string(i), ys[i]);
  const auto names = model.weight_names();
  const auto weights = model.get_weights();
  for (size_t i = 0; i < names.size(); ++i) t.emplace_back("trained/" + names[i], weights[i]);
  ember::write_safetensors(path, t, {{"batch_size", std::to_string(batch)}});
}

void check_python_model(const std::string& dir, const std::string& name) {
  std::printf("-- %s (saved by Python)\n", name.c_str());
  const ember::SafetensorsFile ref = ember::read_safetensors(dir + "/" + name + ".ref.safetensors");
  const int64_t batch = std::stoll(ref.metadata.at("batch_size"));
  const auto xs = numbered(ref, "x"), ys = numbered(ref, "y"), preds = numbered(ref, "pred");

  ember::Model model = ember::load_model(dir + "/" + name + ".ember");
  const auto mine = model.predict(xs, batch);
  for (size_t k = 0; k < preds.size(); ++k)
    close(name + " predict[" + std::to_string(k) + "]", mine.at(k), preds[k], 1e-6, 1e-5);

  const nlohmann::json expected = nlohmann::json::parse(ref.metadata.at("evaluate"));
  const ember::Logs logs = model.evaluate(xs, ys, batch);
  for (const auto& [key, value] : expected.items()) {
    if (!logs.contains(key)) {
      fail(name + " evaluate: no '" + key + "' in " + logs.str());
      continue;
    }
    close_scalar(name + " evaluate " + key, logs.at(key), value.get<double>(), 1e-6);
  }

  ember::FitOptions fit;
  fit.batch_size = batch;
  fit.shuffle = false;
  ember::History h = model.fit(xs, ys, fit);
  close_scalar(name + " fit loss", h.epochs.at(0).at("loss"),
               nlohmann::json::parse(ref.metadata.at("fit_loss")).get<double>(), 1e-5);
  const auto names = model.weight_names();
  const auto weights = model.get_weights();
  for (size_t i = 0; i < names.size(); ++i)
    close(name + " trained " + names[i], weights[i], tensor(ref, "trained/" + names[i]), 1e-6, 1e-4);

  ember::save_model(model, dir + "/" + name + ".cpp.ember");
  write_predictions(dir + "/" + name + ".cpp_pred.safetensors", xs, model.predict(xs, batch));
  write_training(dir + "/" + name + ".cpp_trained.safetensors", dir + "/" + name + ".cpp.ember",
                 xs, ys, batch);
}

// Models defined with the builder, trained briefly, saved for Python with their predictions.
ember::Tensor random_tensor(const ember::Shape& shape, uint64_t seed, double scale = 1.0) {
  ember::Tensor t(shape, ember::DType::f32);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<float>()[i] = static_cast<float>(scale * (2 * ember::uniform01(seed, uint64_t(i)) - 1));
  return t;
}

ember::Tensor labels(int64_t n, int classes, uint64_t seed) {
  ember::Tensor t({n}, ember::DType::i32);
  for (int64_t i = 0; i < n; ++i)
    t.data<int32_t>()[i] = static_cast<int32_t>(ember::uniform01(seed, uint64_t(i)) * classes);
  return t;
}

void save_built(const std::string& dir, const std::string& name, ember::Model& model,
                const std::vector<ember::Tensor>& xs, const std::vector<ember::Tensor>& ys) {
  std::printf("-- %s (built in C++)\n", name.c_str());
  ember::FitOptions fit;
  fit.epochs = 2;
  fit.batch_size = 8;
  ember::History h = model.fit(xs, ys, fit);
  if (!std::isfinite(h.epochs.back().at("loss"))) fail(name + ": the loss is not finite");
  ember::save_model(model, dir + "/cppbuilt_" + name + ".ember");
  write_predictions(dir + "/cppbuilt_" + name + ".pred.safetensors", xs, model.predict(xs));
  write_training(dir + "/cppbuilt_" + name + ".trained.safetensors",
                 dir + "/cppbuilt_" + name + ".ember", xs, ys, 8);
  // And the C++ reader reads it back to the same predictions.
  ember::Model again = ember::load_model(dir + "/cppbuilt_" + name + ".ember");
  const auto a = model.predict(xs), b = again.predict(xs);
  for (size_t k = 0; k < a.size(); ++k) close(name + " reloaded in C++", b[k], a[k], 0, 0);
}

void build_models(const std::string& dir) {
  ember::ModelOptions opts;
  opts.seed = 5;
  {
    opts.name = "cpp_cnn";
    ember::Model m(opts);
    auto x = m.input({9, 9, 3});
    ember::ConvOptions conv;
    conv.activation = "relu";
    conv.padding = "same";
    x = m.conv2d(x, 4, {3, 3}, conv);
    x = m.batch_norm(x);
    x = m.max_pool2d(x, {2, 2});
    x = m.avg_pool2d(x, {2, 2}, ember::PoolOptions{{1, 1}, "same", ""});
    auto g = m.global_average_pool(x);
    x = m.flatten(x);
    x = m.dropout(x, 0.25);
    x = m.concatenate({x, g});
    ember::DenseOptions penalised;
    penalised.kernel_regularizer = ember::regularizers::l1_l2(1e-3, 1e-2);
    x = m.activation(m.dense(x, 12, penalised), "selu");
    m.set_outputs({m.dense(x, 3, "softmax")});
    m.compile(ember::Loss::sparse_categorical_crossentropy, ember::optimizers::adam(), {"accuracy"});
    save_built(dir, "cnn", m, {random_tensor({16, 9, 9, 3}, 1)}, {labels(16, 3, 2)});
  }
  {
    opts.name = "cpp_rnn";
    ember::Model m(opts);
    auto ids = m.input({7}, ember::DType::i32, "tokens");
    ember::EmbeddingOptions e;
    e.mask_zero = true;
    auto x = m.embedding(ids, 30, 6, e);
    ember::LSTMOptions l;
    l.return_sequences = true;
    auto seq = m.lstm(x, 5, l);
    ember::GRUOptions gr;
    gr.go_backwards = true;
    auto last = m.gru(seq, 4, gr);
    auto pooled = m.global_average_pool(m.layer_norm(seq));
    m.set_outputs({m.dense(m.concatenate({last, pooled}), 1, "sigmoid")});
    m.compile(ember::Loss::binary_crossentropy, ember::optimizers::rmsprop(), {"accuracy"});
    ember::Tensor tokens({12, 7}, ember::DType::i32);
    for (int64_t i = 0; i < 12; ++i)
      for (int64_t t = 0; t < 7; ++t)
        tokens.data<int32_t>()[i * 7 + t] = t < 2 + i % 5 ? int32_t(1 + (i * 7 + t) % 29) : 0;
    ember::Tensor y({12, 1}, ember::DType::f32);
    for (int64_t i = 0; i < 12; ++i) y.data<float>()[i] = float(i % 2);
    save_built(dir, "rnn", m, {tokens}, {y});
  }
  {
    opts.name = "cpp_attention";
    ember::Model m(opts);
    auto q = m.input({4, 6}, ember::DType::f32, "query");
    auto v = m.input({5, 6}, ember::DType::f32, "context");
    ember::AttentionOptions a;
    a.dropout = 0.1;
    auto cross = m.multi_head_attention(q, v, 2, 3, a);
    ember::AttentionOptions causal;
    causal.use_causal_mask = true;
    causal.output_dim = 4;
    auto self = m.multi_head_attention(m.add({q, cross}), q, q, 1, 2, causal);
    m.set_outputs({m.dense(m.reshape(self, {16}), 2)});
    m.compile(ember::Loss::mean_squared_error, ember::optimizers::sgd(0.05, 0.9), {"mae"});
    save_built(dir, "attention", m, {random_tensor({10, 4, 6}, 3), random_tensor({10, 5, 6}, 4)},
               {random_tensor({10, 2}, 5)});
  }
  {
    opts.name = "cpp_conv1d";
    ember::Model m(opts);
    auto x = m.input({10, 2});
    ember::ConvOptions conv;
    conv.padding = "causal";
    conv.activation = "tanh";
    x = m.conv1d(x, 3, 3, conv);
    x = m.max_pool1d(x, 2);
    x = m.avg_pool1d(x, 1);
    x = m.global_max_pool(x);
    ember::DenseOptions d;
    d.use_bias = false;
    m.set_outputs({m.dense(x, 2, d)});
    m.compile(ember::Loss(ember::Loss::categorical_crossentropy, true), ember::optimizers::adagrad(),
              {"accuracy"});
    ember::Tensor y({8, 2}, ember::DType::f32);
    for (int64_t i = 0; i < 8; ++i) y.data<float>()[i * 2 + i % 2] = 1;
    save_built(dir, "conv1d", m, {random_tensor({8, 10, 2}, 6)}, {y});
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::ifstream list(dir + "/models.json");
  if (!list) {
    std::printf("skipping: %s/models.json not found (the Python fixture did not run)\n",
                dir.c_str());
    return 77;
  }
  try {
    const nlohmann::json names = nlohmann::json::parse(list);
    for (const auto& n : names) check_python_model(dir, n.get<std::string>());
    build_models(dir);
  } catch (const std::exception& e) {
    fail(std::string("threw: ") + e.what());
  }
  std::printf("%d failures\n", failures);
  return failures ? 1 : 0;
}

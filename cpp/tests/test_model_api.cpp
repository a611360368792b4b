// ember::Model (the C++ API): builder shapes, names and weights; errors with Python's
// messages; initialisation; predictions equal to the Python package's; training.
#include <cmath>
#include <string>

#include "check.h"
#include "ember/buffers.h"
#include "ember/model.h"

using namespace ember;

namespace {

Model seeded(const std::string& name = "model", uint64_t seed = 7) {
  ModelOptions o;
  o.name = name;
  o.seed = seed;
  return Model(o);
}

// The message of the ember::Error `fn` throws ("" when it throws nothing).
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The formulas make_unit_reference.py uses: weight k, element j = 0.5 sin(1.3 j + 0.7 k)
// (+1 for moving variances); inputs cos(0.9 j + phase).
void fill_weights(Model& m) {
  std::vector<Tensor> ws = m.get_weights();
  const auto names = m.weight_names();
  for (size_t k = 0; k < ws.size(); ++k) {
    const bool variance = names[k].size() >= 15 &&
                          names[k].compare(names[k].size() - 15, 15, "moving_variance") == 0;
    for (int64_t j = 0; j < ws[k].size(); ++j)
      ws[k].data<float>()[j] =
          static_cast<float>(0.5 * std::sin(1.3 * double(j) + 0.7 * double(k)) + (variance ? 1 : 0));
  }
  m.set_weights(ws);
}

Tensor waves(const Shape& shape, double phase = 0) {
  Tensor t(shape, DType::f32);
  for (int64_t j = 0; j < t.size(); ++j)
    t.data<float>()[j] = static_cast<float>(std::cos(0.9 * double(j) + phase));
  return t;
}

void check_values(const Tensor& got, const Shape& shape, const std::vector<float>& want) {
  REQUIRE(got.shape() == shape);
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) CHECK_NEAR(got.data<float>()[i], want[i], 2e-5);
}

// Two separable classes in `features` dimensions.
void blobs(int64_t n, int64_t features, Tensor& x, Tensor& y) {
  x = Tensor({n, features}, DType::f32);
  y = Tensor({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 2);
    y.data<int32_t>()[i] = label;
    for (int64_t f = 0; f < features; ++f)
      x.data<float>()[i * features + f] =
          static_cast<float>((label ? 1.0 : -1.0) + 0.8 * std::sin(double(i * features + f)));
  }
}

}  // namespace

// ---- definition -------------------------------------------------------------------------------

TEST_CASE("model api: builder shapes, layer names and weights as Keras") {
  Model m = seeded();
  auto x = m.input({28, 28, 1});
  CHECK(x.shape() == (Shape{kUnknown, 28, 28, 1}));
  ConvOptions conv;
  conv.activation = "relu";
  x = m.conv2d(x, 32, {3, 3}, conv);
  CHECK(x.shape() == (Shape{kUnknown, 26, 26, 32}));
  x = m.max_pool2d(x, {2, 2});
  CHECK(x.shape() == (Shape{kUnknown, 13, 13, 32}));
  x = m.flatten(x);
  CHECK(x.shape() == (Shape{kUnknown, 5408}));
  x = m.dense(x, 128, "relu");
  x = m.dropout(x, 0.2);
  auto y = m.dense(x, 10, "softmax");
  CHECK(y.shape() == (Shape{kUnknown, 10}));
  m.set_outputs({y});
  CHECK(m.layer_names() == (std::vector<std::string>{"input_layer", "conv2d", "max_pooling2d",
                                                     "flatten", "dense", "dropout", "dense_1"}));
  CHECK(m.weight_names() == (std::vector<std::string>{"conv2d/kernel", "conv2d/bias",
                                                      "dense/kernel", "dense/bias",
                                                      "dense_1/kernel", "dense_1/bias"}));
  CHECK(m.count_params() == 3 * 3 * 32 + 32 + 5408 * 128 + 128 + 128 * 10 + 10);
  CHECK(m.get_weight("conv2d/kernel").shape() == (Shape{3, 3, 1, 32}));
}

TEST_CASE("model api: every builder call infers its output shape") {
  Model m = seeded();
  auto seq = m.input({7, 6});
  CHECK(m.conv1d(seq, 4, 3).shape() == (Shape{kUnknown, 5, 4}));
  ConvOptions same;
  same.padding = "same";
  same.strides = {2};
  CHECK(m.conv1d(seq, 4, 3, same).shape() == (Shape{kUnknown, 4, 4}));
  CHECK(m.max_pool1d(seq, 2).shape() == (Shape{kUnknown, 3, 6}));
  CHECK(m.avg_pool1d(seq, 3).shape() == (Shape{kUnknown, 2, 6}));
  CHECK(m.global_average_pool(seq).shape() == (Shape{kUnknown, 6}));
  GlobalPoolOptions keep;
  keep.keepdims = true;
  CHECK(m.global_max_pool(seq, keep).shape() == (Shape{kUnknown, 1, 6}));
  CHECK(m.reshape(seq, {3, -1}).shape() == (Shape{kUnknown, 3, 14}));
  CHECK(m.layer_norm(seq).shape() == (Shape{kUnknown, 7, 6}));
  CHECK(m.batch_norm(seq).shape() == (Shape{kUnknown, 7, 6}));
  CHECK(m.activation(seq, "tanh").shape() == (Shape{kUnknown, 7, 6}));
  LSTMOptions all;
  all.return_sequences = true;
  CHECK(m.lstm(seq, 5, all).shape() == (Shape{kUnknown, 7, 5}));
  CHECK(m.gru(seq, 3).shape() == (Shape{kUnknown, 3}));
  auto other = m.input({4, 10});
  AttentionOptions a;
  a.output_dim = 8;
  CHECK(m.multi_head_attention(seq, other, 2, 5, a).shape() == (Shape{kUnknown, 7, 8}));
  CHECK(m.multi_head_attention(seq, seq, 3, 2).shape() == (Shape{kUnknown, 7, 6}));
  CHECK(m.concatenate({seq, seq}, 1).shape() == (Shape{kUnknown, 14, 6}));
  CHECK(m.add({seq, seq}).shape() == (Shape{kUnknown, 7, 6}));
  auto ids = m.input({9}, DType::i64);
  CHECK(m.embedding(ids, 100, 16).shape() == (Shape{kUnknown, 9, 16}));
  CHECK(m.inputs().size() == 3);
}

TEST_CASE("model api: arguments are checked with Python's messages") {
  Model m = seeded();
  auto x = m.input({4});
  CHECK(error_of([&] { m.dense(x, 0); }) ==
        "Dense 'dense': expected a positive integer for `units`, received 0");
  CHECK(error_of([&] { m.dropout(x, 1.5); }) ==
        "Dropout 'dropout': expected `rate` in [0, 1], received 1.5");
  CHECK(error_of([&] { m.dense(x, 3, "swoosh"); }).rfind(
            "Dense 'dense_1': unknown activation 'swoosh'; valid names: [", 0) == 0);
  CHECK_THROWS_AS(m.conv2d(m.input({5, 5, 1}), 0, {3, 3}), ValueError);
  CHECK(error_of([&] { m.conv2d(m.input({5, 5, 1}), 2, {3, 3, 3}); }) ==
        "Conv2D 'conv2d_1': `kernel_size` must have 2 values, received (3, 3, 3)");
  BatchNormOptions bn;
  bn.momentum = 2;
  CHECK(error_of([&] { m.batch_norm(x, bn); }) == "BatchNormalization 'batch_normalization': "
        "expected 0 <= momentum <= 1 and epsilon > 0, received momentum=2.0, epsilon=0.001");
  // Layer calls that fail say so as Python's Layer.__call__ does, and leave the model as it was.
  // (As in Python, a failed layer still used up its automatic name.)
  const size_t weights = m.weight_names().size();
  CHECK(error_of([&] { m.conv2d(x, 2, {3, 3}); }) ==
        "Exception encountered when calling Conv2D 'conv2d_2': Conv2D 'conv2d_2': expected an "
        "input of rank 4 (batch, 2 spatial dims, channels), received shape (None, 4)");
  CHECK(m.weight_names().size() == weights);
  CHECK(error_of([&] { m.lstm(x, 3); }).find("LSTM 'lstm': expected an input of rank 3") !=
        std::string::npos);
  CHECK(error_of([&] { m.add({x, m.input({5})}); }) ==
        "Exception encountered when calling Add 'add': Inputs have incompatible shapes. "
        "Received shapes (4,) and (5,)");
  // Names are unique within a model; tensors belong to their model.
  DenseOptions named;
  named.name = "head";
  m.dense(x, 2, named);
  CHECK(error_of([&] { m.dense(x, 2, named); }) ==
        "model 'model': two layers are named 'head'; layer names must be unique");
  Model other = seeded("other");
  CHECK(contains(error_of([&] { other.dense(x, 2); }), "belongs to another model"));
  CHECK(contains(error_of([&] { m.dense(SymbolicTensor(), 2); }), "empty SymbolicTensor"));
  CHECK(contains(error_of([&] { m.set_outputs({}); }), "at least one output"));
}

TEST_CASE("model api: running needs outputs and compile, and fixes the definition") {
  Model m = seeded();
  auto x = m.input({4});
  Tensor data({3, 4}, DType::f32);
  CHECK(contains(error_of([&] { m.predict(data); }), "has no outputs: call set_outputs()"));
  m.set_outputs({m.dense(x, 2)});
  CHECK(error_of([&] { m.fit(data, Tensor({3}, DType::i32)); }) ==
        "You must call compile() on model 'model' before calling fit()");
  CHECK(error_of([&] { m.predict(Tensor({3, 5}, DType::f32)); }) ==
        "x: input 'input_layer' of model 'model' expected shape (None, 4), received an array "
        "of shape (3, 5)");
  CHECK(error_of([&] { m.predict(data, 0); }) ==
        "batch_size must be a positive integer, received 0");
  CHECK(m.predict(data).shape() == (Shape{3, 2}));
  CHECK(contains(error_of([&] { m.dense(x, 2); }), "cannot add layers after the model has run"));
  m.compile(Loss::mean_squared_error, optimizers::sgd());
  CHECK(error_of([&] { m.train_step(data, Tensor({2, 2}, DType::f32)); }) ==
        "x and y must have the same number of samples, received x: 3 samples and y: 2 samples");
  CHECK(contains(error_of([&] { m.compile(Loss::mean_squared_error, optimizers::adam(-1)); }),
                 "Adam: `learning_rate` must be >= 0, received -1.0"));
  CHECK(contains(error_of([&] { m.compile(Loss::mean_squared_error, optimizers::adam(), {"f1"}); }),
                 "unknown metric 'f1'"));
  CHECK(contains(error_of([&] { Loss::from_name("hinge"); }), "unknown loss 'hinge'"));
}

TEST_CASE("model api: Keras initialisers, reproducible from the seed") {
  Model a = seeded("a", 3), b = seeded("b", 3), c = seeded("c", 4);
  for (Model* m : {&a, &b, &c}) {
    auto x = m->input({6, 40});
    m->set_outputs({m->lstm(x, 16)});
  }
  const auto wa = a.get_weights(), wb = b.get_weights(), wc = c.get_weights();
  CHECK(to_vector<float>(wa[0]) == to_vector<float>(wb[0]));
  CHECK(to_vector<float>(wa[0]) != to_vector<float>(wc[0]));
  // glorot_uniform kernel (40, 64): within sqrt(6 / (40 + 64)), spread over it.
  const double limit = std::sqrt(6.0 / 104.0);
  double lo = 1, hi = -1;
  for (float v : to_vector<float>(wa[0])) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  CHECK(lo >= -limit && hi <= limit && lo < -0.9 * limit && hi > 0.9 * limit);
  // orthogonal recurrent kernel (16, 64): orthonormal rows.
  const auto u = to_vector<float>(wa[1]);
  double worst = 0;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      double dot = 0;
      for (int k = 0; k < 64; ++k) dot += double(u[i * 64 + k]) * u[j * 64 + k];
      worst = std::max(worst, std::fabs(dot - (i == j ? 1.0 : 0.0)));
    }
  CHECK(worst < 1e-5);
  // unit_forget_bias: zeros, then ones for the forget gate, then zeros.
  const auto bias = to_vector<float>(wa[2]);
  for (int i = 0; i < 64; ++i) CHECK(bias[size_t(i)] == (i >= 16 && i < 32 ? 1.0f : 0.0f));
}

// ---- predictions equal the Python package's (values from make_unit_reference.py) -------------

TEST_CASE("model api: predict equals Python (dense, batch norm, softmax)") {
  Model m = seeded();
  auto x = m.input({5});
  auto y = m.batch_norm(m.dense(x, 4, "relu"));
  m.set_outputs({m.dense(y, 3, "softmax")});
  fill_weights(m);
  check_values(m.predict(waves({2, 5})), {2, 3},
               {0.37938559f, 0.25826684f, 0.36234754f, 0.24903658f, 0.27297926f, 0.47798413f});
}

TEST_CASE("model api: predict equals Python (conv, pooling, flatten)") {
  Model m = seeded();
  auto x = m.input({6, 6, 2});
  ConvOptions conv;
  conv.padding = "same";
  conv.activation = "tanh";
  auto y = m.max_pool2d(m.conv2d(x, 3, {3}, conv));
  PoolOptions stride1;
  stride1.strides = {1, 1};
  y = m.flatten(m.avg_pool2d(y, {2, 2}, stride1));
  m.set_outputs({m.dense(y, 2)});
  fill_weights(m);
  check_values(m.predict(waves({2, 6, 6, 2})), {2, 2},
               {0.40487921f, -0.10028635f, 0.4565635f, -0.088768356f});
}

TEST_CASE("model api: predict equals Python (LSTM, GRU)") {
  Model m = seeded();
  auto x = m.input({4, 3});
  LSTMOptions seq;
  seq.return_sequences = true;
  m.set_outputs({m.dense(m.gru(m.lstm(x, 3, seq), 2), 1, "sigmoid")});
  fill_weights(m);
  check_values(m.predict(waves({2, 4, 3})), {2, 1}, {0.38032398f, 0.3781997f});
}

TEST_CASE("model api: predict equals Python (embedding with mask_zero into LSTM)") {
  Model m = seeded();
  auto ids = m.input({5}, DType::i32);
  EmbeddingOptions e;
  e.mask_zero = true;
  m.set_outputs({m.lstm(m.embedding(ids, 10, 4, e), 3)});
  fill_weights(m);
  Tensor tokens = tensor_from(std::vector<int32_t>{3, 1, 4, 0, 0, 5, 9, 2, 6, 5}, {2, 5});
  check_values(m.predict(tokens), {2, 3},
               {-0.1159401f, -0.24895509f, -0.019838732f, -0.083622813f, -0.29550558f,
                -0.046791498f});
}

TEST_CASE("model api: predict equals Python (attention, layer norm, global pooling)") {
  Model m = seeded();
  auto x = m.input({3, 4});
  m.set_outputs({m.global_average_pool(m.layer_norm(m.multi_head_attention(x, x, 2, 2)))});
  fill_weights(m);
  check_values(m.predict(waves({2, 3, 4})), {2, 4},
               {0.36443719f, 0.74370664f, 0.75825536f, -0.31801403f, 0.48842955f, 0.53204668f,
                0.83138847f, -0.35443172f});
}

TEST_CASE("model api: predict equals Python (two inputs, add, concatenate, activations)") {
  Model m = seeded();
  auto a = m.input({3}), b = m.input({3});
  auto c = m.concatenate({m.add({a, b}), m.activation(b, "gelu")});
  m.set_outputs({m.dense(c, 2, "elu")});
  fill_weights(m);
  std::vector<Tensor> out = m.predict({waves({2, 3}), waves({2, 3}, 1.0)});
  check_values(out.at(0), {2, 2}, {1.1215755f, 0.99471104f, -0.10182248f, 0.26961565f});
}

// ---- training -------------------------------------------------------------------------------

TEST_CASE("model api: fit reduces the loss and learns separable data") {
  Tensor x, y;
  blobs(256, 6, x, y);
  Model m = seeded("mlp", 11);
  auto in = m.input({6});
  auto h = m.dropout(m.dense(in, 16, "relu"), 0.1);
  m.set_outputs({m.dense(h, 2, "softmax")});
  m.compile(Loss::sparse_categorical_crossentropy, optimizers::adam(0.01), {"accuracy"});
  const double before = m.evaluate(x, y).at("loss");
  int epochs_seen = 0;
  FitOptions fit;
  fit.epochs = 8;
  fit.on_epoch_end = [&](int epoch, const Logs& logs) {
    CHECK(epoch == epochs_seen++);
    CHECK(logs.contains("loss") && logs.contains("accuracy"));
  };
  History h1 = m.fit(x, y, fit);
  CHECK(epochs_seen == 8);
  CHECK(h1.epochs.size() == 8);
  const Logs after = m.evaluate(x, y);
  CHECK(after.at("loss") < before / 4);
  CHECK(after.at("accuracy") > 0.97);
  CHECK(h1.values("loss").back() < h1.values("loss").front());
  CHECK(m.optimizer_iterations() == 8 * 8);
  CHECK(contains(after.str(), "loss: ") && contains(after.str(), " - accuracy: "));
  CHECK_THROWS_AS(after.at("val_loss"), IndexError);
}

TEST_CASE("model api: train_step, test_step and evaluate agree; stop_training; validation") {
  Tensor x, y;
  blobs(64, 3, x, y);
  Model m = seeded();
  auto in = m.input({3});
  m.set_outputs({m.dense(in, 2, "softmax")});
  m.compile(Loss::sparse_categorical_crossentropy, optimizers::sgd(0.1), {"acc"});
  const Logs step = m.test_step(x, y);
  const Logs all = m.evaluate(x, y, 64);
  CHECK_NEAR(step.at("loss"), all.at("loss"), 1e-6);
  CHECK_NEAR(step.at("acc"), all.at("acc"), 1e-6);
  const Logs trained = m.train_step(x, y);
  CHECK_NEAR(trained.at("loss"), step.at("loss"), 1e-6);  // the loss before the update
  CHECK(m.test_step(x, y).at("loss") < step.at("loss"));
  FitOptions fit;
  fit.epochs = 5;
  fit.validation_x = {x};
  fit.validation_y = {y};
  fit.on_batch_end = [&](int64_t batch, const Logs&) {
    if (batch == 0) m.stop_training();
  };
  History h = m.fit(x, y, fit);
  CHECK(h.epochs.size() == 1);
  CHECK(h.epochs[0].contains("val_loss") && h.epochs[0].contains("val_acc"));
}

TEST_CASE("model api: the same seed trains the same weights, dropout included") {
  Tensor x, y;
  blobs(40, 4, x, y);
  std::vector<std::vector<float>> results;
  for (int run = 0; run < 2; ++run) {
    Model m = seeded("m", 21);
    auto in = m.input({4});
    m.set_outputs({m.dense(m.dropout(m.dense(in, 8, "tanh"), 0.5), 2, "softmax")});
    m.compile(Loss::sparse_categorical_crossentropy, optimizers::rmsprop(), {});
    FitOptions fit;
    fit.epochs = 2;
    fit.batch_size = 8;
    m.fit(x, y, fit);
    results.push_back(to_vector<float>(m.get_weights()[0]));
  }
  CHECK(results[0] == results[1]);
}

TEST_CASE("model api: sequence models train (embedding, LSTM, GRU, attention)") {
  // Is token 1 before token 2 in the sequence? Order matters, so only a sequence model learns it.
  const int64_t n = 96, t = 6;
  Tensor ids({n, t}, DType::i32), y({n, 1}, DType::f32);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t a = i % t, b = (i / t + a + 1) % t;
    for (int64_t k = 0; k < t; ++k) ids.data<int32_t>()[i * t + k] = 3 + int32_t((i + k) % 4);
    ids.data<int32_t>()[i * t + a] = 1;
    ids.data<int32_t>()[i * t + b] = 2;
    y.data<float>()[i] = a < b ? 1.0f : 0.0f;
  }
  Model m = seeded("seq", 2);
  auto in = m.input({t}, DType::i32);
  auto e = m.embedding(in, 8, 8);
  LSTMOptions all;
  all.return_sequences = true;
  auto s = m.lstm(e, 16, all);
  auto a = m.layer_norm(m.add({s, m.multi_head_attention(s, s, 2, 4)}));
  m.set_outputs({m.dense(m.gru(a, 8), 1, "sigmoid")});
  m.compile(Loss::binary_crossentropy, optimizers::adam(0.01), {"accuracy"});
  const double before = m.evaluate(ids, y).at("loss");
  FitOptions fit;
  fit.epochs = 25;
  fit.batch_size = 16;
  m.fit(ids, y, fit);
  const Logs after = m.evaluate(ids, y);
  CHECK(after.at("loss") < before / 2);
  CHECK(after.at("accuracy") > 0.9);
}

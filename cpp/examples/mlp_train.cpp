// Defines and trains a multilayer perceptron entirely in C++: the UCI handwritten digits (8x8
// images, 10 classes) when their CSV is found, otherwise generated data (ten Gaussian clusters).
//
//   mlp_train [DIGITS_DIR] [--save MODEL.ember]
//
// DIGITS_DIR defaults to $EMBER_DIGITS_DIR, else ../shared/data/digits (digits.csv.gz: 64
// pixel values 0..16, then the label, per row). It trains on 80% of the rows (shuffled), prints
// each epoch's logs and the held-out accuracy, and exits with 1 if that accuracy is below 0.9.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ember/buffers.h"
#include "ember/model_file.h"
#include "ember/rng.h"
#include "read_file.h"

namespace {

struct Dataset {
  std::vector<float> x;  // rows of `features`
  std::vector<int32_t> y;
  int64_t features = 0;
  std::string source;
};

Dataset load_digits(const std::string& dir) {
  const std::vector<unsigned char> bytes =
      example::read_file(example::find_data_file(dir, "digits.csv"));
  std::istringstream text(std::string(bytes.begin(), bytes.end()));
  Dataset d;
  d.features = 64;
  d.source = dir + "/digits.csv";
  std::string line;
  while (std::getline(text, line)) {
    if (line.empty()) continue;
    std::istringstream row(line);
    std::string cell;
    std::vector<double> values;
    while (std::getline(row, cell, ',')) values.push_back(std::stod(cell));
    if (values.size() != 65) throw std::runtime_error(d.source + ": expected 65 values per row");
    for (int i = 0; i < 64; ++i) d.x.push_back(static_cast<float>(values[size_t(i)] / 16.0));
    d.y.push_back(static_cast<int32_t>(values[64]));
  }
  return d;
}

// Ten overlapping clusters in 20 dimensions: centres uniform in [-2, 2]^20, unit noise.
Dataset generate(int64_t n) {
  Dataset d;
  d.features = 20;
  d.source = "generated clusters";
  std::vector<double> centres(10 * 20);
  for (size_t i = 0; i < centres.size(); ++i)
    centres[i] = 4.0 * ember::uniform01(7, i) - 2.0;
  for (int64_t s = 0; s < n; ++s) {
    const int32_t label = static_cast<int32_t>(s % 10);
    for (int64_t f = 0; f < 20; ++f) {
      // Box-Muller from the counter-based generator: reproducible on any machine.
      const uint64_t k = static_cast<uint64_t>(s * 20 + f);
      const double u1 = 1.0 - ember::uniform01(11, 2 * k), u2 = ember::uniform01(11, 2 * k + 1);
      const double noise = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      d.x.push_back(static_cast<float>(centres[size_t(label * 20 + f)] + noise));
    }
    d.y.push_back(label);
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, save_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--save" && i + 1 < argc) save_path = argv[++i];
    else dir = arg;
  }
  if (dir.empty()) {
    const char* env = std::getenv("EMBER_DIGITS_DIR");
    dir = env ? env : "../shared/data/digits";
  }
  try {
    Dataset data;
    try {
      data = load_digits(dir);
    } catch (const std::exception& e) {
      std::printf("digits not available (%s); using generated data\n", e.what());
      data = generate(2000);
    }
    const int64_t n = static_cast<int64_t>(data.y.size());
    // One fixed shuffle before the split: the digits file is ordered by writer.
    for (int64_t i = n - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(ember::mix64(uint64_t(i) * 31 + 17) % uint64_t(i + 1));
      std::swap(data.y[size_t(i)], data.y[size_t(j)]);
      for (int64_t k = 0; k < data.features; ++k)
        std::swap(data.x[size_t(i * data.features + k)], data.x[size_t(j * data.features + k)]);
    }
    const int64_t train_n = n * 4 / 5, test_n = n - train_n;
    const int64_t f = data.features;
    auto slice_x = [&](int64_t begin, int64_t count) {
      return ember::tensor_from(data.x.data() + begin * f, {count, f});
    };
    auto slice_y = [&](int64_t begin, int64_t count) {
      return ember::tensor_from(data.y.data() + begin, {count});
    };
    ember::Tensor x_train = slice_x(0, train_n), y_train = slice_y(0, train_n);
    ember::Tensor x_test = slice_x(train_n, test_n), y_test = slice_y(train_n, test_n);
    std::printf("data: %s, %lld training and %lld test samples of %lld features\n",
                data.source.c_str(), static_cast<long long>(train_n),
                static_cast<long long>(test_n), static_cast<long long>(f));

    ember::ModelOptions options;
    options.name = "mlp";
    options.seed = 42;
    ember::Model model(options);
    auto x = model.input({f}, ember::DType::f32, "pixels");
    x = model.dense(x, 64, "relu");
    x = model.dropout(x, 0.1);
    x = model.dense(x, 32, "relu");
    model.set_outputs({model.dense(x, 10, "softmax")});
    model.compile(ember::Loss::sparse_categorical_crossentropy, ember::optimizers::adam(0.005),
                  {"accuracy"});
    std::printf("model %s: %lld parameters\n", model.name().c_str(),
                static_cast<long long>(model.count_params()));

    ember::FitOptions fit;
    fit.epochs = 30;
    fit.batch_size = 32;
    fit.validation_x = {x_test};
    fit.validation_y = {y_test};
    fit.on_epoch_end = [](int epoch, const ember::Logs& logs) {
      if (epoch % 5 == 4) std::printf("epoch %d: %s\n", epoch + 1, logs.str().c_str());
    };
    model.fit(x_train, y_train, fit);

    const double accuracy = model.evaluate(x_test, y_test).at("accuracy");
    std::printf("test accuracy: %.4f\n", accuracy);
    if (!save_path.empty()) {
      ember::save_model(model, save_path);
      std::printf("saved %s\n", save_path.c_str());
    }
    return accuracy >= 0.9 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlp_train: %s\n", e.what());
    return 1;
  }
}

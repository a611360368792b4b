// Classifies the MNIST test set with a model trained and saved in Python (model.save), with no
// Python at all: the IDX files are read here, the model by ember::load_model.
//
//   mnist_classify MODEL.ember [MNIST_DIR]
//
// MNIST_DIR defaults to $EMBER_MNIST_DIR, else ../shared/data/mnist; it holds
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (or their .gz). Pixels are scaled to [0, 1],
// as the Python side trained on them. The printed accuracy equals Python's model.evaluate on
// the same data: both run the same graph through the same kernels.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "ember/buffers.h"
#include "ember/model_file.h"
#include "read_file.h"

namespace {

uint32_t big_endian_u32(const std::vector<unsigned char>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) |
         uint32_t(b[at + 3]);
}

// An IDX file of unsigned bytes: magic 0x000008NN (NN = number of dimensions), the dimensions
// as big-endian u32, then the bytes. Returns the dimensions; `data` gets the bytes.
std::vector<int64_t> read_idx(const std::string& path, int ndim, std::vector<unsigned char>& data) {
  std::vector<unsigned char> b = example::read_file(path);
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (b.size() < header) throw std::runtime_error(path + ": truncated IDX header");
  if (big_endian_u32(b, 0) != 0x800u + static_cast<uint32_t>(ndim))
    throw std::runtime_error(path + ": not an IDX file of " + std::to_string(ndim) +
                             "-dimensional unsigned bytes");
  std::vector<int64_t> dims;
  uint64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    dims.push_back(big_endian_u32(b, 4 + 4 * size_t(i)));
    count *= static_cast<uint64_t>(dims.back());
  }
  if (b.size() - header != count)
    throw std::runtime_error(path + ": expected " + std::to_string(count) + " data bytes, found " +
                             std::to_string(b.size() - header));
  data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return dims;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.ember [MNIST_DIR]\n", argv[0]);
    return 2;
  }
  const char* env = std::getenv("EMBER_MNIST_DIR");
  const std::string dir = argc > 2 ? argv[2] : env ? env : "../shared/data/mnist";
  try {
    std::vector<unsigned char> pixels, labels;
    const auto image_dims =
        read_idx(example::find_data_file(dir, "t10k-images-idx3-ubyte"), 3, pixels);
    const auto label_dims =
        read_idx(example::find_data_file(dir, "t10k-labels-idx1-ubyte"), 1, labels);
    const int64_t n = image_dims[0];
    if (label_dims[0] != n || image_dims[1] != 28 || image_dims[2] != 28)
      throw std::runtime_error("MNIST: expected 28x28 images with one label each");

    ember::Model model = ember::load_model(argv[1]);
    // The model's input decides the layout: (28, 28, 1), (28, 28) or (784,).
    ember::Shape shape = model.inputs().at(0).shape();
    shape[0] = n;
    std::vector<float> x(pixels.size());
    for (size_t i = 0; i < pixels.size(); ++i) x[i] = static_cast<float>(pixels[i]) / 255.0f;
    ember::Tensor images = ember::tensor_from(x, shape);

    ember::Tensor probs = model.predict(images);
    const int64_t classes = probs.dim(-1);
    const float* p = probs.data<float>();
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (p[i * classes + c] > p[i * classes + best]) best = c;
      correct += best == labels[static_cast<size_t>(i)];
    }
    std::printf("model %s: %zu layers, %lld parameters\n", model.name().c_str(),
                model.layer_names().size(), static_cast<long long>(model.count_params()));
    std::printf("test accuracy: %.4f\n", static_cast<double>(correct) / static_cast<double>(n));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_classify: %s\n", e.what());
    return 1;
  }
}

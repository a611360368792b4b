// Model files: the safetensors reader/writer (round trips, every malformed input rejected with
// FileFormatError, fuzzed bytes and truncations never crash), and save_model / load_model round
// trips in C++ (architecture, weights, compile settings, optimizer state, dropout stream).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "check.h"
#include "ember/buffers.h"
#include "ember/model_file.h"
#include "ember/rng.h"

using namespace ember;

namespace {

// A scratch directory, removed with its files at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ember_model_file_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", path.c_str());
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A safetensors image from a header text and a data section.
std::vector<unsigned char> image(const std::string& header, const std::string& data = "") {
  std::vector<unsigned char> out(8);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string parse_error(const std::vector<unsigned char>& bytes) {
  try {
    parse_safetensors(bytes.data(), bytes.size(), "f");
  } catch (const FileFormatError& e) {
    return e.what();
  }
  return "";
}

Tensor counting(const Shape& shape, DType dtype) {
  Tensor t(shape, dtype);
  for (int64_t i = 0; i < t.size(); ++i) {
    switch (dtype) {
      case DType::f32: t.data<float>()[i] = 0.5f * float(i) - 3; break;
      case DType::f64: t.data<double>()[i] = 0.25 * double(i) + 1; break;
      case DType::i32: t.data<int32_t>()[i] = int32_t(i) * 7 - 5; break;
      case DType::i64: t.data<int64_t>()[i] = int64_t(i) << 33; break;
    }
  }
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

ModelOptions seed(uint64_t s, const std::string& name = "model") {
  ModelOptions o;
  o.seed = s;
  o.name = name;
  return o;
}

Tensor noise(const Shape& shape, uint64_t key) {
  Tensor t(shape, DType::f32);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<float>()[i] = 2 * uniform01(key, uint64_t(i)) - 1;
  return t;
}

// A model with most layer kinds, compiled, with dropout (so that the random stream matters).
Model rich_model() {
  Model m(seed(3, "rich"));
  auto img = m.input({8, 8, 2}, DType::f32, "image");
  auto seq = m.input({5}, DType::i32, "tokens");
  ConvOptions conv;
  conv.activation = "relu";
  conv.padding = "same";
  auto a = m.batch_norm(m.conv2d(img, 3, {3, 3}, conv));
  a = m.flatten(m.avg_pool2d(m.max_pool2d(a), {2, 2}));
  EmbeddingOptions e;
  e.mask_zero = true;
  LSTMOptions all;
  all.return_sequences = true;
  auto s = m.lstm(m.embedding(seq, 12, 4, e), 4, all);
  s = m.layer_norm(m.add({s, m.multi_head_attention(s, s, 2, 2)}));
  auto b = m.concatenate({m.gru(s, 3), m.global_average_pool(s)});
  auto h = m.dropout(m.concatenate({a, b}), 0.3);
  m.set_outputs({m.dense(h, 3, "softmax")});
  m.compile(Loss::sparse_categorical_crossentropy, optimizers::adam(0.01), {"accuracy"});
  return m;
}

std::vector<Tensor> rich_x(int64_t n) {
  Tensor tokens({n, 5}, DType::i32);
  for (int64_t i = 0; i < n * 5; ++i) tokens.data<int32_t>()[i] = int32_t(i % 7 == 6 ? 0 : 1 + i % 11);
  return {noise({n, 8, 8, 2}, 1), tokens};
}

Tensor rich_y(int64_t n) {
  Tensor y({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i) y.data<int32_t>()[i] = int32_t(i % 3);
  return y;
}

}  // namespace

// ---- safetensors ------------------------------------------------------------------------------

TEST_CASE("model file: safetensors round trip keeps names, order, dtypes and bytes") {
  TempDir dir;
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"b/second", counting({2, 3}, DType::f32)}, {"a/first", counting({4}, DType::f64)},
      {"ids", counting({3, 1}, DType::i32)},      {"big", counting({2}, DType::i64)},
      {"empty", Tensor({0, 5}, DType::f32)},      {"scalar", counting({}, DType::f32)}};
  write_safetensors(dir.file("t.safetensors"), tensors, {{"format", "x"}, {"note", "ü ✓"}});
  const auto bytes = read_bytes(dir.file("t.safetensors"));
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | bytes[size_t(i)];
  CHECK((8 + header) % 8 == 0);  // the data section starts 8-byte aligned
  SafetensorsFile f = read_safetensors(dir.file("t.safetensors"));
  CHECK(f.metadata.at("note") == "ü ✓");
  REQUIRE(f.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CHECK(f.tensors[i].name == tensors[i].first);
    CHECK(same_bytes(f.tensors[i].tensor, tensors[i].second));
  }
  CHECK(f.find("ids")->dtype == "I32");
  // The in-memory parser reads the same image.
  SafetensorsFile g = parse_safetensors(bytes.data(), bytes.size(), "mem");
  CHECK(g.tensors.size() == tensors.size() && same_bytes(g.tensors[1].tensor, tensors[1].second));
  // No temporary file is left behind.
  std::string cmd = "ls -A '" + dir.path + "' | grep -c tmp > /dev/null";
  CHECK(std::system(cmd.c_str()) != 0);
}

TEST_CASE("model file: safetensors reads the other dtypes as raw bytes") {
  auto b = image(R"({"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
                 R"("h":{"dtype":"F16","shape":[1],"data_offsets":[3,5]}})",
                 std::string("\x01\x02\x03\x00\x3c", 5));
  SafetensorsFile f = parse_safetensors(b.data(), b.size(), "mem");
  CHECK(!f.find("u")->tensor.defined() && f.find("u")->raw == (std::vector<unsigned char>{1, 2, 3}));
  CHECK(f.find("h")->raw.size() == 2);
  auto bad = image(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", "\x01\x02");
  CHECK(parse_error(bad) == "f: tensor 'b' is BOOL but holds bytes other than 0 and 1");
}

TEST_CASE("model file: every malformed header is a FileFormatError with Python's message") {
  const std::string f1 = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK(parse_error(image(f1, "abcd")).empty());
  CHECK(parse_error({1, 2, 3}) == "f: the file is 3 bytes, too short for the 8-byte header length");
  CHECK(parse_error(image("{")) == "f: the header length is 1; a header is at least '{}'");
  auto huge = image("{}");
  huge[5] = 1;
  CHECK(parse_error(huge) ==
        "f: the header length 1099511627778 exceeds the limit of 100000000 bytes");
  auto past = image("{}");
  past[0] = 40;
  CHECK(parse_error(past) == "f: the header length 40 runs past the end of the file (10 bytes)");
  CHECK(parse_error(image("[]  ")) == "f: the header must be a JSON object, it starts with b'[]  '");
  CHECK(parse_error(image(R"({"a":1,"a":2})")) == "f: the header has the key 'a' twice");
  CHECK(parse_error(image("{\"a\":\"\xff\"}")).rfind("f: the header is not valid UTF-8 JSON (", 0) == 0);
  CHECK(parse_error(image("{} x")).rfind("f: the header is not valid UTF-8 JSON (", 0) == 0);
  CHECK(parse_error(image(R"({"__metadata__":{"k":1}})")) == "f: metadata 'k' must be a string, not int");
  CHECK(parse_error(image(R"({"__metadata__":[]})")) ==
        "f: '__metadata__' must be an object of strings, not list");
  CHECK(parse_error(image(R"({"t":5})")) == "f: tensor 't': expected an object, found int");
  CHECK(parse_error(image(R"({"t":{"dtype":"F32","shape":[1]}})")) ==
        "f: tensor 't': expected exactly the keys dtype, shape, data_offsets, found ['dtype', 'shape']");
  CHECK(parse_error(image(R"({"t":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}})", "x"))
            .rfind("f: tensor 't': unsupported dtype \"Q8\" (supported: BOOL", 0) == 0);
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "x")) ==
        "f: tensor 't': the shape must hold non-negative integers, found [-1]");
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}})", "x")) ==
        "f: tensor 't': the shape must hold non-negative integers, found [1.0]");
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", "x")) ==
        "f: tensor 't': data_offsets must be two integers [begin, end], found [0]");
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,9]}})", "x")) ==
        "f: tensor 't' claims bytes [0, 9) but the data section has 1 bytes");
  CHECK(parse_error(image(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd")) ==
        "f: tensor 't': a F32 tensor of shape [2] needs 8 bytes but its data_offsets [0, 4) hold 4");
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[0,4611686018427387904,4],)"
                          R"("data_offsets":[0,0]}})")) ==
        "f: tensor 't': the shape [0, 4611686018427387904, 4] is too large for an array");
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                          R"("u":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", "abc")) ==
        "f: tensor 'u' at bytes [1, 3) overlaps tensor 't'");
  CHECK(parse_error(image(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", "ab")) ==
        "f: bytes [0, 1) of the data section belong to no tensor");
  CHECK(parse_error(image(f1, "abcdef")) ==
        "f: the data section has 6 bytes but the tensors cover 4 (truncated, or trailing bytes)");
}

TEST_CASE("model file: hostile headers (deep nesting, huge numbers, long names) are rejected") {
  std::string deep(200000, '[');
  CHECK(parse_error(image("{\"t\":" + deep + std::string(200000, ']') + "}")) ==
        "f: the header is not valid UTF-8 JSON (RecursionError: nested more than 512 levels deep)");
  CHECK(parse_error(image("{\"t\":" + std::string(100, '[') + std::string(100, ']') + "}")) ==
        "f: tensor 't': expected an object, found list");
  CHECK(!parse_error(image("{\"t\":{\"dtype\":\"U8\",\"shape\":" + deep +
                           std::string(200000, ']') + ",\"data_offsets\":[0,0]}}"))
             .empty());
  CHECK(!parse_error(image(R"({"t":{"dtype":"U8","shape":[99999999999999999999999],)"
                           R"("data_offsets":[0,1]}})", "x")).empty());
  std::string name(1 << 20, 'n');
  const std::string msg = parse_error(image("{\"" + name + "\":1}"));
  CHECK(msg.size() < 200 && msg.rfind("f: tensor 'nnnn", 0) == 0);
}

TEST_CASE("model file: fuzzed and truncated model files never crash the reader") {
  TempDir dir;
  Model m = rich_model();
  m.fit(rich_x(12), {rich_y(12)});
  save_model(m, dir.file("m.ember"));
  const std::vector<unsigned char> good = read_bytes(dir.file("m.ember"));
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | good[size_t(i)];
  int parsed = 0, rejected = 0;
  // Every truncation.
  for (size_t n = 0; n < good.size(); n += (n < 8 + header + 64 ? 1 : 97)) {
    std::vector<unsigned char> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    parse_error(b).empty() ? ++parsed : ++rejected;
  }
  CHECK(parsed == 0);
  // Byte flips over the length, the header and the start of the data.
  const size_t span = std::min<size_t>(good.size(), 8 + header + 256);
  for (size_t i = 0; i < span; ++i) {
    for (unsigned char mask : {0x01, 0x20, 0x80, 0xff}) {
      std::vector<unsigned char> b = good;
      b[i] ^= mask;
      try {
        parse_safetensors(b.data(), b.size(), "fuzz");
        ++parsed;
      } catch (const FileFormatError&) {
        ++rejected;
      }
    }
  }
  CHECK(rejected > 0 && parsed > 0);  // flips inside strings and data still parse
  // Whole model files with flipped bytes: load_model throws ember errors, nothing else.
  int loaded = 0, errors = 0, foreign = 0;
  for (size_t k = 0; k < 400; ++k) {
    std::vector<unsigned char> b = good;
    const size_t at = 8 + static_cast<size_t>(uniform01(99, k) * double(header));
    b[at] = static_cast<unsigned char>(uniform01(98, k) * 256);
    write_bytes(dir.file("fuzz.ember"), b);
    try {
      Model f = load_model(dir.file("fuzz.ember"));
      f.predict(rich_x(2));
      ++loaded;
    } catch (const Error&) {
      ++errors;
    } catch (...) {
      ++foreign;
    }
  }
  CHECK(foreign == 0);
  CHECK(errors > 0 && loaded > 0);
}

// ---- save_model / load_model ----------------------------------------------------------------

TEST_CASE("model file: C++ -> C++ round trip keeps predictions, compile and training state") {
  TempDir dir;
  const auto x = rich_x(12);
  const Tensor y = rich_y(12);
  Model m = rich_model();
  FitOptions fit;
  fit.batch_size = 4;
  m.fit(x, {y}, fit);
  save_model(m, dir.file("rich.ember"));
  Model r = load_model(dir.file("rich.ember"));
  CHECK(r.name() == "rich");
  CHECK(r.layer_names() == m.layer_names());
  CHECK(r.weight_names() == m.weight_names());
  CHECK(r.compiled());
  CHECK(r.optimizer_iterations() == 3);
  CHECK_NEAR(r.learning_rate(), 0.01, 1e-12);
  const auto p = m.predict(x), q = r.predict(x);
  CHECK(same_bytes(p[0], q[0]));
  const Logs le = m.evaluate(x, {y}), re = r.evaluate(x, {y});
  CHECK(le.at("loss") == re.at("loss") && le.at("accuracy") == re.at("accuracy"));
  // Training on resumes the optimizer state and the dropout stream: the same next steps.
  fit.shuffle = false;
  m.fit(x, {y}, fit);
  r.fit(x, {y}, fit);
  const auto wm = m.get_weights(), wr = r.get_weights();
  for (size_t i = 0; i < wm.size(); ++i) CHECK(same_bytes(wm[i], wr[i]));
}

TEST_CASE("model file: Sequential and Functional configs, saved models without compile") {
  TempDir dir;
  Model chain(seed(1, "chain"));
  auto x = chain.input({4});
  chain.set_outputs({chain.dense(chain.dropout(chain.dense(x, 3, "tanh"), 0.5), 2)});
  save_model(chain, dir.file("chain.keras"));
  SafetensorsFile f = read_safetensors(dir.file("chain.keras"));
  CHECK(f.metadata.at("format") == "ember.model");
  CHECK(f.metadata.at("model_config").find("\"class_name\":\"Sequential\"") != std::string::npos);
  CHECK(f.metadata.count("compile_config") == 0);
  CHECK(f.metadata.at("weight_names") ==
        R"(["dense/kernel","dense/bias","dense_1/kernel","dense_1/bias"])");
  Model back = load_model(dir.file("chain.keras"));
  CHECK(!back.compiled());
  const Tensor in = noise({5, 4}, 3);
  CHECK(same_bytes(back.predict(in), chain.predict(in)));
  CHECK_THROWS_AS(back.fit(in, Tensor({5, 2}, DType::f32)), Error);
  // Two inputs: a Functional config.
  Model two(seed(2, "two"));
  auto a = two.input({3}), b = two.input({2});
  two.set_outputs({two.concatenate({two.dense(a, 2), b})});
  save_model(two, dir.file("two.ember"));
  CHECK(read_safetensors(dir.file("two.ember")).metadata.at("model_config").find(
            "\"class_name\":\"Functional\"") != std::string::npos);
  Model two_back = load_model(dir.file("two.ember"));
  const std::vector<Tensor> ins{noise({3, 3}, 4), noise({3, 2}, 5)};
  CHECK(same_bytes(two_back.predict(ins)[0], two.predict(ins)[0]));
}

TEST_CASE("model file: save and load errors") {
  TempDir dir;
  Model m(seed(1));
  auto x = m.input({2});
  m.set_outputs({m.dense(x, 1)});
  CHECK_THROWS_AS(save_model(m, dir.file("m.h5")), ValueError);
  save_model(m, dir.file("m.ember"));
  SaveOptions keep;
  keep.overwrite = false;
  CHECK_THROWS_AS(save_model(m, dir.file("m.ember"), keep), Error);
  CHECK_THROWS_AS(save_model(m, dir.path + "/missing/m.ember"), Error);
  CHECK_THROWS_AS(load_model(dir.file("nothing.ember")), Error);
  // A model with a layer that does not reach the outputs cannot be saved.
  Model dangling(seed(1));
  auto d = dangling.input({2});
  dangling.dense(d, 3);
  dangling.set_outputs({dangling.dense(d, 1)});
  CHECK_THROWS_AS(save_model(dangling, dir.file("d.ember")), ValueError);

  auto rewrite = [&](const std::string& key, const std::string& from, const std::string& to) {
    SafetensorsFile f = read_safetensors(dir.file("m.ember"));
    std::string value = f.metadata.at(key);
    const size_t at = value.find(from);
    REQUIRE(at != std::string::npos);
    value.replace(at, from.size(), to);
    f.metadata[key] = value;
    std::vector<std::pair<std::string, Tensor>> t;
    for (const auto& e : f.tensors) t.emplace_back(e.name, e.tensor);
    write_safetensors(dir.file("edited.ember"), t, f.metadata);
    try {
      load_model(dir.file("edited.ember"));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string unknown = rewrite("model_config", "\"Dense\"", "\"Dense3000\"");
  CHECK(unknown.rfind("unknown layer class 'Dense3000' (layer 'dense'): ember's C++ API can load "
                      "these layer classes: InputLayer, Activation, Add, ", 0) == 0);
  CHECK(rewrite("format", "ember.model", "ember.weights") ==
        dir.file("edited.ember") + ": not an ember model file (format 'ember.weights')");
  CHECK(rewrite("model_config", "\"units\":1", "\"units\":4").find(
            "weight 'dense/kernel' has shape (2, 1) in the file, the model's 'dense/kernel' has "
            "shape (2, 4)") != std::string::npos);
  CHECK(rewrite("model_config", "\"units\":1", "\"units\":\"one\"") ==
        "Dense 'dense': config key 'units' must be an integer of magnitude below 2**40, received "
        "\"one\"");
  CHECK(rewrite("model_config", "\"Sequential\"", "\"MyModel\"").rfind(
            "cannot rebuild model class 'MyModel'", 0) == 0);
  CHECK(rewrite("weight_names", "dense/bias", "dense/other") ==
        dir.file("edited.ember") + ": weight 'dense/other' is listed but not stored in the file");
}

TEST_CASE("model file: channels_first convolutions are refused with a clear error") {
  TempDir dir;
  Model m(seed(1));
  auto x = m.input({4, 4, 1});
  m.set_outputs({m.conv2d(x, 1, {2, 2})});
  save_model(m, dir.file("c.ember"));
  SafetensorsFile f = read_safetensors(dir.file("c.ember"));
  std::string cfg = f.metadata.at("model_config");
  const std::string from = "\"data_format\":\"channels_last\"";
  REQUIRE(cfg.find(from) != std::string::npos);
  cfg.replace(cfg.find(from), from.size(), "\"data_format\":\"channels_first\"");
  f.metadata["model_config"] = cfg;
  std::vector<std::pair<std::string, Tensor>> t;
  for (const auto& e : f.tensors) t.emplace_back(e.name, e.tensor);
  write_safetensors(dir.file("cf.ember"), t, f.metadata);
  try {
    load_model(dir.file("cf.ember"));
    CHECK(false);
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()).rfind(
              "Conv2D 'conv2d': data_format 'channels_first' is not supported by ember's C++ API",
              0) == 0);
  }
}

// The safetensors reader and writer, with python/ember/saving/file_format.py's checks and
// messages: the whole header is validated before any tensor is allocated, every offset and
// size is checked against the file, and the tensors must tile the data section exactly.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "config_reader.h"
#include "ember/model_file.h"

namespace ember {

namespace {

using api::json;
using api::short_json;

constexpr const char* kMetadataKey = "__metadata__";
constexpr size_t kMaxNdim = 64;  // NumPy's limit on dimensions
// NumPy refuses arrays whose byte count exceeds its index range; so do we.
constexpr unsigned __int128 kMaxNbytes = std::numeric_limits<int64_t>::max();

struct DTypeCode {
  const char* code;
  size_t itemsize;
  bool ember;  // held as an ember Tensor (F32, F64, I32, I64)
  DType dtype;
};

const DTypeCode kCodes[] = {
    {"BOOL", 1, false, DType::f32}, {"U8", 1, false, DType::f32},  {"I8", 1, false, DType::f32},
    {"U16", 2, false, DType::f32},  {"I16", 2, false, DType::f32}, {"F16", 2, false, DType::f32},
    {"U32", 4, false, DType::f32},  {"I32", 4, true, DType::i32},  {"F32", 4, true, DType::f32},
    {"U64", 8, false, DType::f32},  {"I64", 8, true, DType::i64},  {"F64", 8, true, DType::f64},
};

const DTypeCode* find_code(const std::string& code) {
  for (const auto& c : kCodes)
    if (code == c.code) return &c;
  return nullptr;
}

const char* code_of(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

bool little_endian() {
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

[[noreturn]] void fail(const std::string& what, const std::string& message) {
  throw FileFormatError(what + ": " + message);
}

// Python's repr of a str, cut short: hostile files can hold megabyte-long names.
std::string py_str(const std::string& s, size_t limit = 80) {
  std::string out = "'";
  for (unsigned char ch : s) {
    if (ch == '\'' || ch == '\\') out += '\\', out += static_cast<char>(ch);
    else if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else out += static_cast<char>(ch);
  }
  out += "'";
  return out.size() <= limit ? out : out.substr(0, limit - 3) + "...";
}

// Python's repr of bytes, for the start of a header that is not JSON.
std::string py_bytes(const unsigned char* p, size_t n) {
  std::string out = "b'";
  for (size_t i = 0; i < n; ++i) {
    unsigned char ch = p[i];
    if (ch == '\'' || ch == '\\') out += '\\', out += static_cast<char>(ch);
    else if (ch >= 0x20 && ch < 0x7f) out += static_cast<char>(ch);
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  return out + "'";
}

const char* json_type(const json& v) {
  if (v.is_object()) return "dict";
  if (v.is_array()) return "list";
  if (v.is_string()) return "str";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number_float()) return "float";
  return "NoneType";
}

bool is_int(const json& v) { return v.is_number_integer(); }  // never true for bools

struct Spec {
  std::string name;
  const DTypeCode* code;
  Shape shape;
  uint64_t begin, end;
};

// A first pass over the header that builds nothing: it finds repeated keys (which a DOM would
// silently merge) and refuses nesting deeper than Python's json module would recurse.
class HeaderScan : public nlohmann::json_sax<json> {
 public:
  static constexpr size_t kMaxDepth = 512;
  std::string duplicate;
  bool too_deep = false;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    objects_.emplace_back();
    return enter();
  }
  bool key(string_t& k) override {
    if (objects_.back().insert(k).second) return true;
    duplicate = k;
    return false;
  }
  bool end_object() override {
    objects_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    objects_.emplace_back();  // keeps the stack aligned with the depth
    return enter();
  }
  bool end_array() override {
    objects_.pop_back();
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }
  std::string error;

 private:
  bool enter() {
    if (++depth_ <= kMaxDepth) return true;
    too_deep = true;
    return false;
  }
  size_t depth_ = 0;
  std::vector<std::set<std::string>> objects_;
};

// Parses the header bytes; checks every entry and that the tensors tile `data_size` bytes.
std::pair<std::map<std::string, std::string>, std::vector<Spec>> parse_header(
    const std::string& what, const unsigned char* raw, size_t n, uint64_t data_size) {
  if (n == 0 || raw[0] != '{')
    fail(what, "the header must be a JSON object, it starts with " + py_bytes(raw, std::min<size_t>(n, 16)));
  HeaderScan scan;
  json::sax_parse(raw, raw + n, &scan);
  if (!scan.duplicate.empty())
    fail(what, "the header has the key " + py_str(scan.duplicate) + " twice");
  if (scan.too_deep)
    fail(what, "the header is not valid UTF-8 JSON (RecursionError: nested more than " +
                   std::to_string(HeaderScan::kMaxDepth) + " levels deep)");
  if (!scan.error.empty()) fail(what, "the header is not valid UTF-8 JSON (" + scan.error + ")");
  json header;
  try {
    header = json::parse(raw, raw + n);
  } catch (const json::exception& e) {
    fail(what, std::string("the header is not valid UTF-8 JSON (") + e.what() + ")");
  }
  if (!header.is_object())
    fail(what, std::string("the header must be a JSON object, not ") + json_type(header));

  std::map<std::string, std::string> metadata;
  if (header.contains(kMetadataKey) && !header.at(kMetadataKey).is_null()) {
    const json& md = header.at(kMetadataKey);
    if (!md.is_object())
      fail(what, std::string("'__metadata__' must be an object of strings, not ") + json_type(md));
    for (const auto& [key, value] : md.items()) {
      if (!value.is_string())
        fail(what, "metadata " + py_str(key) + " must be a string, not " + json_type(value));
      metadata[key] = value.get<std::string>();
    }
  }

  std::vector<Spec> specs;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) continue;
    const std::string t = "tensor " + py_str(name);
    if (!entry.is_object()) fail(what, t + ": expected an object, found " + json_type(entry));
    const bool exact = entry.size() == 3 && entry.contains("dtype") && entry.contains("shape") &&
                       entry.contains("data_offsets");
    if (!exact) {
      std::vector<std::string> keys;
      for (const auto& kv : entry.items()) keys.push_back(py_str(kv.key()));
      std::sort(keys.begin(), keys.end());
      std::string found = "[";
      for (size_t i = 0; i < keys.size(); ++i) found += (i ? ", " : "") + keys[i];
      found += "]";
      if (found.size() > 80) found = found.substr(0, 77) + "...";
      fail(what, t + ": expected exactly the keys dtype, shape, data_offsets, found " + found);
    }
    const json& code = entry.at("dtype");
    const DTypeCode* dc = code.is_string() ? find_code(code.get<std::string>()) : nullptr;
    if (!dc)
      fail(what, t + ": unsupported dtype " + short_json(code) +
                     " (supported: BOOL, U8, I8, U16, I16, F16, U32, I32, F32, U64, I64, F64)");
    const json& shape = entry.at("shape");
    if (!shape.is_array() || shape.size() > kMaxNdim)
      fail(what, t + ": the shape must be a list of at most 64 integers, found " + short_json(shape));
    for (const json& d : shape)
      if (!is_int(d) || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
        fail(what, t + ": the shape must hold non-negative integers, found " + short_json(shape));
    const json& offsets = entry.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !is_int(offsets[0]) || !is_int(offsets[1]))
      fail(what, t + ": data_offsets must be two integers [begin, end], found " +
                     short_json(offsets));
    auto as_u64 = [](const json& v, bool* negative) -> uint64_t {
      if (v.is_number_unsigned()) return v.get<uint64_t>();
      int64_t s = v.get<int64_t>();
      *negative = s < 0;
      return static_cast<uint64_t>(s);
    };
    bool neg_b = false, neg_e = false;
    const uint64_t begin = as_u64(offsets[0], &neg_b), end = as_u64(offsets[1], &neg_e);
    if (neg_b || neg_e || begin > end || end > data_size)
      fail(what, t + " claims bytes [" + short_json(offsets[0]) + ", " + short_json(offsets[1]) +
                     ") but the data section has " + std::to_string(data_size) + " bytes");
    // Counted in 128 bits and clamped: no shape, however hostile, can overflow.
    unsigned __int128 count = 1, nonzero = 1;
    const unsigned __int128 cap = static_cast<unsigned __int128>(1) << 100;
    Shape dims;
    for (const json& d : shape) {
      const uint64_t v = d.get<uint64_t>();
      count = std::min(cap, count * v);
      nonzero = std::min(cap, nonzero * (v ? v : 1));
      dims.push_back(v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                         ? std::numeric_limits<int64_t>::max()
                         : static_cast<int64_t>(v));
    }
    const unsigned __int128 need = count * dc->itemsize;
    if (need != end - begin) {
      std::string needs = need >= cap ? "more than 2**100" : std::to_string(static_cast<uint64_t>(need));
      fail(what, t + ": a " + dc->code + " tensor of shape " + short_json(shape) + " needs " +
                     needs + " bytes but its data_offsets [" + std::to_string(begin) + ", " +
                     std::to_string(end) + ") hold " + std::to_string(end - begin));
    }
    if (nonzero * dc->itemsize > kMaxNbytes)
      fail(what, t + ": the shape " + short_json(shape) + " is too large for an array");
    specs.push_back({name, dc, dims, begin, end});
  }

  std::vector<const Spec*> order;
  for (const Spec& s : specs) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const Spec* a, const Spec* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const Spec* previous = nullptr;
  for (const Spec* s : order) {
    if (s->begin < cursor)
      fail(what, "tensor " + py_str(s->name) + " at bytes [" + std::to_string(s->begin) + ", " +
                     std::to_string(s->end) + ") overlaps tensor " + py_str(previous->name));
    if (s->begin > cursor)
      fail(what, "bytes [" + std::to_string(cursor) + ", " + std::to_string(s->begin) +
                     ") of the data section belong to no tensor");
    cursor = s->end;
    previous = s;
  }
  if (cursor != data_size)
    fail(what, "the data section has " + std::to_string(data_size) +
                   " bytes but the tensors cover " + std::to_string(cursor) +
                   " (truncated, or trailing bytes)");
  return {std::move(metadata), std::move(specs)};
}

// Allocates an entry for a validated spec; `fill(dst, begin, n)` supplies its bytes.
template <class Fill>
SafetensorsEntry make_entry(const std::string& what, const Spec& s, Fill&& fill) {
  SafetensorsEntry e;
  e.name = s.name;
  e.dtype = s.code->code;
  e.shape = s.shape;
  const uint64_t n = s.end - s.begin;
  unsigned char* dst;
  if (s.code->ember) {
    e.tensor = Tensor(s.shape, s.code->dtype);
    dst = static_cast<unsigned char*>(e.tensor.raw());
  } else {
    e.raw.resize(static_cast<size_t>(n));
    dst = e.raw.data();
  }
  if (n) fill(dst, s.begin, n);
  if (std::string(s.code->code) == "BOOL")
    for (unsigned char b : e.raw)
      if (b > 1) fail(what, "tensor " + py_str(s.name) + " is BOOL but holds bytes other than 0 and 1");
  return e;
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void check_header_size(const std::string& what, uint64_t header, uint64_t file_size) {
  if (header < 2)
    fail(what, "the header length is " + std::to_string(header) + "; a header is at least '{}'");
  if (header > kMaxSafetensorsHeaderBytes)
    fail(what, "the header length " + std::to_string(header) + " exceeds the limit of " +
                   std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  if (header > file_size - 8)
    fail(what, "the header length " + std::to_string(header) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes)");
}

struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

}  // namespace

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile parse_safetensors(const unsigned char* data, size_t size, const std::string& what) {
  EMBER_CHECK(little_endian(), Error, "safetensors: big-endian hosts are not supported");
  if (size < 8)
    fail(what, "the file is " + std::to_string(size) + " bytes, too short for the 8-byte header "
                                                       "length");
  const uint64_t header = read_u64_le(data);
  check_header_size(what, header, size);
  const uint64_t data_size = size - 8 - header;
  auto parsed = parse_header(what, data + 8, static_cast<size_t>(header), data_size);
  std::map<std::string, std::string>& metadata = parsed.first;
  const std::vector<Spec>& specs = parsed.second;
  const unsigned char* section = data + 8 + header;
  SafetensorsFile out;
  out.metadata = std::move(metadata);
  for (const Spec& s : specs)
    out.tensors.push_back(make_entry(what, s, [&](unsigned char* dst, uint64_t begin, uint64_t n) {
      std::memcpy(dst, section + begin, static_cast<size_t>(n));
    }));
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  EMBER_CHECK(little_endian(), Error, "safetensors: big-endian hosts are not supported");
  File file;
  file.f = std::fopen(path.c_str(), "rb");
  EMBER_CHECK(file.f != nullptr, Error, path, ": cannot open the file (", std::strerror(errno), ")");
  struct stat st;
  EMBER_CHECK(fstat(fileno(file.f), &st) == 0, Error, path, ": cannot read the file size (",
              std::strerror(errno), ")");
  EMBER_CHECK(S_ISREG(st.st_mode), Error, path, ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  auto read_exact = [&](void* dst, uint64_t n, const char* where) {
    if (n && std::fread(dst, 1, static_cast<size_t>(n), file.f) != n)
      fail(path, std::string("the file ended early ") + where + " (it changed while being read?)");
  };
  if (file_size < 8)
    fail(path, "the file is " + std::to_string(file_size) +
                   " bytes, too short for the 8-byte header length");
  unsigned char len[8];
  read_exact(len, 8, "in the header length");
  const uint64_t header_size = read_u64_le(len);
  check_header_size(path, header_size, file_size);
  std::vector<unsigned char> header(static_cast<size_t>(header_size));
  read_exact(header.data(), header_size, "in the header");
  auto parsed = parse_header(path, header.data(), header.size(), file_size - 8 - header_size);
  std::map<std::string, std::string>& metadata = parsed.first;
  const std::vector<Spec>& specs = parsed.second;
  // The tensors tile the data section in offset order: read it once, straight into them.
  std::vector<size_t> order(specs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return specs[a].begin != specs[b].begin ? specs[a].begin < specs[b].begin
                                            : specs[a].end < specs[b].end;
  });
  std::vector<SafetensorsEntry> entries(specs.size());
  for (size_t i : order)
    entries[i] = make_entry(path, specs[i], [&](unsigned char* dst, uint64_t, uint64_t n) {
      read_exact(dst, n, ("inside tensor " + py_str(specs[i].name)).c_str());
    });
  SafetensorsFile out;
  out.metadata = std::move(metadata);
  out.tensors = std::move(entries);
  return out;
}

// ---- writing ------------------------------------------------------------------------------

namespace {

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    EMBER_CHECK(w > 0, Error, path, ": cannot write the file (", std::strerror(errno), ")");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  EMBER_CHECK(little_endian(), Error, "safetensors: big-endian hosts are not supported");
  json header = json::object();
  if (!metadata.empty()) {
    json md = json::object();
    for (const auto& [k, v] : metadata) md[k] = v;
    header[kMetadataKey] = md;
  }
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    EMBER_CHECK(name != kMetadataKey, ValueError, path, ": '__metadata__' is reserved and cannot "
                "name a tensor");
    EMBER_CHECK(names.insert(name).second, ValueError, path, ": two tensors are named '", name, "'");
    EMBER_CHECK(t.defined() && is_concrete(t.shape()), ValueError, path, ": tensor '", name,
                "' has no data");
    const uint64_t end = offset + t.nbytes();
    header[name] = json{{"dtype", code_of(t.dtype())}, {"shape", t.shape()},
                        {"data_offsets", json::array({offset, end})}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw ValueError(path + ": tensor names and metadata must be valid Unicode text (" +
                     e.what() + ")");
  }
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  EMBER_CHECK(text.size() <= kMaxSafetensorsHeaderBytes, ValueError, path, ": the header would be ",
              text.size(), " bytes, over the format's limit of ", kMaxSafetensorsHeaderBytes,
              " (too many tensors or too much metadata)");

  const std::string dir = directory_of(path);
  struct stat st;
  EMBER_CHECK(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), Error, path,
              ": the directory '", dir, "' of the file does not exist");
  // A uniquely named file beside the target, renamed onto it once complete: a crash at any
  // point leaves the previous file intact.
  std::random_device rd;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%08x%08x", rd(), rd());
    temp = dir + "/." + base_of(path) + "." + hex + ".tmp";
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    EMBER_CHECK(fd >= 0 || (errno == EEXIST && attempt < 100), Error, path,
                ": cannot create a temporary file in '", dir, "' (", std::strerror(errno), ")");
  }
  try {
    unsigned char len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    write_all(fd, len, 8, path);
    write_all(fd, text.data(), text.size(), path);
    for (const auto& kv : tensors) write_all(fd, kv.second.raw(), kv.second.nbytes(), path);
    EMBER_CHECK(::fsync(fd) == 0, Error, path, ": cannot flush the file (", std::strerror(errno), ")");
    EMBER_CHECK(::close(fd) == 0, Error, path, ": cannot close the file (", std::strerror(errno), ")");
    fd = -1;
    EMBER_CHECK(::rename(temp.c_str(), path.c_str()) == 0, Error, path, ": cannot rename the "
                "temporary file onto it (", std::strerror(errno), ")");
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);  // make the rename itself durable
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace ember

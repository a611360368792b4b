// Reads a whole file, gunzipping it when it is gzip-compressed (zlib, when the examples were
// built with it). Shared by the examples, which read data sets stored as .gz files.
#pragma once
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef EMBER_HAVE_ZLIB
#include <zlib.h>
#endif

namespace example {

inline bool file_exists(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return f.good();
}

inline std::vector<unsigned char> read_file(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
#ifdef EMBER_HAVE_ZLIB
    gzFile gz = gzopen(path.c_str(), "rb");
    if (!gz) throw std::runtime_error(path + ": cannot open the file");
    std::vector<unsigned char> out;
    unsigned char buf[1 << 16];
    int n;
    while ((n = gzread(gz, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
    int err = 0;
    const char* msg = gzerror(gz, &err);
    gzclose(gz);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
      throw std::runtime_error(path + ": cannot decompress the file (" + msg + ")");
    return out;
#else
    throw std::runtime_error(path + ": this example was built without zlib; decompress the "
                             "file (gunzip) and pass its directory again");
#endif
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open the file");
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
}

// `dir/name`, or `dir/name.gz` when only the compressed file is there.
inline std::string find_data_file(const std::string& dir, const std::string& name) {
  const std::string plain = dir + "/" + name;
  if (file_exists(plain)) return plain;
  if (file_exists(plain + ".gz")) return plain + ".gz";
  throw std::runtime_error("cannot find " + plain + " (or " + plain + ".gz)");
}

}  // namespace example

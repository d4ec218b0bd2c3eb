// .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0),
// then a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a final '\n', then the raw data.
#include "io/npy.hpp"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <span>

namespace vknorm::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

std::string errno_text() { return std::strerror(errno); }

// Bytes are decoded by hand so that the result does not depend on the host's byte order.
uint64_t load_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void store_le(unsigned char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i, v >>= 8) p[i] = static_cast<unsigned char>(v & 0xff);
}

// The header dict, as far as .npy files use it: string keys; values are strings,
// True/False, or tuples of integers.
struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : s_(text) {}

  // Returns an empty string on success, else what is wrong.
  std::string parse(Header& h) {
    if (!eat('{')) return "expected '{' at the start of the header";
    while (true) {
      skip_space();
      if (eat('}')) return "";
      std::string key;
      if (!parse_string(key)) return "expected a quoted key in the header dict";
      if (!eat(':')) return "expected ':' after '" + key + "'";
      skip_space();
      if (key == "descr") {
        std::string v;
        if (!parse_string(v)) return "'descr' is not a string (expected e.g. '<f4')";
        h.descr = v;
      } else if (key == "fortran_order") {
        if (starts_with("True")) { h.fortran_order = true; pos_ += 4; }
        else if (starts_with("False")) { h.fortran_order = false; pos_ += 5; }
        else return "'fortran_order' is not True or False";
      } else if (key == "shape") {
        std::vector<int64_t> dims;
        std::string err = parse_shape(dims);
        if (!err.empty()) return err;
        h.shape = dims;
      } else {
        return "unexpected key '" + key + "' in the header (expected descr, fortran_order, shape)";
      }
      skip_space();
      if (eat('}')) return "";
      if (!eat(',')) return "expected ',' or '}' after the value of '" + key + "'";
    }
  }

 private:
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) { ++pos_; return true; }
    return false;
  }
  bool starts_with(const char* word) const { return s_.compare(pos_, std::strlen(word), word) == 0; }
  bool parse_string(std::string& out) {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return false;
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) return false;
    out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  std::string parse_shape(std::vector<int64_t>& dims) {
    if (!eat('(')) return "'shape' is not a tuple";
    while (true) {
      skip_space();
      if (eat(')')) return "";
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9')
        return "'shape' holds something other than non-negative integers";
      int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) return "'shape' has a dimension too large";
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long literal
      dims.push_back(v);
      skip_space();
      if (eat(')')) return "";
      if (!eat(',')) return "expected ',' or ')' in 'shape'";
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Element count of `shape`, or nullopt when it overflows or a dimension is negative.
std::optional<uint64_t> element_count(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    const uint64_t u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u) return std::nullopt;
    n *= u;
  }
  return n;
}

Status write_raw(const std::string& path, const std::vector<int64_t>& shape, const char* descr,
                 const unsigned char* bytes, size_t byte_count, size_t count) {
  const std::optional<uint64_t> expected = element_count(shape);
  if (!expected) return Status::invalid_argument(path + ": shape " + shape_text(shape) + " is invalid");
  if (*expected != count)
    return Status::invalid_argument(path + ": shape " + shape_text(shape) + " has " +
                                    std::to_string(*expected) + " elements, but " +
                                    std::to_string(count) + " were given");
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                       shape_text(shape) + ", }";
  // Magic (6) + version (2) + length (2) + header, padded to a multiple of 64 with a final '\n'.
  const size_t unpadded = kMagicSize + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff)
    return Status::invalid_argument(path + ": header too long for .npy version 1.0");
  unsigned char prefix[10];
  std::memcpy(prefix, kMagic, kMagicSize);
  prefix[6] = 1;
  prefix[7] = 0;
  store_le(prefix + 8, header.size(), 2);

  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Status::invalid_argument(path + ": cannot open for writing: " + errno_text());
  bool good = std::fwrite(prefix, 1, sizeof prefix, f) == sizeof prefix &&
              std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
              (byte_count == 0 || std::fwrite(bytes, 1, byte_count, f) == byte_count);
  const std::string write_error = good ? "" : errno_text();
  if (std::fclose(f) != 0 && good) return Status::internal(path + ": closing failed: " + errno_text());
  if (!good) return Status::internal(path + ": writing failed: " + write_error);
  return {};
}

}  // namespace

Result<NpyArray> read_npy(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::invalid_argument(path + ": cannot open: " + errno_text());
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  const bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error) return Status::invalid_argument(path + ": reading failed");
  return parse_npy(bytes.data(), bytes.size(), path);
}

Result<NpyArray> parse_npy(const unsigned char* data, size_t size, const std::string& path) {
  const std::span<const unsigned char> bytes(data, size);
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    return Status::invalid_argument(path + ": not a .npy file (expected the magic string \\x93NUMPY at the start)");
  const int major = bytes[6], minor = bytes[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return Status::invalid_argument(path + ": .npy format version " + std::to_string(major) + "." +
                                    std::to_string(minor) + " is not supported (expected 1.0, 2.0 or 3.0)");
  const int length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = kMagicSize + 2 + length_bytes;
  if (bytes.size() < header_start)
    return Status::invalid_argument(path + ": truncated in the header length field");
  const uint64_t header_length = load_le(bytes.data() + 8, length_bytes);
  if (bytes.size() - header_start < header_length)
    return Status::invalid_argument(path + ": truncated: the header says " + std::to_string(header_length) +
                                    " header bytes, the file has " +
                                    std::to_string(bytes.size() - header_start) + " after the prefix");
  const std::string text(reinterpret_cast<const char*>(bytes.data() + header_start), header_length);

  Header header;
  const std::string err = HeaderParser(text).parse(header);
  if (!err.empty()) return Status::invalid_argument(path + ": bad .npy header: " + err);
  if (!header.descr || !header.fortran_order || !header.shape)
    return Status::invalid_argument(path + ": bad .npy header: expected the keys descr, fortran_order and shape");
  if (*header.fortran_order)
    return Status::invalid_argument(path + ": fortran_order is True; only C-order arrays are supported "
                                           "(expected fortran_order False)");
  const bool is_f4 = *header.descr == "<f4", is_f2 = *header.descr == "<f2";
  if (!is_f4 && !is_f2)
    return Status::invalid_argument(path + ": dtype '" + *header.descr +
                                    "' is not supported (expected '<f4' or '<f2')");

  NpyArray array;
  array.shape = *header.shape;
  array.was_float16 = is_f2;
  const size_t item = is_f4 ? 4 : 2;
  const std::optional<uint64_t> count = element_count(array.shape);
  if (!count || *count > std::numeric_limits<size_t>::max() / item)
    return Status::invalid_argument(path + ": shape " + shape_text(array.shape) + " is too large");
  const size_t data_start = header_start + header_length;
  const size_t expected = static_cast<size_t>(*count) * item;
  const size_t present = bytes.size() - data_start;
  if (present < expected)
    return Status::invalid_argument(path + ": truncated: shape " + shape_text(array.shape) + " needs " +
                                    std::to_string(expected) + " data bytes, the file has " +
                                    std::to_string(present));
  if (present > expected)
    return Status::invalid_argument(path + ": " + std::to_string(present - expected) +
                                    " unexpected bytes after the data (expected exactly " +
                                    std::to_string(expected) + " data bytes for shape " +
                                    shape_text(array.shape) + ")");

  array.data.resize(static_cast<size_t>(*count));
  const unsigned char* p = bytes.data() + data_start;
  for (size_t i = 0; i < array.data.size(); ++i, p += item) {
    array.data[i] = is_f4 ? std::bit_cast<float>(static_cast<uint32_t>(load_le(p, 4)))
                          : half_to_float(static_cast<uint16_t>(load_le(p, 2)));
  }
  return array;
}

Status write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data,
                 size_t count) {
  std::vector<unsigned char> bytes(count * 4);
  for (size_t i = 0; i < count; ++i) store_le(bytes.data() + 4 * i, std::bit_cast<uint32_t>(data[i]), 4);
  return write_raw(path, shape, "<f4", bytes.data(), bytes.size(), count);
}

Status write_npy_int64(const std::string& path, const std::vector<int64_t>& shape, const int64_t* data,
                       size_t count) {
  std::vector<unsigned char> bytes(count * 8);
  for (size_t i = 0; i < count; ++i) store_le(bytes.data() + 8 * i, static_cast<uint64_t>(data[i]), 8);
  return write_raw(path, shape, "<i8", bytes.data(), bytes.size(), count);
}

}  // namespace vknorm::io

// .npy reading and writing, and the float16 conversions.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/npy.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using vknorm::test::read_file;
using vknorm::io::float_to_half;
using vknorm::io::half_to_float;
using vknorm::io::read_npy;

namespace {

// A fresh folder under the system temp dir, removed when the test ends.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("vknorm_npy_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A hand-made .npy file: magic, version, little-endian header length, padded header, data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  for (size_t i = 0; i < prefix - 8; ++i) out += char((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string le_bytes(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i, v >>= 8) s += char(v & 0xff);
  return s;
}

void check_refusal(const std::string& path, std::initializer_list<std::string> phrases) {
  auto r = read_npy(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == vknorm::StatusCode::invalid_argument);
  INFO("message: " << r.status().message());
  CHECK(r.status().message().find(path) != std::string::npos);
  for (const std::string& phrase : phrases) CHECK(r.status().message().find(phrase) != std::string::npos);
}

// The value a binary16 encodes, from the IEEE definition.
double half_value(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24)
                                         : std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -magnitude : magnitude;
}

}  // namespace

TEST_CASE("npy: float32 round trip keeps every bit and writes a 64-byte-aligned v1.0 header") {
  TempDir dir;
  std::vector<float> data(24);
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(i) * 0.37f - 3.0f;
  data[1] = -0.0f;
  data[2] = std::numeric_limits<float>::infinity();
  data[3] = std::numeric_limits<float>::quiet_NaN();
  data[4] = std::numeric_limits<float>::denorm_min();
  const std::string path = dir.file("a.npy");
  REQUIRE(vknorm::io::write_npy(path, {2, 3, 4}, data.data(), data.size()).ok());

  const std::string bytes = read_file(path);
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
  const size_t header_len = size_t(uint8_t(bytes[8])) | size_t(uint8_t(bytes[9])) << 8;
  CHECK((10 + header_len) % 64 == 0);
  CHECK(bytes[10 + header_len - 1] == '\n');
  CHECK(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }") == 10);
  CHECK(bytes.size() == 10 + header_len + 24 * 4);

  auto r = read_npy(path);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->shape == std::vector<int64_t>{2, 3, 4});
  CHECK_FALSE(r->was_float16);
  REQUIRE(r->data.size() == data.size());
  for (size_t i = 0; i < data.size(); ++i)
    CHECK(std::bit_cast<uint32_t>(r->data[i]) == std::bit_cast<uint32_t>(data[i]));
}

TEST_CASE("npy: scalar, one-dimensional and empty shapes") {
  TempDir dir;
  const float one = 2.5f;
  REQUIRE(vknorm::io::write_npy(dir.file("s.npy"), {}, &one, 1).ok());
  CHECK(read_file(dir.file("s.npy")).find("'shape': ()") != std::string::npos);
  auto s = read_npy(dir.file("s.npy"));
  REQUIRE(s.ok());
  CHECK(s->shape.empty());
  CHECK(s->data == std::vector<float>{2.5f});

  const std::vector<float> five = {1, 2, 3, 4, 5};
  REQUIRE(vknorm::io::write_npy(dir.file("v.npy"), {5}, five.data(), 5).ok());
  CHECK(read_file(dir.file("v.npy")).find("'shape': (5,)") != std::string::npos);
  auto v = read_npy(dir.file("v.npy"));
  REQUIRE(v.ok());
  CHECK(v->shape == std::vector<int64_t>{5});
  CHECK(v->data == five);

  REQUIRE(vknorm::io::write_npy(dir.file("e.npy"), {0, 3}, nullptr, 0).ok());
  auto e = read_npy(dir.file("e.npy"));
  REQUIRE(e.ok());
  CHECK(e->shape == std::vector<int64_t>{0, 3});
  CHECK(e->data.empty());
}

TEST_CASE("npy: writing refuses a count that does not match the shape") {
  TempDir dir;
  const std::vector<float> data(5);
  auto st = vknorm::io::write_npy(dir.file("bad.npy"), {2, 3}, data.data(), data.size());
  CHECK(st.code() == vknorm::StatusCode::invalid_argument);
  CHECK(st.message().find("shape (2, 3) has 6 elements, but 5 were given") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("bad.npy")));
  auto missing = vknorm::io::write_npy(dir.file("no/such/dir.npy"), {1}, data.data(), 1);
  CHECK_FALSE(missing.ok());
  CHECK(missing.message().find("cannot open for writing") != std::string::npos);
}

TEST_CASE("npy: int64 round trip through the raw bytes") {
  TempDir dir;
  const std::vector<int64_t> data = {0, -1, 7, int64_t(1) << 40, std::numeric_limits<int64_t>::min(), 3};
  const std::string path = dir.file("i.npy");
  REQUIRE(vknorm::io::write_npy_int64(path, {3, 2}, data.data(), data.size()).ok());
  const std::string bytes = read_file(path);
  CHECK(bytes.find("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }") == 10);
  REQUIRE(bytes.size() >= 48);
  for (size_t i = 0; i < data.size(); ++i)
    CHECK(bytes.substr(bytes.size() - 48 + 8 * i, 8) == le_bytes(uint64_t(data[i]), 8));
  const int64_t count = 5;
  REQUIRE(vknorm::io::write_npy_int64(dir.file("c.npy"), {}, &count, 1).ok());
  CHECK(read_file(dir.file("c.npy")).find("'shape': ()") != std::string::npos);
  // read_npy is for float tensors; it says so rather than misreading.
  check_refusal(path, {"dtype '<i8' is not supported (expected '<f4' or '<f2')"});
}

TEST_CASE("npy: reads float16 files, widening exactly") {
  TempDir dir;
  // 1, -2, smallest subnormal 2^-24, largest 65504, inf, NaN.
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x7e00};
  std::string data;
  for (uint16_t h : halves) data += le_bytes(h, 2);
  const std::string path = dir.file("h.npy");
  write_bytes(path, npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", data));
  auto r = read_npy(path);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->was_float16);
  CHECK(r->shape == std::vector<int64_t>{2, 3});
  REQUIRE(r->data.size() == 6);
  CHECK(r->data[0] == 1.0f);
  CHECK(r->data[1] == -2.0f);
  CHECK(r->data[2] == std::ldexp(1.0f, -24));
  CHECK(r->data[3] == 65504.0f);
  CHECK(r->data[4] == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(r->data[5]));
}

TEST_CASE("npy: reads format versions 2.0 and 3.0 and other header spellings") {
  TempDir dir;
  const std::string data = le_bytes(std::bit_cast<uint32_t>(1.5f), 4) + le_bytes(std::bit_cast<uint32_t>(-4.0f), 4);
  for (int major : {2, 3}) {
    const std::string path = dir.file(std::string("v").append(std::to_string(major)).append(".npy"));
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, major));
    auto r = read_npy(path);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    CHECK(r->data == std::vector<float>{1.5f, -4.0f});
  }
  // Keys in another order, double quotes, no trailing comma.
  const std::string path = dir.file("order.npy");
  write_bytes(path, npy_bytes("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", data));
  auto r = read_npy(path);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->shape == std::vector<int64_t>{1, 2});
}

TEST_CASE("npy: refusals say what is wrong and what was expected") {
  TempDir dir;
  const std::string four_floats(16, '\0');
  auto make = [&](const std::string& name, const std::string& bytes) {
    write_bytes(dir.file(name), bytes);
    return dir.file(name);
  };
  check_refusal(make("fortran.npy", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats)),
                {"fortran_order is True", "expected fortran_order False"});
  check_refusal(make("f8.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", four_floats)),
                {"dtype '<f8' is not supported (expected '<f4' or '<f2')"});
  check_refusal(make("big.npy", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four_floats)),
                {"dtype '>f4' is not supported (expected '<f4' or '<f2')"});
  check_refusal(make("magic.npy", "\x93NUMPX\x01\x00" + four_floats), {"not a .npy file", "\\x93NUMPY"});
  check_refusal(make("tiny.npy", "\x93NU"), {"not a .npy file"});
  std::string v4 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats);
  v4[6] = 4;
  check_refusal(make("v4.npy", v4), {"version 4.0 is not supported (expected 1.0, 2.0 or 3.0)"});
  check_refusal(make("short.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", four_floats)),
                {"truncated", "shape (2, 3) needs 24 data bytes, the file has 16"});
  const std::string whole = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats);
  check_refusal(make("cut_header.npy", whole.substr(0, 40)), {"truncated", "header"});
  check_refusal(make("long.npy", whole + "xx"), {"2 unexpected bytes after the data", "expected exactly 16"});
  check_refusal(make("noshape.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, }", four_floats)),
                {"expected the keys descr, fortran_order and shape"});
  check_refusal(make("negative.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four_floats)),
                {"'shape'"});
  check_refusal(dir.file("missing.npy"), {"cannot open"});
}

TEST_CASE("float16: half_to_float is exact for every encoding") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t half = uint16_t(h);
    const float f = half_to_float(half);
    const int exponent = (h >> 10) & 0x1f;
    if (exponent == 0x1f && (h & 0x3ff) != 0) {
      CHECK(std::isnan(f));
      CHECK(std::isnan(half_to_float(float_to_half(f))));
    } else if (exponent == 0x1f) {
      CHECK(f == ((h & 0x8000) ? -1.0f : 1.0f) * std::numeric_limits<float>::infinity());
    } else {
      // Every half is a float: the value is exact, and converting back is the identity.
      if (double(f) != half_value(half)) CHECK(double(f) == half_value(half));
    }
    if (!(exponent == 0x1f && (h & 0x3ff) != 0) && float_to_half(f) != half)
      CHECK(float_to_half(f) == half);
  }
  CHECK(std::signbit(half_to_float(0x8000)));
}

TEST_CASE("float16: float_to_half rounds to nearest, ties to even") {
  // Between neighbours a < b (both finite, positive): the midpoint goes to the even one,
  // anything a float ulp away from it to the nearer one.
  for (uint16_t lo = 0; lo < 0x7bff; ++lo) {
    const uint16_t hi = uint16_t(lo + 1);
    const float a = half_to_float(lo), b = half_to_float(hi);
    const float mid = float((double(a) + double(b)) / 2.0);  // exact: 12 significant bits
    const uint16_t even = (lo & 1) ? hi : lo;
    const uint16_t got_mid = float_to_half(mid);
    const uint16_t got_below = float_to_half(std::nextafter(mid, 0.0f));
    const uint16_t got_above = float_to_half(std::nextafter(mid, 1e9f));
    const uint16_t got_neg = float_to_half(-mid);
    if (got_mid != even || got_below != lo || got_above != hi || got_neg != (even | 0x8000)) {
      CAPTURE(lo);
      CHECK(got_mid == even);
      CHECK(got_below == lo);
      CHECK(got_above == hi);
      CHECK(got_neg == (even | 0x8000));
    }
  }
  CHECK(float_to_half(65504.0f) == 0x7bff);
  CHECK(float_to_half(65519.99f) == 0x7bff);
  CHECK(float_to_half(65520.0f) == 0x7c00);  // the tie above 65504 goes to (even) infinity
  CHECK(float_to_half(1e10f) == 0x7c00);
  CHECK(float_to_half(-1e10f) == 0xfc00);
  CHECK(float_to_half(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and 2^-24: even 0
  CHECK(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(float_to_half(std::ldexp(1.0f, -30)) == 0x0000);
  CHECK(float_to_half(-std::ldexp(1.0f, -30)) == 0x8000);
  CHECK(float_to_half(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(float_to_half(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  CHECK(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(half_to_float(float_to_half(std::bit_cast<float>(0x7f800001u)))));  // low-payload sNaN
}

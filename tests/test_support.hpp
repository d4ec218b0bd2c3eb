// Helpers that tests of every sort use (GPU, CPU reference, command line, .npy): random
// inputs, shapes, files. One copy here; gpu_support.hpp and reference_support.hpp build on it.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace vknorm::test {

// n values drawn from N(mean, stddev^2).
inline std::vector<float> random_vector(size_t n, std::mt19937& rng, float mean = 0.0f, float stddev = 1.0f) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Elements of a tensor of this shape.
inline size_t product(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// "2x3x5" for {2, 3, 5}: a shape in captures and messages.
inline std::string shape_name(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += 'x';  // appended, not "x" + ...: GCC 12 warns (-Wrestrict) falsely about that
    s += std::to_string(shape[i]);
  }
  return s;
}

// A file's bytes; empty when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The key=value lines of a fixture's params.txt (tests/fixtures/README.md).
inline std::map<std::string, std::string> read_params(const std::filesystem::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// num_batches_tracked.npy (PyTorch's, or the tool's) is an int64 scalar, which read_npy
// refuses by design.
inline int64_t load_int64_scalar(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  INFO("file: " << path.string());
  REQUIRE(bytes.size() >= 18);
  REQUIRE(bytes.find("'<i8'") != std::string::npos);
  REQUIRE(bytes.find("'shape': ()") != std::string::npos);
  int64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[bytes.size() - 8 + size_t(i)]);
  return v;
}

}  // namespace vknorm::test

// Reading and writing NumPy .npy files: the format the command-line tool and the tests use
// to exchange tensors with PyTorch. Only what vknorm needs: little-endian, C order,
// float32 and float16 in, float32 and int64 out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vknorm/half.hpp"
#include "vknorm/status.hpp"

namespace vknorm::io {

struct NpyArray {
  std::vector<int64_t> shape;  // empty for a scalar (one element)
  std::vector<float> data;     // C order
  bool was_float16 = false;    // the file held '<f2'; data was widened exactly
};

// Reads a .npy file of format version 1.0, 2.0 or 3.0 holding '<f4' or '<f2' in C order.
// Anything else is refused with a message that names the path, the problem and what
// was expected.
Result<NpyArray> read_npy(const std::string& path);
// The same, from the file's bytes in memory; `path` only names it in messages.
Result<NpyArray> parse_npy(const unsigned char* data, size_t size, const std::string& path);

// Writes a version 1.0 .npy file. `count` must equal the product of `shape` (1 for ()).
Status write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data,
                 size_t count);  // '<f4'
Status write_npy_int64(const std::string& path, const std::vector<int64_t>& shape,
                       const int64_t* data, size_t count);  // '<i8'

// The float16 conversions live in the library; the tool and the tests use them from here too.
using vknorm::float_to_half;
using vknorm::half_to_float;

}  // namespace vknorm::io

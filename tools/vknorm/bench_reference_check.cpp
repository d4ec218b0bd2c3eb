// `vknorm bench --check-references`: every reference grid computes the right values. A
// reference that wrote garbage fast would make every ratio of the bench a lie.
#include <cstdio>
#include <string>
#include <vector>

#include "bench_references.hpp"

namespace vknorm::bench {
namespace {

// Lengths around the vector widths (4 and 8 elements), a tail past a round size, and one
// long enough for grid-stride loops of capped grids to take several steps.
constexpr uint64_t kLengths[] = {1, 3, 4, 7, 8, 9, 17, 4096, 4099, 3 * 65536 + 5, 1048576 + 13};
// (x, y) byte offsets: none; 16-byte aligned but not 256-byte (the vector kernels' bases);
// 4-byte aligned only, where only the scalar kernel runs.
constexpr VkDeviceSize kOffsets[][2] = {{0, 0}, {16, 48}, {4, 8}};
constexpr uint8_t kSentinel = 0xa5;

// One dtype, length and offset pair: every grid of both passes writes its own region of
// one output buffer (so one submission and one read-back check them all), a region holding
// the tensor at the y offset, surrounded by sentinel bytes that must stay as they were.
Status check_one(BenchDevice& device, ReferencePasses& references, DType dtype, uint64_t n, VkDeviceSize x_offset,
                 VkDeviceSize y_offset, int& checked) {
  const uint32_t eb = dtype == DType::f16 ? 2 : 4;
  const std::vector<ReferenceGrid> grids = references.candidates(dtype, true, x_offset, y_offset);
  const VkDeviceSize region = (y_offset + n * eb + 64 + 255) / 256 * 256;
  const size_t regions = 2 * grids.size();
  std::vector<uint8_t> x_bytes(x_offset, 0);
  const std::vector<uint8_t> input = reference_input(dtype, n);
  x_bytes.insert(x_bytes.end(), input.begin(), input.end());
  x_bytes.resize((x_bytes.size() + 3) / 4 * 4);  // whole words (record()), as the bench's buffers
  auto x = device.buffer(x_bytes.size(), x_bytes);
  if (!x) return x.status();
  auto y = device.buffer(region * regions, std::vector<uint8_t>(region * regions, kSentinel));
  if (!y) return y.status();
  const ReferencePass passes[] = {ReferencePass::copy, ReferencePass::scale_shift};
  VKNORM_TRY(device.run_once([&](CommandRecorder& rec) -> Status {
    for (size_t r = 0; r < regions; ++r) {
      BufferRef xr = x.value().ref(), yr = y.value().ref();
      xr.offset = x_offset;
      xr.size = n * eb;
      yr.offset = r * region + y_offset;
      yr.size = n * eb;
      VKNORM_TRY(references.record(rec, passes[r / grids.size()], dtype, grids[r % grids.size()], n, xr, yr));
    }
    return {};
  }));
  auto bytes = device.read(y.value());
  if (!bytes) return bytes.status();
  for (size_t r = 0; r < regions; ++r) {
    const ReferencePass pass = passes[r / grids.size()];
    const std::string what = std::string(pass == ReferencePass::copy ? "copy" : "scale_shift") + " " +
                             grids[r % grids.size()].label() + " (" + (dtype == DType::f16 ? "f16" : "f32") + ", " +
                             std::to_string(n) + " elements, x offset " + std::to_string(x_offset) + ", y offset " +
                             std::to_string(y_offset) + "): ";
    const std::vector<uint8_t> out(bytes.value().begin() + r * region, bytes.value().begin() + (r + 1) * region);
    const std::string wrong = check_reference_output(pass, dtype, n, out, y_offset);
    if (!wrong.empty()) return Status::internal(what + wrong);
    for (VkDeviceSize b = 0; b < region; ++b)
      if ((b < y_offset || b >= y_offset + n * eb) && out[b] != kSentinel)
        return Status::internal(what + "byte " + std::to_string(b) + " of its region, outside the tensor, changed");
    ++checked;
  }
  return {};
}

}  // namespace

Result<int> check_references(BenchDevice& device, ReferencePasses& references, DType dtype) {
  int checked = 0;
  for (uint64_t n : kLengths)
    for (const auto& offsets : kOffsets) VKNORM_TRY(check_one(device, references, dtype, n, offsets[0], offsets[1], checked));
  return checked;
}

}  // namespace vknorm::bench

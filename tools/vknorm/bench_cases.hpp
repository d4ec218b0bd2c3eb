// The fixed set of shapes `vknorm bench` measures, and how each case is recorded through
// vknorm's public recording API on device-local buffers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_device.hpp"
#include "vknorm/norm_common.hpp"

namespace vknorm::bench {

enum class Pass {
  train_forward,  // batch statistics (and the running-statistics update where there is one)
  eval_forward,   // running statistics (BatchNorm, InstanceNorm with track_running_stats)
  eval_cached,    // BatchNorm eval from cached coefficients: record_batch_norm_inference_apply
                  // (the coefficients are recorded once, before timing)
  backward,       // through batch statistics: dx, dweight, dbias
};
const char* to_string(Pass pass);

struct BenchCase {
  std::string kind;            // batch_norm, layer_norm, rms_norm, group_norm, instance_norm
  std::vector<int64_t> shape;  // logical (PyTorch) shape
  int64_t groups = 0;          // GroupNorm's num_groups
  bool has_layout = true;      // false for layer and RMS norm (rows of the last dim)
  Layout layout = Layout::nchw;
  DType dtype = DType::f32;
  Pass pass = Pass::train_forward;

  std::string shape_label() const;   // "8x64x56x56", "GN32 2x320x64x64"
  std::string layout_label() const;  // nchw, nhwc or rows
  uint64_t elements() const;
  // The least the pass must move: x read and y written (forward), x and dy read and dx
  // written (backward), plus the parameters and statistics it reads and writes.
  uint64_t min_bytes() const;
  // Issue 15's target for the ratio to the elementwise reference (the fastest grid timed):
  // BatchNorm eval 1.15, every other forward 1.5, every backward 3.0.
  double target_ratio() const;
};

// Every case: kinds x shapes x layouts x dtypes x passes (f16 only with 16-bit storage).
// Layer, RMS and group norm have no running statistics: their eval forward is the same
// computation as the training forward and is not listed twice.
std::vector<BenchCase> all_cases(bool with_f16);

// The kind `name` names in either spelling (batch_norm or batchnorm), as BenchCase::kind
// spells it; the message lists the valid names.
Result<std::string> parse_kind(const std::string& name);

// The pass `name` names, as to_string(Pass) spells it; the message lists the valid names.
Result<Pass> parse_pass(const std::string& name);

// A case ready to time: its buffers exist and hold data (for the backward, the saved
// statistics of a forward run on the same x).
struct PreparedCase {
  std::vector<DeviceBuffer> buffers;
  RecordFn record;
};
Result<PreparedCase> prepare_case(Context& context, BenchDevice& device, const BenchCase& c);

}  // namespace vknorm::bench

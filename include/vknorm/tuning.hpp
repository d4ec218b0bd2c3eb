// Strategy choices measured on the device: which kernels a norm call runs for a class of
// shapes, chosen by timing every valid candidate (Context::tune, `vknorm tune`) and kept in
// a TuningCache that the caller can save and load, keyed by device and driver like the
// pipeline cache. A context without a cache (or a shape class the cache does not hold)
// uses the planner's built-in rules.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "vknorm/batchnorm.hpp"
#include "vknorm/groupnorm.hpp"
#include "vknorm/instancenorm.hpp"
#include "vknorm/layernorm.hpp"
#include "vknorm/norm_common.hpp"
#include "vknorm/rmsnorm.hpp"
#include "vknorm/status.hpp"

namespace vknorm {

struct Capabilities;

enum class Direction : uint8_t { forward, backward };

// How a call with batch statistics computes them.
enum class OnChipKernel : uint8_t {
  automatic,  // the planner's rule
  team,       // team_forward / team_backward: a subgroup per group, no barrier
  fused,      // fused_forward: a workgroup per group, values in registers (forward only)
  split,      // partial statistics per chunk, a finalize pass, then the apply pass
};

// The column view of the split passes: a lane per column instead of a walk along the group,
// for channels-last groups of at most 16 columns of a row of at least 32, and for a
// forward's statistics over groups of up to 64 columns (NCHW planes of up to 64 elements)
// where gamma is constant in a group. `automatic`: the rules' choice (the first always, the
// second on a CPU device); `on`: both where the shape has them (the second not where the
// caller forces the split passes, as SyncBatchNorm does); `off`: neither.
enum class ColumnView : uint8_t { automatic, on, off };

// Where an eval forward (running statistics, no batch statistics) gets each channel's scale
// and shift where its apply walks columns: `automatic`, the rules' (first on a CPU
// device: lavapipe's per-lane loads loop over the lanes, and a pass of its own made
// BatchNorm 32x2048x7x7 NHWC f16 1.18 -> 1.01x the elementwise pass); `first`,
// batch_norm_coefficients into the workspace (2 * C floats) and then the cached apply;
// `in_apply`, the apply from the running statistics, once per column it walks. Planes
// (NCHW planes of 8 units or more) compute them per plane either way.
enum class EvalCoefficients : uint8_t { automatic, first, in_apply };

// One strategy for a call. Every field's default keeps the planner's rule. A choice that
// is not valid for a shape on a device (a team without subgroup arithmetic or over a group
// larger than the team kernel takes, fused over a group larger than a workgroup holds in
// registers, fused in a backward, the column view where the shape has no columns) falls
// back to the rule for that field: a cached choice covers a class of shapes, and one shape
// of the class may not take it. Choices never change results beyond float rounding.
struct StrategyChoice {
  OnChipKernel kernel = OnChipKernel::automatic;
  // Values each invocation of a split partial pass reduces (the chunk length over the
  // workgroup size); 0: the planner's (on CPU implementations 256 through the column
  // view and 64 otherwise, 8 elsewhere).
  uint32_t values_per_invocation = 0;
  ColumnView columns = ColumnView::automatic;
  // Rows each invocation of an elementwise pass walks over one column: BatchNorm's apply
  // over whole 4-element rows (eval, cached coefficients, and the training forward's
  // channels-last apply), its rows spread a grid's step apart, 0: the planner's 16 on a CPU
  // device other than lavapipe, 8 elsewhere; and as one block of consecutive rows, the apply of a training
  // forward and grad_input over vector rows (channels-last tensors, LayerNorm and RMSNorm
  // rows), 0: 8 on a GPU, on a CPU device up to 32 while a block stays within about 8192
  // 4-element units. Candidates: 8, 16, 32 and 64, for calls without batch statistics (eval,
  // forward and backward) only: a CPU device's best differs by implementation (BatchNorm
  // eval with cached coefficients, f32, spread rows: on lavapipe 8-16 rows ran 1.05-1.42x
  // the elementwise pass and 32 rows 1.3-3.1x, on SwiftShader 8 rows 0.71-1.18x and 32-64
  // 0.55-0.93x).
  uint32_t rows_per_invocation = 0;
  EvalCoefficients coefficients = EvalCoefficients::automatic;
  bool operator==(const StrategyChoice&) const = default;
};
// "team", "fused", "split vpi 64 columns", "automatic rows 16", "automatic coefficients
// first": for reports.
std::string to_string(const StrategyChoice& choice);

// The class of shapes one cached choice serves. Shapes of a class share kind, direction,
// dtype, which column views the split passes could read them through (ColumnView), and the
// log2 buckets (floor) of the group size (elements sharing statistics) and of the number
// of groups: within a bucket the costs the strategies trade (per-group work against the
// number of workgroups) stay within a factor of 2.
struct TuningKey {
  Norm kind = Norm::batch_norm;
  Direction direction = Direction::forward;
  DType dtype = DType::f32;
  bool columns = false;  // the channels-last column view
  uint8_t group_size_log2 = 0;
  uint8_t groups_log2 = 0;
  bool plane_columns = false;  // the forward's view of groups of up to 64 columns
  bool batch_stats = true;     // statistics from the batch (training), or running ones (eval)
  auto operator<=>(const TuningKey&) const = default;
};
// "layer_norm forward f32 walk group 2^10 x 2^9 groups" ("columns" for the channels-last
// column view, "walk planes" or "columns planes" where the view of up to 64 columns applies;
// "eval" after the dtype for running statistics).
std::string to_string(const TuningKey& key);

// What a cache was measured on. A cache is only valid where all of it matches: the
// driver and its compiler (driverVersion, pipelineCacheUUID) decide the kernels' speed,
// the subgroup and workgroup sizes which kernels exist.
struct TuningDevice {
  uint32_t vendor_id = 0, device_id = 0, driver_version = 0;
  std::array<uint8_t, 16> pipeline_cache_uuid{};
  uint32_t subgroup_size = 0, workgroup_size = 0;
  bool operator==(const TuningDevice&) const = default;
};
TuningDevice tuning_device(const Capabilities& caps);

class TuningCache {
 public:
  TuningCache() = default;
  explicit TuningCache(const TuningDevice& device) : device_(device) {}

  const TuningDevice& device() const { return device_; }
  void set(const TuningKey& key, const StrategyChoice& choice) { entries_[key] = choice; }
  // The cached choice of `key`'s class, or null. Allocates nothing (record calls ask).
  const StrategyChoice* find(const TuningKey& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  const std::map<TuningKey, StrategyChoice>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  // A versioned little-endian byte string: magic "VKNT", format version, the device,
  // then the entries.
  std::vector<uint8_t> serialize() const;
  // Reads serialize()'s bytes for the device `caps` describes. Refuses (invalid_argument)
  // bytes that are not a tuning cache or are truncated, a cache of another format version
  // (4 since the eval coefficients; tune again), and a cache of another device or
  // driver, naming each field that differs and both values. TuningCache{}'s bytes (no
  // device, no entries: what an untuned context saves), of any version so far, load
  // anywhere, as an empty cache.
  static Result<TuningCache> load(const Capabilities& caps, std::span<const uint8_t> bytes);

 private:
  TuningDevice device_;
  std::map<TuningKey, StrategyChoice> entries_;
};

// A call to tune: the kind's params (shape, layout, dtype, ...), as the record call takes.
using NormParams = std::variant<BatchNormParams, LayerNormParams, RMSNormParams, GroupNormParams, InstanceNormParams>;

// What Context::tune measures: each shape's class, in the directions asked for.
struct TuneRequest {
  std::vector<NormParams> shapes;
  bool forward = true;
  bool backward = true;
  uint32_t runs = 5;  // timed runs per candidate (after one warm-up), interleaved; the median counts
};

struct TunedCandidate {
  StrategyChoice choice;
  double milliseconds = 0;  // median device time of one call
  bool is_default = false;  // plans the work the planner's rules plan for this shape (untuned)
};

struct TunedClass {
  TuningKey key;
  std::string shape;  // the shape that was timed for this class, e.g. "layer_norm 512x768"
  std::vector<TunedCandidate> candidates;
  StrategyChoice winner;
};

struct TuneReport {
  std::vector<TunedClass> classes;  // in request order; a class is timed once (its first shape)
  double milliseconds = 0;          // wall time of the call
};

}  // namespace vknorm

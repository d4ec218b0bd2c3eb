// The tuning cache's names and bytes (vknorm/tuning.hpp).
#include <algorithm>
#include <cstdio>
#include <string>

#include "ops/norm_kinds.hpp"
#include "vknorm/context.hpp"
#include "vknorm/tuning.hpp"

namespace vknorm {
namespace {

constexpr uint8_t kMagic[4] = {'V', 'K', 'N', 'T'};
// Version 2: a key's byte for the plane column view (TuningKey::plane_columns). Version 3:
// a key's byte for batch statistics, a choice's rows per invocation. Version 4: a choice's
// byte for the eval coefficients (EvalCoefficients).
constexpr uint32_t kFormatVersion = 4;
constexpr size_t kHeaderBytes = 4 + 4 + 4 * 3 + 16 + 4 * 2 + 4;
constexpr size_t kEntryBytes = 8 + 2 + 4 + 4 + 1;  // the key, the choice's kernel and view, vpi, rows, coefficients

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}
std::string uuid(const std::array<uint8_t, 16>& u) {
  std::string s;
  for (uint8_t b : u) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

const char* kernel_name(OnChipKernel k) {
  switch (k) {
    case OnChipKernel::automatic: return "automatic";
    case OnChipKernel::team: return "team";
    case OnChipKernel::fused: return "fused";
    case OnChipKernel::split: return "split";
  }
  return "unknown";
}

}  // namespace

std::string to_string(const StrategyChoice& c) {
  std::string s = kernel_name(c.kernel);
  if (c.values_per_invocation) {
    s += " vpi ";
    s += std::to_string(c.values_per_invocation);
  }
  if (c.columns == ColumnView::on) s += " columns";
  if (c.columns == ColumnView::off) s += " no-columns";
  if (c.rows_per_invocation) {
    s += " rows ";
    s += std::to_string(c.rows_per_invocation);
  }
  if (c.coefficients == EvalCoefficients::first) s += " coefficients first";
  if (c.coefficients == EvalCoefficients::in_apply) s += " coefficients in apply";
  return s;
}

std::string to_string(const TuningKey& k) {
  const KindInfo* kind = find_kind(k.kind);
  std::string s = kind ? std::string(kind->name) : "kind " + std::to_string(static_cast<int>(k.kind));
  s += k.direction == Direction::forward ? " forward " : " backward ";
  s += k.dtype == DType::f16 ? "f16" : "f32";
  if (!k.batch_stats) s += " eval";
  s += k.columns ? " columns" : " walk";
  if (k.plane_columns) s += " planes";
  s += " group 2^";
  s += std::to_string(k.group_size_log2);
  s += " x 2^";
  s += std::to_string(k.groups_log2);
  s += " groups";
  return s;
}

TuningDevice tuning_device(const Capabilities& caps) {
  TuningDevice d;
  d.vendor_id = caps.vendor_id;
  d.device_id = caps.device_id;
  d.driver_version = caps.driver_version;
  d.pipeline_cache_uuid = caps.pipeline_cache_uuid;
  d.subgroup_size = caps.subgroup_size;
  d.workgroup_size = caps.workgroup_size;
  return d;
}

std::vector<uint8_t> TuningCache::serialize() const {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  put32(out, kFormatVersion);
  put32(out, device_.vendor_id);
  put32(out, device_.device_id);
  put32(out, device_.driver_version);
  out.insert(out.end(), device_.pipeline_cache_uuid.begin(), device_.pipeline_cache_uuid.end());
  put32(out, device_.subgroup_size);
  put32(out, device_.workgroup_size);
  put32(out, static_cast<uint32_t>(entries_.size()));
  for (const auto& [k, c] : entries_) {
    out.insert(out.end(), {static_cast<uint8_t>(k.kind), static_cast<uint8_t>(k.direction),
                           static_cast<uint8_t>(k.dtype), static_cast<uint8_t>(k.columns), k.group_size_log2,
                           k.groups_log2, static_cast<uint8_t>(k.plane_columns), static_cast<uint8_t>(k.batch_stats),
                           static_cast<uint8_t>(c.kernel), static_cast<uint8_t>(c.columns)});
    put32(out, c.values_per_invocation);
    put32(out, c.rows_per_invocation);
    out.push_back(static_cast<uint8_t>(c.coefficients));
  }
  return out;
}

Result<TuningCache> TuningCache::load(const Capabilities& caps, std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes || !std::equal(kMagic, kMagic + 4, bytes.begin()))
    return Status::invalid_argument("tuning cache: " + std::to_string(bytes.size()) +
                                    " bytes that do not start with a tuning cache's header (\"VKNT\")");
  const uint8_t* p = bytes.data() + 4;
  const uint32_t version = get32(p);
  // Every version's header is this one: an untuned context's bytes of an earlier version
  // still load (below); a cache with entries must be tuned again.
  if (version == 0 || version > kFormatVersion || (version < kFormatVersion && bytes.size() != kHeaderBytes))
    return Status::invalid_argument("tuning cache: format version " + std::to_string(version) + ", expected " +
                                    std::to_string(kFormatVersion) + "; tune again (vknorm tune, Context::tune)");
  TuningDevice d;
  d.vendor_id = get32(p + 4);
  d.device_id = get32(p + 8);
  d.driver_version = get32(p + 12);
  std::copy(p + 16, p + 32, d.pipeline_cache_uuid.begin());
  d.subgroup_size = get32(p + 32);
  d.workgroup_size = get32(p + 36);
  const uint32_t count = get32(p + 40);
  // TuningCache{}'s bytes (what an untuned or cleared context saves): no device, no
  // choices, so nothing that could be wrong here: an empty cache.
  if (d == TuningDevice{} && count == 0 && bytes.size() == kHeaderBytes) return TuningCache{};
  const TuningDevice here = tuning_device(caps);
  std::string differs;
  auto field = [&](const char* name, const std::string& cache, const std::string& device) {
    if (cache == device) return;
    differs += differs.empty() ? "" : "; ";
    differs += std::string(name) + " " + cache + " in the cache, " + device + " here";
  };
  field("vendorID", hex(d.vendor_id), hex(here.vendor_id));
  field("deviceID", hex(d.device_id), hex(here.device_id));
  field("driverVersion", hex(d.driver_version), hex(here.driver_version));
  field("pipelineCacheUUID", uuid(d.pipeline_cache_uuid), uuid(here.pipeline_cache_uuid));
  field("subgroup size", std::to_string(d.subgroup_size), std::to_string(here.subgroup_size));
  field("workgroup size", std::to_string(d.workgroup_size), std::to_string(here.workgroup_size));
  if (!differs.empty())
    return Status::invalid_argument("tuning cache: measured on another device or driver (" + differs +
                                    "); tune again on this one (vknorm tune, Context::tune)");
  if (bytes.size() != kHeaderBytes + uint64_t{count} * kEntryBytes)
    return Status::invalid_argument("tuning cache: " + std::to_string(bytes.size()) + " bytes, expected " +
                                    std::to_string(kHeaderBytes + uint64_t{count} * kEntryBytes) + " for " +
                                    std::to_string(count) + " entries");
  TuningCache cache(d);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = bytes.data() + kHeaderBytes + size_t{i} * kEntryBytes;
    if (!find_kind(static_cast<Norm>(e[0])) || e[1] > 1 || e[2] > 1 || e[3] > 1 || e[6] > 1 || e[7] > 1 ||
        e[8] > 3 || e[9] > 2 || e[18] > 2)
      return Status::invalid_argument("tuning cache: entry " + std::to_string(i) + " holds a value outside its enum");
    // What tune() can store: log2 buckets of 64-bit sizes, and the candidates' values per
    // invocation (0: the rules'); anything else is not a cache of ours (or was edited).
    const uint32_t vpi = get32(e + 10), rows = get32(e + 14);
    if (e[4] > 63 || e[5] > 63)
      return Status::invalid_argument("tuning cache: entry " + std::to_string(i) + " has a log2 bucket of " +
                                      std::to_string(std::max(e[4], e[5])) + ", expected at most 63");
    if (vpi != 0 && vpi != 8 && vpi != 64 && vpi != 256)
      return Status::invalid_argument("tuning cache: entry " + std::to_string(i) + " has " + std::to_string(vpi) +
                                      " values per invocation, expected 0, 8, 64 or 256");
    if (rows != 0 && rows != 8 && rows != 16 && rows != 32 && rows != 64)
      return Status::invalid_argument("tuning cache: entry " + std::to_string(i) + " has " + std::to_string(rows) +
                                      " rows per invocation, expected 0, 8, 16, 32 or 64");
    TuningKey k{static_cast<Norm>(e[0]), static_cast<Direction>(e[1]), static_cast<DType>(e[2]), e[3] != 0,
                e[4], e[5], e[6] != 0, e[7] != 0};
    if (cache.find(k))
      return Status::invalid_argument("tuning cache: entry " + std::to_string(i) + " repeats the class " + to_string(k));
    cache.set(k, {static_cast<OnChipKernel>(e[8]), vpi, static_cast<ColumnView>(e[9]), rows,
                  static_cast<EvalCoefficients>(e[18])});
  }
  return cache;
}

}  // namespace vknorm

// `vknorm devices`: lists every Vulkan device with what vknorm reads off it (type, driver,
// subgroup size and operations, the limits that choose kernels, 16-bit storage,
// timestamps), the workgroup size and reduction path vknorm uses there and why, and which
// device a standalone context picks by default. `--json` prints the same as JSON.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "vknorm/context.hpp"

namespace vknorm::cli {
namespace {

const char* kDevicesUsage =
    "usage: vknorm devices [--json]\n"
    "Lists each Vulkan device (index as --device takes it) with its type, driver, subgroup\n"
    "size and supported subgroup operations, the limits vknorm checks, 16-bit storage,\n"
    "timestamps, the workgroup size and reduction path vknorm uses there and why.\n"
    "The device marked default is the one vknorm picks when --device is not given.\n"
    "--json prints the same as one JSON object.\n"
    "Exit status: 0 when at least one device can run vknorm, 1 otherwise.\n";

const char* type_name(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

std::string api_version_string(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

// driverVersion is vendor-encoded: NVIDIA and Intel's Windows driver have their own
// layouts; the others (Mesa, AMD, Arm, ...) use VK_MAKE_VERSION.
std::string driver_version_string(const Capabilities& c) {
  const uint32_t v = c.driver_version;
  if (c.vendor_id == 0x10DE || c.driver_id == VK_DRIVER_ID_NVIDIA_PROPRIETARY)
    return std::to_string(v >> 22) + "." + std::to_string((v >> 14) & 0xff) + "." + std::to_string((v >> 6) & 0xff) +
           "." + std::to_string(v & 0x3f);
  if (c.driver_id == VK_DRIVER_ID_INTEL_PROPRIETARY_WINDOWS)
    return std::to_string(v >> 14) + "." + std::to_string(v & 0x3fff);
  return std::to_string(v >> 22) + "." + std::to_string((v >> 12) & 0x3ff) + "." + std::to_string(v & 0xfff);
}

struct Flag {
  uint32_t bit;
  const char* name;
};

const Flag kSubgroupOperations[] = {
    {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
    {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
    {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
    {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
    {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
    {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
    {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
    {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
};

const Flag kStages[] = {
    {VK_SHADER_STAGE_VERTEX_BIT, "vertex"},
    {VK_SHADER_STAGE_TESSELLATION_CONTROL_BIT, "tessellation_control"},
    {VK_SHADER_STAGE_TESSELLATION_EVALUATION_BIT, "tessellation_evaluation"},
    {VK_SHADER_STAGE_GEOMETRY_BIT, "geometry"},
    {VK_SHADER_STAGE_FRAGMENT_BIT, "fragment"},
    {VK_SHADER_STAGE_COMPUTE_BIT, "compute"},
    {VK_SHADER_STAGE_RAYGEN_BIT_KHR, "raygen"},
    {VK_SHADER_STAGE_ANY_HIT_BIT_KHR, "any_hit"},
    {VK_SHADER_STAGE_CLOSEST_HIT_BIT_KHR, "closest_hit"},
    {VK_SHADER_STAGE_MISS_BIT_KHR, "miss"},
    {VK_SHADER_STAGE_INTERSECTION_BIT_KHR, "intersection"},
    {VK_SHADER_STAGE_CALLABLE_BIT_KHR, "callable"},
    {VK_SHADER_STAGE_TASK_BIT_EXT, "task"},
    {VK_SHADER_STAGE_MESH_BIT_EXT, "mesh"},
};

// The names of the bits set in `mask` (unknown ones as hex), and of those not set.
template <size_t N>
void split_flags(uint32_t mask, const Flag (&flags)[N], std::vector<std::string>& set, std::vector<std::string>& unset) {
  uint32_t known = 0;
  for (const Flag& f : flags) {
    known |= f.bit;
    (mask & f.bit ? set : unset).push_back(f.name);
  }
  if (mask & ~known) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%" PRIx32, mask & ~known);
    set.push_back(hex);
  }
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

const char* yes_no(bool b) { return b ? "yes" : "no"; }

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%04" PRIx32, v);
  return buf;
}

std::string mib(uint64_t bytes) {
  char buf[64];
  if (bytes >= (1u << 20)) std::snprintf(buf, sizeof(buf), " (%.4g MiB)", static_cast<double>(bytes) / (1 << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof(buf), " (%.4g KiB)", static_cast<double>(bytes) / 1024);
  else buf[0] = '\0';
  return buf;
}

void print_text(const std::vector<DeviceInfo>& devices) {
  std::printf("%zu Vulkan device%s (* marks the default: what vknorm uses without --device)\n", devices.size(),
              devices.size() == 1 ? "" : "s");
  for (const DeviceInfo& d : devices) {
    const Capabilities& c = d.caps;
    std::vector<std::string> ops, no_ops, stages, no_stages;
    split_flags(c.subgroup_operations, kSubgroupOperations, ops, no_ops);
    split_flags(c.subgroup_stages, kStages, stages, no_stages);
    const bool compute = (c.subgroup_stages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    auto row = [](const char* name, const std::string& value) { std::printf("    %-34s %s\n", name, value.c_str()); };

    std::printf("\n%s %u: %s\n", d.is_default ? "*" : " ", d.index, c.device_name.c_str());
    row("type", type_name(c.device_type));
    row("Vulkan API", api_version_string(c.api_version));
    std::string driver = c.driver_name.empty() ? "(no VkPhysicalDeviceDriverProperties)" : c.driver_name;
    if (!c.driver_info.empty()) driver += ", " + c.driver_info;
    row("driver", driver + "; version " + driver_version_string(c) + " (" + hex(c.driver_version) + ")");
    row("vendor / device ID", hex(c.vendor_id) + " / " + hex(c.device_id));
    std::string size = std::to_string(c.subgroup_size);
    if (c.min_subgroup_size != c.max_subgroup_size || c.subgroup_size_control)
      size += " (min " + std::to_string(c.min_subgroup_size) + ", max " + std::to_string(c.max_subgroup_size) +
              ", size control in compute: " + yes_no(c.subgroup_size_control) + ")";
    row("subgroup size", size);
    row("subgroup operations", (ops.empty() ? std::string("none") : join(ops, " ")) +
                                   (no_ops.empty() ? "" : "; not: " + join(no_ops, " ")));
    row("subgroup stages", std::string("compute: ") + yes_no(compute) + " (" +
                               (stages.empty() ? std::string("none") : join(stages, " ")) + ")");
    row("maxComputeSharedMemorySize", std::to_string(c.max_shared_memory) + " bytes" + mib(c.max_shared_memory));
    row("maxComputeWorkGroupInvocations", std::to_string(c.max_workgroup_invocations));
    row("maxComputeWorkGroupSize[0]", std::to_string(c.max_workgroup_size_x));
    row("maxComputeWorkGroupCount[0..1]",
        std::to_string(c.max_workgroup_count_x) + " x " + std::to_string(c.max_workgroup_count_y));
    row("maxStorageBufferRange", std::to_string(c.max_storage_buffer_range) + " bytes" + mib(c.max_storage_buffer_range));
    row("minStorageBufferOffsetAlignment", std::to_string(c.min_storage_buffer_offset_alignment) + " bytes");
    row("storageBuffer16BitAccess",
        std::string(yes_no(c.storage_buffer_16bit)) +
            (c.storage_buffer_16bit ? " (f16 tensors native)" : " (f16 tensors packed in 32-bit words)"));
    char period[64];
    std::snprintf(period, sizeof(period), " (period %g ns)", static_cast<double>(c.timestamp_period_ns));
    row("timestamps (compute)", std::string(yes_no(c.timestamps)) + (c.timestamps ? period : ""));
    if (!d.usable) {
      row("vknorm", "cannot run here: it needs Vulkan 1.1 and a queue family with compute");
      continue;
    }
    row("workgroup size", std::to_string(c.workgroup_size));
    row("reduction path", std::string(to_string(c.reduction_path)) + " (" + c.reduction_reason + ")");
  }
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

std::string json_list(const std::vector<std::string>& v) {
  std::vector<std::string> quoted;
  for (const auto& x : v) quoted.push_back(json_string(x));
  std::string list = "[";  // not "[" + ...: GCC 12's false -Wrestrict (PR 105329)
  list += join(quoted, ", ");
  return list + "]";
}

void print_json(const std::vector<DeviceInfo>& devices) {
  std::string default_index = "null";
  for (const DeviceInfo& d : devices)
    if (d.is_default) default_index = std::to_string(d.index);
  std::printf("{\n  \"default_device\": %s,\n  \"devices\": [", default_index.c_str());
  bool first = true;
  for (const DeviceInfo& d : devices) {
    const Capabilities& c = d.caps;
    std::vector<std::string> ops, no_ops, stages, no_stages;
    split_flags(c.subgroup_operations, kSubgroupOperations, ops, no_ops);
    split_flags(c.subgroup_stages, kStages, stages, no_stages);
    std::printf("%s\n    {\n", first ? "" : ",");
    first = false;
    std::printf("      \"index\": %u,\n", d.index);
    std::printf("      \"name\": %s,\n", json_string(c.device_name).c_str());
    std::printf("      \"default\": %s,\n", d.is_default ? "true" : "false");
    std::printf("      \"usable\": %s,\n", d.usable ? "true" : "false");
    std::printf("      \"type\": \"%s\",\n", type_name(c.device_type));
    std::printf("      \"api_version\": \"%s\",\n", api_version_string(c.api_version).c_str());
    std::printf("      \"vendor_id\": %u,\n      \"device_id\": %u,\n", c.vendor_id, c.device_id);
    std::printf("      \"driver\": {\"name\": %s, \"info\": %s, \"id\": %d, \"version\": %s, \"version_raw\": %u},\n",
                json_string(c.driver_name).c_str(), json_string(c.driver_info).c_str(), static_cast<int>(c.driver_id),
                json_string(driver_version_string(c)).c_str(), c.driver_version);
    std::printf("      \"subgroup\": {\"size\": %u, \"min_size\": %u, \"max_size\": %u, \"size_control\": %s,\n",
                c.subgroup_size, c.min_subgroup_size, c.max_subgroup_size, c.subgroup_size_control ? "true" : "false");
    std::printf("                   \"operations\": %s,\n", json_list(ops).c_str());
    std::printf("                   \"stages\": %s, \"compute\": %s},\n", json_list(stages).c_str(),
                (c.subgroup_stages & VK_SHADER_STAGE_COMPUTE_BIT) ? "true" : "false");
    std::printf("      \"limits\": {\"maxComputeSharedMemorySize\": %u, \"maxComputeWorkGroupInvocations\": %u,\n"
                "                 \"maxComputeWorkGroupSize[0]\": %u, \"maxComputeWorkGroupCount[0]\": %u,\n"
                "                 \"maxComputeWorkGroupCount[1]\": %u, \"maxStorageBufferRange\": %llu,\n"
                "                 \"minStorageBufferOffsetAlignment\": %llu},\n",
                c.max_shared_memory, c.max_workgroup_invocations, c.max_workgroup_size_x, c.max_workgroup_count_x,
                c.max_workgroup_count_y, static_cast<unsigned long long>(c.max_storage_buffer_range),
                static_cast<unsigned long long>(c.min_storage_buffer_offset_alignment));
    std::printf("      \"storage_buffer_16bit\": %s,\n", c.storage_buffer_16bit ? "true" : "false");
    std::printf("      \"timestamps\": %s,\n      \"timestamp_period_ns\": %g,\n", c.timestamps ? "true" : "false",
                static_cast<double>(c.timestamp_period_ns));
    if (d.usable) {
      std::printf("      \"workgroup_size\": %u,\n", c.workgroup_size);
      std::printf("      \"reduction_path\": \"%s\",\n", to_string(c.reduction_path));
      std::printf("      \"reduction_reason\": %s\n", json_string(c.reduction_reason).c_str());
    } else {
      std::printf("      \"workgroup_size\": null,\n      \"reduction_path\": null,\n");
      std::printf("      \"reduction_reason\": \"vknorm needs Vulkan 1.1 and a queue family with compute\"\n");
    }
    std::printf("    }");
  }
  std::printf("%s]\n}\n", devices.empty() ? "" : "\n  ");
}

}  // namespace

int devices_command(int argc, char** argv) {
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kDevicesUsage, stdout);
      return 0;
    }
    if (arg == "--json") {
      json = true;
      continue;
    }
    std::fprintf(stderr, "vknorm devices: unknown argument '%s'\n%s", arg.c_str(), kDevicesUsage);
    return 2;
  }
  auto devices = Context::list_devices();
  if (!devices) {
    std::fprintf(stderr, "vknorm devices: %s\n", devices.status().message().c_str());
    return 1;
  }
  if (json) print_json(devices.value());
  else print_text(devices.value());
  bool any_usable = false;
  for (const DeviceInfo& d : devices.value()) any_usable = any_usable || d.usable;
  if (!any_usable)
    std::fprintf(stderr, "vknorm devices: no Vulkan 1.1 device with a compute queue was found "
                         "(on Debian, mesa-vulkan-drivers provides lavapipe)\n");
  return any_usable ? 0 : 1;
}

}  // namespace vknorm::cli

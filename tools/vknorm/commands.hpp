#pragma once

#include <string>

#include "vknorm/context.hpp"

namespace vknorm::cli {
// Each returns the process exit code: 0 success, 1 failure, 2 bad usage.
int run_command(int argc, char** argv);
// `vknorm devices [--json]`: the Vulkan devices, what vknorm reads off each, and its choices there.
int devices_command(int argc, char** argv);
// `vknorm bench`: every norm on a fixed set of shapes against a copy and an elementwise pass.
int bench_command(int argc, char** argv);
// `vknorm bench --host`: the host cost of recording, and the Vulkan calls a record call makes.
int bench_host_command(int argc, char** argv);
// `vknorm bench --sync`: SyncBatchNorm at world size 2 against plain BatchNorm, and the exchange's cost.
int bench_sync_command(int argc, char** argv);
// `vknorm tune`: times the candidate strategies of the bench's shapes and writes a tuning cache.
int tune_command(int argc, char** argv);
// Reads a tuning cache file (vknorm tune --out) and gives it to `context` (set_tuning).
Status load_tuning_file(Context& context, const std::string& path);
}  // namespace vknorm::cli

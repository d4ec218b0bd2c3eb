#pragma once
// `vknorm run`'s checks, apart from its run: the CLI argument fuzzer (tests/fuzz) drives them.
#include <functional>
#include <string>

#include "io/npy.hpp"

namespace vknorm::cli {

// Where `vknorm run` gets a tensor named by --x, --weight, ...: io::read_npy for the tool.
using NpyReader = std::function<Result<io::NpyArray>(const std::string& path)>;

// Every check `vknorm run argv...` makes before it needs a device: the options, their
// values, the tensors' shapes (from `read`), and the kind's params through its planner.
// Creates no context and writes no file. OK for --help.
Status check_run_arguments(int argc, char** argv, const NpyReader& read);

}  // namespace vknorm::cli

// libFuzzer target: `vknorm run`'s argument checks on arbitrary command lines. The input is
// the argument list, one argument per line. The tensors a path names are made up from the
// path itself: "2,3,4" is a (2, 3, 4) tensor (an empty path a scalar), so the fuzzer
// explores shapes as well as options, without files. Every command line must get an OK or
// a Status with a message: no crash, no sanitizer report, no endless loop. Nothing here
// needs a Vulkan device: the checks stop where a run would create one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "run.hpp"

namespace {

// At most this many elements in a made-up tensor: the checks, not the allocator, are the target.
constexpr int64_t kMaxElements = 1 << 16;

vknorm::Result<vknorm::io::NpyArray> made_up_tensor(const std::string& path) {
  vknorm::io::NpyArray array;
  int64_t count = 1;
  size_t at = 0;
  while (at < path.size()) {
    size_t end = path.find(',', at);
    if (end == std::string::npos) end = path.size();
    const std::string dim = path.substr(at, end - at);
    if (dim.empty() || dim.size() > 6 || dim.find_first_not_of("0123456789") != std::string::npos)
      return vknorm::Status::invalid_argument(path + ": not a made-up shape");
    array.shape.push_back(std::stoll(dim));
    count *= array.shape.back();
    if (count > kMaxElements || array.shape.size() > 8)
      return vknorm::Status::invalid_argument(path + ": too large for the fuzzer");
    at = end + 1;
  }
  array.data.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < array.data.size(); ++i) array.data[i] = static_cast<float>(i % 7) * 0.5f - 1.5f;
  return array;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') args.emplace_back();
    else args.back().push_back(static_cast<char>(data[i]));
  }
  if (args.size() > 64) return 0;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  vknorm::Status status = vknorm::cli::check_run_arguments(static_cast<int>(args.size()), argv.data(), made_up_tensor);
  if (!status.ok() && status.message().empty()) std::abort();  // every refusal says why
  return 0;
}

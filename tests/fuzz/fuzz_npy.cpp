// libFuzzer target: the .npy reader on arbitrary bytes. It must answer every input with an
// array or a Status naming the problem: no crash, no sanitizer report, no endless loop,
// and an array it accepts holds exactly the elements its shape says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto array = vknorm::io::parse_npy(data, size, "fuzz.npy");
  if (!array) {
    if (array.status().message().rfind("fuzz.npy: ", 0) != 0) std::abort();  // every refusal names the file
    return 0;
  }
  size_t count = 1;
  for (int64_t d : array->shape) {
    if (d < 0) std::abort();
    count *= static_cast<size_t>(d);
  }
  if (count != array->data.size()) std::abort();
  return 0;
}

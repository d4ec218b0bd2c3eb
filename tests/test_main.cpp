#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "gpu_support.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int result = context.run();
  // Destroy the shared Vulkan contexts while the validation layer is still loaded:
  // static destructors at exit would run after the layer's own.
  vknorm::test::release_contexts();
  return result;
}

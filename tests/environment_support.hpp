// What the test environment lacks, said out loud and counted, never passed over in silence.
//  - The Khronos validation layer. Wherever it is installed the tests run under it, and any
//    message fails a test. Where it cannot be loaded (Windows under wine: Debian has no
//    Windows build of the layer, and wine's vulkan-1.dll lists no layers) the suite runs
//    without it only when VKNORM_TEST_ALLOW_NO_VALIDATION=1 says so (scripts/test-windows.sh).
//    Without that setting the layer is demanded: a context without it fails, naming it.
//  - Under wine, what wine's vulkan-1.dll does not pass on to the driver: allocation
//    callbacks (winevulkan gives the host driver NULL).
// main() prints the conditions at the start, and at the end how many instances went
// without the layer and which test cases were skipped, and why.
#pragma once

namespace vknorm::test {

// The layer is not installed and VKNORM_TEST_ALLOW_NO_VALIDATION=1 allows that.
bool running_without_validation_layer();

// Whether a context or engine instance the tests create enables the layer: true unless
// running_without_validation_layer(); each false is counted.
bool enable_validation_layer();

// For a test case that checks what the layer reports: true (the test must return) when the
// layer is not loaded; the skip is printed with `test_case` and counted.
bool skip_without_validation_layer(const char* test_case);

// True inside wine (its ntdll.dll exports wine_get_version).
bool running_under_wine();

// For a test case that needs what wine does not provide (`why`): true (the test must
// return) under wine; the skip is printed and counted.
bool skip_under_wine(const char* test_case, const char* why);

// One line per condition at the start of the run, and the counts at its end; nothing where
// the environment lacks nothing.
void print_environment_start();
void print_environment_end();

}  // namespace vknorm::test

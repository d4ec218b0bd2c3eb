/* An MSVC-ABI program using the MinGW-built vknorm.dll through its C API, as an engine built
 * with MSVC or clang-cl would: compiled by clang-cl for x86_64-pc-windows-msvc and linked by
 * lld-link against an MSVC-style import library made from the DLL's vknorm.def
 * (scripts/test-windows.sh). Debian has no MSVC C runtime, so the program has none: its own
 * entry point, output through kernel32 only, no libm. It runs LayerNorm + ReLU as
 * tests/package/consumer_c does, on the default device and on the CPU reference, and prints
 * OK when both agree with the hand computation. */
#include <stddef.h>
#include <stdint.h>

#include <vknorm/vknorm.h>

__declspec(dllimport) void* __stdcall GetStdHandle(unsigned long which);
__declspec(dllimport) int __stdcall WriteFile(void* file, const void* data, unsigned long size, unsigned long* written,
                                              void* overlapped);
__declspec(dllimport) void __stdcall ExitProcess(unsigned int code);

/* What the compiler may call or reference without a C runtime. */
int _fltused = 0;
#ifndef __clang__
#pragma function(memset) /* MSVC: memset defined here, not its intrinsic */
#endif
void* memset(void* dst, int value, size_t size) {
  unsigned char* p = (unsigned char*)dst;
  while (size--) *p++ = (unsigned char)value;
  return dst;
}

static void print(const char* text) {
  unsigned long length = 0, written = 0;
  while (text[length]) ++length;
  WriteFile(GetStdHandle((unsigned long)-11) /* STD_OUTPUT_HANDLE */, text, length, &written, NULL);
}

static int fail(const char* what, vknorm_status status) {
  print(what);
  print(": ");
  print(vknorm_status_string(status));
  print(": ");
  print(vknorm_last_error());
  print("\n");
  return 1;
}

static double distance(double a, double b) { return a > b ? a - b : b - a; }

static int run(void) {
  if (vknorm_c_api_version() != VKNORM_C_API_VERSION) return fail("vknorm_c_api_version", VKNORM_STATUS_INTERNAL);
  vknorm_context* context = NULL;
  vknorm_status status = vknorm_context_create_standalone(NULL, &context);
  if (status != VKNORM_STATUS_OK) return fail("vknorm_context_create_standalone", status);

  const int64_t shape[] = {2, 4}, normalized_shape[] = {4};
  vknorm_layer_norm_params params;
  vknorm_layer_norm_params_init(&params);
  params.shape = shape;
  params.rank = 2;
  params.normalized_shape = normalized_shape;
  params.normalized_rank = 1;
  params.epilogue.relu = 1;

  const float x[8] = {1, 2, 3, 4, -2, 0, 2, 4};
  const float weight[4] = {1.0f, 2.0f, 0.5f, -1.0f}, bias[4] = {0.0f, 0.25f, 0.0f, 1.0f};
  float y[8] = {0}, y_reference[8] = {0};
  vknorm_host_forward io = {0};
  io.x = x;
  io.x_length = 8;
  io.weight = weight;
  io.weight_length = 4;
  io.bias = bias;
  io.bias_length = 4;
  io.y = y;
  io.y_capacity = 8;
  status = vknorm_layer_norm_forward_host(context, &params, &io);
  vknorm_context_destroy(context);
  if (status != VKNORM_STATUS_OK) return fail("vknorm_layer_norm_forward_host", status);
  io.y = y_reference;
  status = vknorm_layer_norm_forward_reference(&params, &io);
  if (status != VKNORM_STATUS_OK) return fail("vknorm_layer_norm_forward_reference", status);

  /* Row 1: mean 1, biased variance 5; y[1][2] = (2 - 1) / sqrt(5 + 1e-5) * 0.5, and the ReLU
   * clears y[1][3] = 1 - 3 / sqrt(5 + 1e-5). */
  const double expected2 = 0.22360657;
  if (distance(y[6], expected2) > 1e-5 || y[7] != 0.0f || distance(y_reference[6], expected2) > 1e-6 ||
      y_reference[7] != 0.0f) {
    print("LayerNorm+ReLU: y[1][2] or y[1][3] differs from the hand computation\n");
    return 1;
  }
  print("MSVC ABI (clang-cl, lld-link) through vknorm.dll's C API: LayerNorm+ReLU on the device and on the CPU "
        "reference match the hand computation\nOK\n");
  return 0;
}

void mainCRTStartup(void) { ExitProcess((unsigned int)run()); }

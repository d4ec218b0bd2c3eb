/* Package test for C: LayerNorm over rows of 4 through the C API on the default device,
 * checked against a hand computation. Linked with `pkg-config --libs vknorm` only. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <vknorm/vknorm.h>

static int fail(const char* what, vknorm_status status) {
  fprintf(stderr, "%s: %s: %s\n", what, vknorm_status_string(status), vknorm_last_error());
  return 1;
}

int main(void) {
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

  const float x[8] = {1, 2, 3, 4, -2, 0, 2, 4};
  const float weight[4] = {1.0f, 2.0f, 0.5f, -1.0f}, bias[4] = {0.0f, 0.25f, 0.0f, 1.0f};
  float y[8] = {0};
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

  /* Row 1: mean 1, biased variance (9 + 1 + 1 + 9) / 4 = 5; element 3 is 4. */
  const double expected = (4.0 - 1.0) / sqrt(5.0 + 1e-5) * -1.0 + 1.0;
  if (fabs(y[7] - expected) > 1e-5) {
    fprintf(stderr, "y[1][3] = %.7f, expected %.7f\n", y[7], expected);
    return 1;
  }
  printf("C API version %u; y[1][3] = %.6f (expected %.6f)\nOK\n", (unsigned)vknorm_c_api_version(), y[7], expected);
  return 0;
}

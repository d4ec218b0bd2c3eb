/* Package test for C: LayerNorm + ReLU over rows of 4 through the C API, on the default
 * device and on the CPU reference, both checked against a hand computation. Built by a
 * C-only project, linked through find_package or pkg-config (VKNORM_CONSUMER_LINKED_BY). */
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

  /* Row 1: mean 1, biased variance (9 + 1 + 1 + 9) / 4 = 5. Element 2 (x = 2, weight 0.5,
   * bias 0) is 0.5 / sqrt(5) > 0 and stays; element 3 (x = 4, weight -1, bias 1) is
   * 1 - 3 / sqrt(5) < 0 and the ReLU clears it. */
  const double expected2 = (2.0 - 1.0) / sqrt(5.0 + 1e-5) * 0.5;
  if (fabs(y[6] - expected2) > 1e-5 || y[7] != 0.0f || fabs(y_reference[6] - expected2) > 1e-6 ||
      y_reference[7] != 0.0f) {
    fprintf(stderr, "y[1][2], y[1][3]: device %.7f, %.7f; reference %.7f, %.7f; expected %.7f, 0\n", y[6], y[7],
            y_reference[6], y_reference[7], expected2);
    return 1;
  }
  printf("C API version %u, linked through %s: LayerNorm+ReLU y[1][2] = %.6f on the device, %.6f on the CPU "
         "reference (expected %.6f); y[1][3] = %g (cleared by the ReLU)\nOK\n",
         (unsigned)vknorm_c_api_version(), VKNORM_CONSUMER_LINKED_BY, y[6], y_reference[6], expected2, y[7]);
  return 0;
}

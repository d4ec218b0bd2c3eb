#version 450
#extension GL_GOOGLE_include_directive : require
// Backward, pass 2: adds each group's chunk sums in chunk order and writes the group's
// coefficients (invstd, b, c of grad.glsl) into the workspace.
// When gamma is constant inside a group (BatchNorm, InstanceNorm), one invocation handles
// channel k for every b, applies gamma, and writes dgamma = sum(dy * xhat) and
// dbeta = sum(dy) summed over b, in order. Invocations stride over the groups (channels),
// so any grid covers them. FLAG_MERGED_SUMS: SyncBatchNorm's records (src/shader_contract.h).
#include "common.glsl"
#include "grad.glsl"

vec2 group_sums(uint g) {
  vec2 s = vec2(0.0);
  for (uint c = 0u; c < pc.chunks; ++c) s += load_sums(grad_sums_record(g, c));
  return s;
}

void write_coefficients(uint g, vec2 gsums) { store_coefficients(g, group_coefficients(g, gsums)); }

void finalize_channel(uint k) {
  float gamma = gamma_of(k);
  vec2 param = vec2(0.0);
  for (uint b = 0u; b < pc.B; ++b) {
    uint g = b * pc.K + k;
    if (has_flag(FLAG_MERGED_SUMS)) {  // partial 0: the whole batch's; partial 1: this device's
      param += load_sums(grad_sums_record(g, 1u));
      write_coefficients(g, load_sums(grad_sums_record(g, 0u)) * gamma);
      continue;
    }
    vec2 s = group_sums(g);
    param += s;
    write_coefficients(g, s * gamma);
  }
  if (has_flag(FLAG_WEIGHT)) store_aux0(k, param.y);
  if (has_flag(FLAG_BIAS)) store_aux1(k, param.x);
}

void main() {
  uint stride = invocation_count();
  if (has_flag(FLAG_GAMMA_VARIES)) {
    for (uint g = gl_GlobalInvocationID.x; g < group_count(); g += stride) write_coefficients(g, group_sums(g));
    return;
  }
  for (uint k = gl_GlobalInvocationID.x; k < pc.K; k += stride) finalize_channel(k);
}

#include "half.h"

#include <string.h>

static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13)); /* inf, NaN */
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    /* Subnormal: mantissa * 2^-24; every half subnormal is a float normal. */
    exponent = 127 - 15 + 1;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3ffu;
    return bits_float(sign | (exponent << 23) | (mantissa << 13));
  }
  return bits_float(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

uint16_t float_to_half(float value) {
  const uint32_t u = float_bits(value);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520: rounds to infinity */
  uint32_t h, rest, half_way;
  if (a < 0x38800000u) { /* below 2^-14: a half subnormal or zero */
    if (a < 0x33000000u) return sign; /* at most 2^-25: rounds to zero (the tie goes to even 0) */
    const uint32_t shift = 126 - (a >> 23); /* 14..24 */
    const uint32_t mantissa = (a & 0x7fffffu) | 0x800000u;
    h = mantissa >> shift;
    rest = mantissa & ((1u << shift) - 1);
    half_way = 1u << (shift - 1);
  } else {
    h = ((a >> 13) - ((127u - 15u) << 10)) & 0xffffu; /* rebias; the mantissa's top 10 bits */
    rest = a & 0x1fffu;
    half_way = 0x1000u;
  }
  if (rest > half_way || (rest == half_way && (h & 1u))) ++h; /* a carry into the exponent is right */
  return (uint16_t)(sign | h);
}

float round_to_half(float value) { return half_to_float(float_to_half(value)); }

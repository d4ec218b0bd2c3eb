/* IEEE 754 binary16 <-> float32 on the host: the engine fills f16 inputs and reads f16
 * outputs in mapped memory, and the reference rounds between stages like the GPU's f16
 * storage. */
#ifndef ENGINE_FRAMES_HALF_H
#define ENGINE_FRAMES_HALF_H

#include <stdint.h>

float half_to_float(uint16_t h);
/* Round to nearest, ties to even; overflow gives infinity, NaN stays NaN. */
uint16_t float_to_half(float value);
/* value as the GPU stores it in an f16 tensor. */
float round_to_half(float value);

#endif

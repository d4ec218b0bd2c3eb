// <windows.h> as vknorm includes it, everywhere: without its min/max macros (they break
// std::min/std::max) and its rarely used parts. Include it only under _WIN32.
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

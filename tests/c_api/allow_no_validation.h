/* Shared by the C API tests: whether VKNORM_TEST_ALLOW_NO_VALIDATION=1 lets them run without
 * the validation layer where it is not installed (scripts/test-windows.sh: Debian has no
 * Windows build of the layer). Never set on Linux, where a missing layer fails the tests. */
#ifndef VKNORM_TESTS_ALLOW_NO_VALIDATION_H
#define VKNORM_TESTS_ALLOW_NO_VALIDATION_H

#include <stdlib.h>
#include <string.h>

static int allow_no_validation(void) {
#if defined(_MSC_VER) || defined(_UCRT) /* MSVC deprecates getenv; MinGW's msvcrt.dll has no _dupenv_s */
  char* value = NULL;
  size_t size = 0;
  const int yes = _dupenv_s(&value, &size, "VKNORM_TEST_ALLOW_NO_VALIDATION") == 0 && value && strcmp(value, "1") == 0;
  free(value);
  return yes;
#else
  const char* value = getenv("VKNORM_TEST_ALLOW_NO_VALIDATION");
  return value && strcmp(value, "1") == 0;
#endif
}

#endif

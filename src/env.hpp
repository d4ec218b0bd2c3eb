// Environment variables, read and set the same way on every platform: POSIX getenv/setenv,
// and on Windows _dupenv_s/_putenv_s (MSVC deprecates getenv, and has no setenv). MinGW
// against the old msvcrt.dll (Debian's default) has no _dupenv_s: getenv there, which its
// headers do not deprecate. Header only: the tool and the tests share it.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace vknorm::env {

// The variable's value; nullopt when it is not set. (Windows cannot tell an empty value
// from an unset variable: _putenv_s with "" removes it.)
inline std::optional<std::string> get(const char* name) {
#if defined(_MSC_VER) || defined(_UCRT)
  char* value = nullptr;
  size_t size = 0;
  if (_dupenv_s(&value, &size, name) != 0 || !value) return std::nullopt;
  std::string copy(value);
  std::free(value);
  return copy;
#else
  const char* value = std::getenv(name);
  if (!value) return std::nullopt;
  return std::string(value);
#endif
}

// True when the variable is set to exactly `expected`.
inline bool equals(const char* name, const char* expected) {
  const std::optional<std::string> value = get(name);
  return value && *value == expected;
}

// Sets the variable for this process and the programs it starts; unless `overwrite` is
// false and it is set already. Returns false when the platform refused.
inline bool set(const char* name, const char* value, bool overwrite = true) {
  if (!overwrite && get(name)) return true;
#if defined(_WIN32)
  return _putenv_s(name, value) == 0;
#else
  return setenv(name, value, 1) == 0;
#endif
}

}  // namespace vknorm::env

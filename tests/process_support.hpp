// Starting programs from the tests (the vknorm tool, this test binary) the same way on
// POSIX and on Windows: std::system runs /bin/sh there and cmd.exe here, and returns a
// wait status there and the exit code here.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#if defined(_WIN32)
#include <process.h>

#include "windows_header.hpp"
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace vknorm::test {

inline int process_id() {
#if defined(_WIN32)
  return _getpid();
#else
  return getpid();
#endif
}

// Runs `command` through the platform's shell; returns the program's exit code, or -1
// when it did not exit normally.
inline int run_shell(const std::string& command) {
#if defined(_WIN32)
  // cmd /c strips the first and the last quote of a line that starts with one: a pair of
  // its own keeps the command's quotes intact.
  std::string line = "\"";  // appended, not "\"" + ...: GCC 12's false -Wrestrict (PR 105329)
  line += command;
  line += '"';
  // Under wine, about one start in a few hundred fails on a loaded machine: cmd.exe does not
  // start (-1), or cannot start the program (9009, "Can't recognize ..."), which then never
  // ran. Tried again, said on stderr; the program's own exit codes are neither.
  int code = std::system(line.c_str());
  for (int retry = 1; retry <= 2 && (code == -1 || code == 9009); ++retry) {
    std::fprintf(stderr, "[environment] the shell could not start the program (exit %d); again, retry %d: %s\n",
                 code, retry, command.c_str());
    code = std::system(line.c_str());
  }
  return code;
#else
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
#endif
}

// A path in the platform's own form, quoted for its shell (the tests' paths hold no quotes).
inline std::string shell_path(const std::filesystem::path& path) {
  // Appended, not "'" + ...: GCC 12's false -Wrestrict (PR 105329).
#if defined(_WIN32)
  std::string quoted = "\"";
  quoted += std::filesystem::path(path).make_preferred().string();
  quoted += '"';
#else
  std::string quoted = "'";
  quoted += path.string();
  quoted += '\'';
#endif
  return quoted;
}

// This test program's own file.
inline std::filesystem::path self_executable() {
#if defined(_WIN32)
  wchar_t file[32768];
  const DWORD length = GetModuleFileNameW(nullptr, file, 32768);
  return std::filesystem::path(std::wstring(file, length));
#else
  return std::filesystem::read_symlink("/proc/self/exe");
#endif
}

// The vknorm tool the tests start (VKNORM_CLI_PATH), ready for a command line.
inline std::string cli_program() { return shell_path(VKNORM_CLI_PATH); }

// A scratch path of this process: test runs in parallel (ctest -j, two checkouts) must not
// share files.
inline std::filesystem::path scratch_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("vknorm_test_" + std::to_string(process_id()) + "_" + name);
}

// Runs the vknorm tool with `args` (which may redirect its stdout); returns its exit code,
// and what it printed on stderr in *errors when given.
inline int run_tool(const std::string& args, std::string* errors = nullptr) {
  const std::filesystem::path err_file = scratch_path("tool_stderr.txt");
  const int code = run_shell(cli_program() + " " + args + " 2> " + shell_path(err_file));
  if (errors) {
    std::ifstream in(err_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    *errors = text.str();
  }
  return code;
}

}  // namespace vknorm::test

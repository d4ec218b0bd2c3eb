// vknorm command-line tool: `vknorm run` applies a norm to .npy files; `vknorm devices`
// lists the Vulkan devices and what vknorm does on each; `vknorm bench` measures it.
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.hpp"

namespace {
void usage(FILE* to) {
  std::fprintf(to,
               "usage: vknorm <command> [options]\n"
               "commands:\n"
               "  run      apply a norm to .npy files (vknorm run --help)\n"
               "  devices  list the Vulkan devices: limits, subgroup support, the reduction path\n"
               "           vknorm uses on each and the default device (vknorm devices --help)\n"
               "  bench    time every norm against a copy and an elementwise pass on the same\n"
               "           device (vknorm bench --help)\n"
               "  tune     time the candidate strategies of the bench's shapes and write a tuning\n"
               "           cache (vknorm tune --help)\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string command = argv[1];
  if (command == "run") return vknorm::cli::run_command(argc - 2, argv + 2);
  if (command == "devices") return vknorm::cli::devices_command(argc - 2, argv + 2);
  if (command == "bench") return vknorm::cli::bench_command(argc - 2, argv + 2);
  if (command == "tune") return vknorm::cli::tune_command(argc - 2, argv + 2);
  if (command == "--help" || command == "-h" || command == "help") {
    usage(stdout);
    return 0;
  }
  std::fprintf(stderr, "vknorm: unknown command '%s'\n", command.c_str());
  usage(stderr);
  return 2;
}

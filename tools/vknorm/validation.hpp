// VKNORM_VALIDATION=1: the tool's contexts run with the Khronos validation layer (and
// synchronization validation), and any message it sends fails the command. The CLI tests
// set it, so that every `vknorm run` they start is checked as the in-process tests are.
#pragma once

#include "vknorm/context.hpp"

namespace vknorm::cli {

// True when VKNORM_VALIDATION is set to 1.
bool validation_requested();

// With validation_requested(): turns validation on in `options` and collects the messages
// (from any thread, any number of contexts). Otherwise leaves `options` alone.
void apply_validation(StandaloneOptions& options);

// Call once the command's contexts are destroyed: prints every collected message on
// stderr, prefixed with `command`, and returns 1 if there was any; else `exit_code`.
int validation_verdict(const char* command, int exit_code);

}  // namespace vknorm::cli

#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "env.hpp"
#include "environment_support.hpp"
#include "gpu_support.hpp"
#include "vulkan_functions.h"

namespace {

// Every test case checks its own validation messages, without a call in the test: at the
// end of each test case the messages that arrived during it on context_for's contexts and
// that nothing consumed (check_no_validation_messages() and take_validation_messages()
// consume them; OwnContext checks its own) fail that test case, named, with the messages.
//
// Why a listener that marks the test case failed: doctest has no per-test-case fixture
// short of rewriting every TEST_CASE as TEST_CASE_FIXTURE, and an assertion from a
// listener's test_case_end comes after doctest has counted the test case's assertions. So
// the listener (listeners run before the console reporter) prints the failure in the
// console reporter's format and marks the test case failed in doctest's own state
// (detail::g_cs, doctest 2.4's, which test_case_end's stats are), so that the summary
// counts it, the console reporter and the exit code see it. In case a later doctest
// stops honouring that, main() also fails the run for any such test case, by name.
std::vector<std::string> g_unchecked;  // the test cases that left messages unchecked

struct UncheckedValidationMessages : doctest::IReporter {
  explicit UncheckedValidationMessages(const doctest::ContextOptions&) {}

  void test_case_start(const doctest::TestCaseData& tc) override {
    current_ = &tc;
    skipped_before_ = vknorm::test::skipped_configurations();
  }

  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    print_skips();
    const std::vector<std::string> messages = vknorm::test::take_validation_messages();
    if (messages.empty() || !current_) return;
    g_unchecked.push_back(current_->m_name);
    std::cout << "===============================================================================\n"
              << current_->m_file.c_str() << ":" << current_->m_line << ":\nTEST CASE:  " << current_->m_name
              << "\n\nERROR: " << messages.size()
              << " validation-layer message(s) during this test case that it did not check (call "
                 "check_no_validation_messages(), or take_validation_messages() where it provokes them):\n";
    for (const std::string& m : messages) std::cout << "  validation layer: " << m << "\n";
    std::cout << std::endl;
    doctest::detail::ContextState& state = *doctest::detail::g_cs;
    state.failure_flags |= doctest::TestCaseFailureReason::AssertFailure;
    ++state.numAsserts;  // one failed assertion, as a FAIL_CHECK in the test would count
    ++state.numAssertsCurrentTest;
    ++state.numAssertsFailedCurrentTest;
    ++state.numAssertsFailed;
    if (state.testCaseSuccess) {
      state.testCaseSuccess = false;
      ++state.numTestCasesFailed;
    }
  }

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}

 private:
  // The configurations this test case skipped (skip_configuration), by reason: a skip is
  // never silent.
  void print_skips() const {
    if (!current_) return;
    for (const auto& [reason, count] : vknorm::test::skipped_configurations()) {
      const auto before = skipped_before_.find(reason);
      const size_t here = count - (before == skipped_before_.end() ? 0 : before->second);
      if (here > 0)
        std::cout << "[doctest] " << current_->m_name << ": skipped " << here << " configuration(s): " << reason
                  << "\n";
    }
  }

  const doctest::TestCaseData* current_ = nullptr;
  std::map<std::string, size_t> skipped_before_;
};

REGISTER_LISTENER("unchecked_validation_messages", 1, UncheckedValidationMessages);

}  // namespace

int main(int argc, char** argv) {
#ifdef _WIN32
  // The C runtime buffers a redirected stdout fully: a run that hangs and is killed (CI's
  // time limit) would lose what it printed, such as the lines --duration=true prints as
  // each test case ends (scripts/test-windows.sh), which show where it hangs.
  std::setvbuf(stdout, nullptr, _IONBF, 0);
#endif
  // The tests that play an engine call Vulkan through volk's table; without a loader only
  // the tests that need no device can pass.
  vknorm_test_load_vulkan();
  // Every `vknorm` the tests start runs with the validation layer and fails on any message
  // (tools/vknorm/validation.hpp), as the tests' own contexts do; unless VKNORM_VALIDATION
  // is already set (=0 to time the tool without the layer), or the layer may be missing
  // (environment_support.hpp).
  vknorm::env::set("VKNORM_VALIDATION", vknorm::test::running_without_validation_layer() ? "0" : "1",
                   /*overwrite=*/false);
  vknorm::test::print_environment_start();
  doctest::Context context(argc, argv);
  int result = context.run();
  // Destroy the shared Vulkan contexts while the validation layer is still loaded:
  // static destructors at exit would run after the layer's own.
  vknorm::test::release_contexts();
  for (const std::string& m : vknorm::test::take_validation_messages()) {
    std::cout << "validation layer, destroying the shared contexts: " << m << "\n";
    result = EXIT_FAILURE;
  }
  // The run's skips, after doctest's own summary: "skipped N configurations: <reason> xcount".
  const std::map<std::string, size_t> skipped = vknorm::test::skipped_configurations();
  if (!skipped.empty()) {
    size_t total = 0;
    for (const auto& entry : skipped) total += entry.second;
    std::cout << "[doctest] skipped " << total << " configuration(s) the device cannot run:";
    for (const auto& [reason, count] : skipped) std::cout << " " << reason << " x" << count << ";";
    std::cout << "\n";
  }
  vknorm_test_unload_vulkan();
  vknorm::test::print_environment_end();
  for (const std::string& name : g_unchecked) {
    std::cout << "[doctest] failed: '" << name << "' left validation-layer messages unchecked\n";
    result = EXIT_FAILURE;
  }
  return result;
}

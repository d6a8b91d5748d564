#pragma once
// Shared helpers of the verification suites (THEORY.md section 8).
// Pattern of every claim test: *measure once* (simulations over several seeds), then
// *compare* the measurements with a prediction through a pure function returning a
// ClaimReport. The same comparison is run against the true prediction (must pass) and
// against deliberately wrong ones (must fail), so no check can pass vacuously.
// Seeds: seed_i = 1000 * master + i, master from $HMI_MASTER_SEED (default 1), printed in
// every report, so calibration can rerun a claim under independent masters.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "reports/report.hpp"
#include "verify/claims/stats.hpp"

namespace hmi::verify {

/// Writes the report to $HMI_REPORT_DIR/<name>.json (atomically) and returns its verdict.
inline bool write_report(const reports::ClaimReport& r, const std::string& name) {
  auto j = r.to_json();
  j["master_seed"] = master_seed();
  reports::write_json_atomic(reports::report_dir() / (name + ".json"), j);
  return r.pass();
}

/// Wall-clock seconds since t0 (for the timing a suite reports).
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The suite's side of the claim protocol: every asserted wrong prediction of `r` must have been
/// rejected (blind spots and recorded ones are printed, not asserted).
inline void check_rejections(const reports::ClaimReport& r, const std::string& name) {
  for (const auto& w : r.wrong_predictions) {
    BOOST_TEST_MESSAGE(name << " wrong prediction '" << w.name << "': " << (w.rejected ? "rejected" : "not rejected")
                            << (w.points >= 0 ? " (" + std::to_string(w.failed_points) + "/" + std::to_string(w.points) + " points fail" +
                                                    (w.rejected_by.empty() ? "" : ", in " + w.rejected_by) + ")"
                                              : std::string())
                            << (w.kind == reports::WrongPrediction::Kind::blind_spot ? " [declared blind spot]"
                                : w.kind == reports::WrongPrediction::Kind::recorded ? " [recorded, not asserted]"
                                                                                      : ""));
    if (w.kind == reports::WrongPrediction::Kind::asserted) BOOST_TEST(w.rejected, name << " must reject the wrong prediction " << w.name);
  }
}

/// Prints the failing points (with the seeds) so a failure is diagnosable from the log.
inline void print_failures(const reports::ClaimReport& r) {
  for (const auto& p : r.points)
    if (!p.pass)
      BOOST_TEST_MESSAGE(r.claim << " FAIL " << p.label << ": measured " << p.measured << " +- " << p.measured_error
                                 << ", expected " << p.expected << ", tolerance " << p.tolerance
                                 << " (master seed " << master_seed() << ")");
}

}  // namespace hmi::verify

// Claim C9 (docs/bayes.md): the spectral estimator's subspace error is rate-optimal,
// rho_k(alpha) = (1 - q_k^spectral) / (1 - q_k^BO) bounded over alpha in [2 alpha_k, 100 alpha_k]
// and over k. Measurement (theory against theory): Theory B (T = clip:3, Monte Carlo 2^19) and
// Theory F (state evolution) for he2 (gamma = 1) and abs (gamma = 1.5), p = 8, Delta = 1,
// directions 1..7 at alpha = {2, 10, 100} alpha_k. Statistics and tolerances in
// verify/claims/optimality.cpp: rho + 3 err >= 1 everywhere; slopes of log rho in log alpha and in
// log k (directions 3..7) zero within 3 err + 0.1. Wrong predictions: the spectral curve of
// gamma x 1.2 (exponent 2 gamma x 1.2) and the BO curve of Delta x 4, each must fail.
// No simulation points (Theory B is itself checked against simulation by C2). Runtime ~34 s on 2 cores.
#define BOOST_TEST_MODULE c9_optimality
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include "verify/check.hpp"
#include "verify/claims/optimality.hpp"

using namespace hmi;

BOOST_AUTO_TEST_CASE(c9_rate_optimal_subspace_recovery) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<verify::OptimalityCase> cases = verify::default_optimality_cases();
  std::vector<verify::OptimalityCurves> curves;
  for (const auto& c : cases) curves.push_back(verify::optimality_curves(c));
  reports::ClaimReport r = verify::compare_optimality(curves);
  for (const auto& cj : r.extra["cases"])
    BOOST_TEST_MESSAGE(cj["case"].get<std::string>() << ": rho in [" << cj["rho_min"] << ", " << cj["rho_max"]
                                                     << "], alpha slopes " << cj["alpha_slopes"].dump() << ", k slopes "
                                                     << cj["k_slopes"].dump());
  verify::print_failures(r);

  // Wrong predictions on the first case.
  const reports::ClaimReport wrong_exp = verify::compare_optimality({verify::optimality_curves(cases[0], 1.2, 1.0, 1u << 19, 2, &curves[0])});
  const reports::ClaimReport wrong_delta = verify::compare_optimality({verify::optimality_curves(cases[0], 1.0, 4.0, 1u << 19, 2, &curves[0])});
  for (const auto* w : {&wrong_exp, &wrong_delta})
    BOOST_TEST_MESSAGE("wrong " << w->extra["cases"][0]["variant"].get<std::string>() << ": rho in ["
                                << w->extra["cases"][0]["rho_min"] << ", " << w->extra["cases"][0]["rho_max"] << "], k slopes "
                                << w->extra["cases"][0]["k_slopes"].dump() << " -> " << (w->pass() ? "PASSED (bad)" : "rejected"));
  for (const auto* w : {&wrong_exp, &wrong_delta})
    for (const auto& p : w->points)
      if (!p.pass) BOOST_TEST_MESSAGE("  rejects: " << p.label << " measured " << p.measured << " +- " << p.measured_error << " tol " << p.tolerance);
  r.reject("spectral gamma x 1.2", wrong_exp);
  r.reject("BO Delta x 4", wrong_delta);
  verify::check_rejections(r, "C9");
  r.extra["seconds"] = verify::seconds_since(t0);
  BOOST_TEST(verify::write_report(r, "C9"));
}

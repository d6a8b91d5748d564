// Theory B for non-even activations (the p x p form, docs/theory-b.md section 6) against
// simulation at two dimensions (issue 14 item 2). For sigma without the z -> -z symmetry the
// directions do not decouple; the leading order (Theory A) is then off by 0.1-0.13 in q_1 at
// alpha = 20, at every d (model error), while Theory B's deviation is finite-size and shrinks.
//
// Measurement: relu, quadratic-relu and a Hermite series with odd terms (hermite:0,1,1,0.5),
// p = 3, gamma = 1, Delta = 0.1, T = clip(3), alpha = 20, the law-exact Krylov engine (its law
// is the direct estimator's: verify/test_krylov_law) at d = 1000 and 2000, 5 seeds each;
// overlaps of the directions Theory B puts above 0.3.
// Tolerance at each d: t_4 SE + 0.03 sqrt(1000/d) + 3 err_B (C2's finite-size allowance, with
// Student's t for 5 seeds). Wrong prediction, judged by the same rule at d = 2000: Theory A
// (the decoupled leading order), which must fail on every model. Recorded: the deviation of
// the simulation from each theory at both d.
#define BOOST_TEST_MODULE theory_b_noneven
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "estimators/krylov.hpp"
#include "theory/spectral.hpp"
#include "verify/check.hpp"

using namespace hmi;

namespace {

constexpr double kAlpha = 20;
const std::vector<int> kDims{1000, 2000};
constexpr int kSeeds = 5;

theory::ModelConfig model(const std::string& activation) {
  theory::ModelConfig m;
  m.activation = activation;
  m.p = 3;
  m.gamma = 1.0;
  m.noise = 0.1;
  m.preprocess = "clip:3";
  return m;
}

// q_k over seeds at one d (the Krylov engine's converged pairs).
std::vector<std::vector<double>> measure(const theory::ModelConfig& base, int d, double up, double lo) {
  std::vector<std::vector<double>> q(base.p);
  for (auto seed : verify::seeds(kSeeds)) {
    auto m = base;
    m.seed = seed;
    const auto t = est::make_teacher(m, d);
    // 60 blocks: an outlier 8 % above the edge (hermite:0,1,1,0.5, k = 2) needs ~50 to converge
    // (at 24 the engine reports it unconverged, overlap 0: measured q_2 = 0.001 at d = 4000).
    est::KrylovConfig kc{.d = d, .alpha = kAlpha, .threads = 2, .max_blocks = 60};
    kc.edge_upper = up;
    kc.edge_lower = lo;
    const auto r = est::run_krylov(t, kc);
    BOOST_REQUIRE(r.stop_reason != "non_finite");
    for (int k = 0; k < base.p; ++k) q[k].push_back(r.metrics.overlap[k]);
  }
  return q;
}

}  // namespace

BOOST_AUTO_TEST_CASE(noneven_theory_b_matches_simulation_theory_a_does_not) {
  for (const std::string act : {"relu", "quadratic-relu", "hermite:0,1,1,0.5"}) {
    const auto m = model(act);
    const auto B = theory::predict_spectral(m, {kAlpha}, theory::Method::exact);
    const auto A = theory::predict_spectral(m, {kAlpha}, theory::Method::leading);
    BOOST_TEST_REQUIRE((B.method == theory::Method::exact), act << ": Theory B must apply (bounded T)");
    reports::ClaimReport r, wrong;
    r.claim = wrong.claim = "C2.noneven";
    r.title = "non-even sigma: overlaps match the p x p Theory B (" + act + ")";
    r.tolerance_reason = "t_4 SE (Student, 5 seeds) + 0.03 sqrt(1000/d) + 3 err_B";
    r.config = {{"model", m}, {"alpha", kAlpha}, {"d", kDims}, {"seeds", kSeeds}, {"engine", "krylov"}};
    r.seeds = verify::seeds(kSeeds);
    nlohmann::json devs = nlohmann::json::array();
    for (int d : kDims) {
      const auto q = measure(m, d, B.curve[0].bulk_edge.value, B.curve[0].bulk_edge_lower.value);
      for (int k = 0; k < m.p; ++k) {
        const auto& e = B.curve[0].overlap[k];
        if (e.value < 0.3) continue;  // near or below threshold: finite-d smoothing, C2's business
        const auto st = verify::stats(q[k]);
        const double tol = verify::t_sigmas(st.n) * st.se + 0.03 * std::sqrt(1000.0 / d) + 3 * e.error;
        const std::string label = "q_" + std::to_string(k + 1) + " d=" + std::to_string(d);
        r.check(label, d, st.mean, st.se, e.value, tol);
        if (d == kDims.back()) wrong.check(label, d, st.mean, st.se, A.curve[0].overlap[k].value, tol);
        devs.push_back({{"k", k + 1}, {"d", d}, {"measured", st.mean}, {"se", st.se}, {"theory_B", e.value},
                        {"theory_A", A.curve[0].overlap[k].value}});
        BOOST_TEST_MESSAGE(act << " " << label << ": simulated " << st.mean << " +- " << st.se << ", Theory B " << e.value
                               << ", Theory A " << A.curve[0].overlap[k].value);
      }
    }
    r.extra["deviations"] = devs;
    r.reject("Theory A (decoupled leading order)", wrong);
    verify::check_rejections(r, "C2.noneven " + act);
    verify::print_failures(r);
    std::string name = "C2_noneven_" + act;
    for (auto& c : name)
      if (c == ':' || c == ',') c = '_';
    BOOST_TEST(verify::write_report(r, name));
  }
}

// C5 (THEORY.md sections 5 and 8): the spectral thresholds are rate-optimal. alpha_k(spectral)
// and alpha_k(oracle) follow the same law k^(2 gamma), so their ratio stays bounded and converges
// to a constant; and the gap between them is real: between alpha_k(oracle) and alpha_k(spectral)
// the spectral estimator shows no outlier for direction k.
//
// Measurement, theory side (deterministic up to the stated Monte Carlo errors):
//   he2, p = 1000, Delta = 0.5, normalized amplitudes, k on a log grid up to 1000:
//   * T = identity, gamma in {0.75, 1, 1.5}: Theory A in closed form; oracle thresholds by 2-D
//     quadrature (theory/information.hpp, relative error < 1e-6);
//   * T = clip:3, gamma = 1: Theory B by Monte Carlo with control variates (theory/rate.hpp;
//     2^18 samples, ~1-2% error on alpha_k at every k), cross-checked against theory/spectral's
//     Theory B (independent sample, plain Monte Carlo) at k <= 16.
//   Exponents fitted over k in [100, 1000]; the ratio compared at each k there with its predicted
//   limit L = Var T / (Delta E[T'(y)]^2) (identity: Var y / Delta = 3).
// Measurement, simulation side: he2, p = 4, gamma = 1, Delta = 0.1, T = clip:3 (Theory B exact;
// the oracle thresholds lie 7x and 12x below alpha_2 and alpha_3), d = 1000, 4 seeds
// (1000 master + i), top-20 eigenvalues; alpha in {0.35, 0.65, 1.5, 2} alpha_k for k = 2, 3
// (0.35 and 0.65 alpha_k lie 2.4-7.6x above the oracle thresholds: inside the gap).
//
// Tolerances (reasons in verify/claims/rate.cpp):
//   exponents: 3 x (numerical error propagated through the fit) + 0.01 (identity: the oracle's
//     weak-signal correction 2 gamma |c| lambda^2/Delta <= 4e-3 at k = 100) or + 0.03 (clip:
//     Theory B's O(lambda_k) correction to Theory A, ~0.01 in local slope at k = 100);
//   ratio: 3 x combined error + 1% (identity) or 3% (clip) of L, the same corrections;
//   bracket: a run has an outlier for direction k when >= k eigenvalues lie beyond the predicted
//     edge x (1 + 2 d^-2/3) and a top eigenvector has q_k >= 0.1; the fraction of seeds with one
//     is compared with 0 at 0.65 alpha_k and 1 at 2 alpha_k within 0.5 (compare_spectrum's rule
//     for a mean count). At 1.5 alpha_k the predicted outlier is within the d = 1000 fluctuation of
//     the edge, so there the eigenvector is checked: mean q_k >= 0.1 (0.015-0.075 below threshold);
//     at 2 alpha_k the overlap is also compared with Theory B (C2's tolerance 3 SE + 0.03
//     sqrt(1000/d); at 1.5 alpha_k finite-d smoothing biases q_k low by 0.03-0.08).
// Wrong predictions that must be rejected: exponent 2 gamma x 1.2; oracle thresholds x 0.5
// (their weak-signal law, hence the ratio's limit x 2); "the spectral estimator attains the
// oracle threshold"; Theory B with mu_2 x 2 or gamma x 2, through the same simulation-side
// comparison as the truth (bracket counts with its thresholds, and overlaps against its own
// Theory B where alpha >= 1.5 of its alpha_k). The counts alone missed mu_2 x 2 in 7 of 20
// master seeds (calibration): with T = clip:3 it lowers alpha_2, alpha_3 by only 28% (4.49 ->
// 3.26, 10.0 -> 7.09), inside the bracket's factor-3 resolution (0.65 .. 2 alpha_k); with the
// overlaps it is rejected 20/20. Known blind spots, recorded but not asserted: mu_2 x 1.2
// (alpha_k x 0.89: q_k at 2 alpha_k moves by less than 3 SE + 0.03 of 4 seeds; rejected 2/20)
// and gamma x 1.2 (alpha_2, alpha_3 x 1.23, 1.39: the cells fall between its 0.65 and 2 alpha_k,
// where only "found" is checked; 0/20). Seeing them would take cells at 0.8-1.2 alpha_k with
// d ~ 10^4 (edge fluctuation d^-2/3 << 20%). The theory side rejects a 20% exponent error
// instead. Calibration (hmi calibrate, master seeds 1-20): no false alarm.
#define BOOST_TEST_MODULE c5_rate_optimality
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "theory/rate.hpp"
#include "theory/spectral.hpp"
#include "verify/check.hpp"
#include "verify/claims/rate.hpp"
#include "verify/claims/spectral.hpp"

using namespace hmi;

namespace {

constexpr int kP = 1000;
constexpr int kD = 1000;
constexpr int kSeeds = 4;
constexpr int kTop = 20;

theory::ModelConfig rate_model(double gamma, const std::string& T) {
  theory::ModelConfig m;
  m.activation = "he2";
  m.p = kP;
  m.gamma = gamma;
  m.noise = 0.5;
  m.preprocess = T;
  return m;
}

theory::ModelConfig sim_model() {
  theory::ModelConfig m;
  m.activation = "he2";
  m.p = 4;
  m.gamma = 1.0;
  m.noise = 0.1;
  m.preprocess = "clip:3";
  return m;
}

struct TheoryCase {
  std::string name;
  theory::RateSequence seq;
  verify::RateWindow window;
  theory::ModelConfig model;
};

// Measured once: the rate sequences.
const std::vector<TheoryCase>& theory_cases() {
  static const std::vector<TheoryCase> cases = [] {
    std::vector<TheoryCase> out;
    for (double g : {0.75, 1.0, 1.5}) {
      const auto m = rate_model(g, "identity");
      out.push_back({"identity gamma=" + theory::short_number(g), theory::rate_sequence(m, theory::k_grid(kP, 12)),
                     {.k_lo = 100, .k_hi = 1000, .slope_margin = 0.01, .ratio_margin = 0.01}, m});
    }
    const auto m = rate_model(1.0, "clip:3");
    out.push_back({"clip:3 gamma=1 (Theory B)", theory::rate_sequence(m, theory::k_grid(kP, 8)),
                   {.k_lo = 100, .k_hi = 1000, .slope_margin = 0.03, .ratio_margin = 0.03}, m});
    return out;
  }();
  return cases;
}

// Adds every theory check for the given expectations; returns the verdict.
bool theory_checks(reports::ClaimReport& r, double exponent_factor, double oracle_factor) {
  bool ok = true;
  for (const auto& c : theory_cases()) {
    verify::RateExpectation e{2 * c.model.gamma * exponent_factor, c.seq.ratio_limit};
    e.ratio_limit.value /= oracle_factor;  // an oracle law x f moves the ratio's limit by 1/f
    ok &= verify::check_rate(r, c.name, c.seq, e, c.window);
    ok &= verify::check_oracle_law(r, c.name, c.model, c.seq, oracle_factor, c.window, c.window.ratio_margin);
  }
  return ok;
}

// ---- simulation side ------------------------------------------------------------------------

theory::SpectralPrediction theory_B(const theory::ModelConfig& m, const std::vector<double>& alphas,
                                    std::uint64_t samples = 1u << 20, bool montecarlo = false) {
  theory::TheoryOptions opt;
  opt.mc_samples = samples;
  if (montecarlo) opt.theory_method = theory::TheoryMethod::montecarlo;
  return theory::predict_spectral(m, alphas, theory::Method::exact, opt);
}

std::vector<double> thresholds_of(const theory::SpectralPrediction& p) {
  std::vector<double> t;
  for (const auto& d : p.directions) t.push_back(d.alpha_threshold.value);
  return t;
}

struct Simulation {
  std::vector<double> thresholds, threshold_errors, oracle;
  theory::SpectralPrediction at_cells;  // Theory B at every cell's alpha
  std::vector<verify::BracketCell> cells;
  std::vector<double> factors;  // alpha / alpha_k of each cell
};

const Simulation& simulation() {
  static const Simulation sim = [] {
    Simulation s;
    const auto m = sim_model();
    const auto truth = theory_B(m, {1.0});
    s.thresholds = thresholds_of(truth);
    for (const auto& d : truth.directions) s.threshold_errors.push_back(d.alpha_threshold.error);
    for (const auto& d : theory::information_thresholds(m, m.p)) s.oracle.push_back(d.oracle.alpha_c);
    std::vector<double> alphas;
    for (int k : {2, 3})
      for (double f : {0.35, verify::kBelow, 1.5, verify::kAbove}) {
        alphas.push_back(f * s.thresholds[k - 1]);
        s.cells.push_back({k, alphas.back(), 0.0, {}});
        s.factors.push_back(f);
      }
    s.at_cells = theory_B(m, alphas);
    for (std::size_t i = 0; i < s.cells.size(); ++i) {
      auto& c = s.cells[i];
      c.edge = s.at_cells.curve[i].bulk_edge.value;
      for (auto seed : verify::seeds(kSeeds)) c.runs.push_back(verify::simulate_once(m, kD, c.alpha, seed, kTop));
      BOOST_TEST_MESSAGE("measured k=" << c.k << " alpha=" << c.alpha << " (" << c.runs.size() << " seeds)");
    }
    return s;
  }();
  return sim;
}

}  // namespace

// Theory B with control variates (theory/rate) against theory/spectral's Theory B (plain Monte
// Carlo on an independent sample): same equations, so they must agree within their errors
// (|difference| <= 3.5 combined standard errors at each of k = 1..16; 16 comparisons).
BOOST_AUTO_TEST_CASE(control_variates_reproduce_theory_B) {
  const auto t0 = std::chrono::steady_clock::now();
  theory::ModelConfig m = rate_model(1.0, "clip:3");
  m.p = 16;
  std::vector<int> ks;
  for (int k = 1; k <= 16; ++k) ks.push_back(k);
  // Both Monte Carlo paths (the default is now the deterministic quadrature, test_theory_b).
  const auto cv = theory::spectral_thresholds(m, ks, theory::RateOptions{.quadrature_law = false});
  const auto ref = theory_B(m, {1.0}, 1u << 20, true);
  for (int k = 1; k <= 16; ++k) {
    const auto& a = cv.directions[k - 1].alpha_exact;
    const auto& b = ref.directions[k - 1].alpha_threshold;
    BOOST_TEST(std::abs(a.value - b.value) <= 3.5 * std::hypot(a.error, b.error),
               "k = " << k << ": control variates " << a.value << " +- " << a.error << ", plain " << b.value << " +- "
                      << b.error);
  }
  // The point of the control variates: at k = 16 the error is several times smaller with 4x fewer samples.
  BOOST_TEST(cv.directions[15].alpha_exact.error < ref.directions[15].alpha_threshold.error);
  BOOST_TEST_MESSAGE("control variates vs plain Theory B: " << verify::seconds_since(t0) << " s");
}

BOOST_AUTO_TEST_CASE(C5_rate_optimality) {
  const auto t0 = std::chrono::steady_clock::now();
  reports::ClaimReport r;
  r.claim = "C5";
  r.title = "Spectral thresholds are rate-optimal: same exponent 2 gamma as the oracle thresholds, bounded converging "
            "ratio, and no outlier in the gap between them";
  r.tolerance_reason =
      "exponents: 3 x propagated numerical error + 0.01 (identity: oracle weak-signal correction <= 4e-3 at k = 100) or "
      "+ 0.03 (clip: Theory B's O(lambda_k) correction); ratio: 3 x combined error + 1% (identity) / 3% (clip) of the "
      "limit; bracket: a run has an outlier for k when >= k eigenvalues lie beyond edge (1 + 2 d^-2/3) and q_k >= 0.1; "
      "fraction of seeds with one within 0.5 of 0 at 0.65 alpha_k and of 1 at 2 alpha_k; eigenvector: mean q_k >= 0.1 at 1.5 alpha_k, q_k vs Theory B at 2 alpha_k within 3 sqrt(SE^2 + err^2) + "
      "0.03 sqrt(1000/d)";

  // -- theory side
  BOOST_TEST(theory_checks(r, 1.0, 1.0));
  const double t_theory = verify::seconds_since(t0);
  nlohmann::json seqs = nlohmann::json::object();
  for (const auto& c : theory_cases()) {
    auto j = verify::rate_json(c.seq);
    double sup = 0;
    int k_sup = 0;
    for (const auto& p : c.seq.points)
      if (p.ratio_oracle.value > sup) {
        sup = p.ratio_oracle.value;
        k_sup = p.k;
      }
    j["sup_ratio"] = sup;
    j["k_of_sup"] = k_sup;
    j["model"] = c.model;
    seqs[c.name] = j;
    BOOST_TEST_MESSAGE(c.name << ": ratio limit " << c.seq.ratio_limit.value << " +- " << c.seq.ratio_limit.error
                              << ", sup_k ratio " << sup << " at k = " << k_sup);
  }
  r.extra["rate_sequences"] = seqs;

  // -- simulation side
  const auto t1 = std::chrono::steady_clock::now();
  const Simulation& sim = simulation();
  const auto bracket = verify::compare_bracket(sim.cells, sim.thresholds, sim.oracle);
  for (const auto& p : bracket.points) r.record(p);
  r.seeds = bracket.seeds;
  nlohmann::json overlaps = nlohmann::json::array();
  std::vector<theory::Estimate> predicted;
  for (std::size_t i = 0; i < sim.cells.size(); ++i) {
    const auto& c = sim.cells[i];
    std::vector<double> q;
    for (const auto& run : c.runs) q.push_back(run.overlap[c.k - 1]);
    const auto st = verify::stats(q);
    const auto& pred = sim.at_cells.curve[i].overlap[c.k - 1];
    predicted.push_back(pred);
    overlaps.push_back({{"k", c.k}, {"alpha", c.alpha}, {"alpha_over_alpha_k", sim.factors[i]},
                        {"alpha_over_alpha_oracle", c.alpha / sim.oracle[c.k - 1]}, {"q_mean", st.mean}, {"q_se", st.se},
                        {"q_per_seed", q}, {"q_theory_B", pred.value}});
  }
  BOOST_TEST(verify::check_bracket_overlaps(r, sim.cells, sim.thresholds, predicted));
  r.extra["overlaps"] = overlaps;
  r.extra["simulation"] = {{"model", sim_model()}, {"d", kD}, {"top", kTop},
                           {"alpha_k_theory_B", sim.thresholds}, {"alpha_k_error", sim.threshold_errors},
                           {"alpha_k_oracle", sim.oracle}};
  const double t_sim = verify::seconds_since(t1);

  // -- wrong predictions
  // Not asserted = a known blind spot at these sizes (reported by hmi calibrate as such).
  auto reject = [&](const std::string& name, bool passed, bool asserted) {
    r.reject(name, !passed, asserted ? reports::WrongPrediction::Kind::asserted : reports::WrongPrediction::Kind::blind_spot);
  };
  {
    reports::ClaimReport w;
    reject("exponent 2 gamma x 1.2", theory_checks(w, 1.2, 1.0), true);
  }
  {
    reports::ClaimReport w;
    reject("oracle thresholds x 0.5", theory_checks(w, 1.0, 0.5), true);
  }
  reject("spectral attains the oracle threshold", verify::compare_bracket(sim.cells, sim.oracle).pass(), true);
  // A wrong model goes through the same simulation-side comparison as the truth: the bracket
  // counts with its thresholds, and the overlaps where alpha >= 1.5 of its alpha_k against its
  // own Theory B overlaps at the cells.
  std::vector<double> cell_alphas;
  for (const auto& c : sim.cells) cell_alphas.push_back(c.alpha);
  auto bracket_with = [&](const std::string& name, const std::function<void(theory::ModelConfig&)>& change, bool asserted) {
    auto m = sim_model();
    change(m);
    const auto wrong_B = theory_B(m, cell_alphas, 1u << 19);
    const auto thr = thresholds_of(wrong_B);
    auto w = verify::compare_bracket(sim.cells, thr);
    std::vector<theory::Estimate> q;
    for (std::size_t i = 0; i < sim.cells.size(); ++i) q.push_back(wrong_B.curve[i].overlap[sim.cells[i].k - 1]);
    verify::check_bracket_overlaps(w, sim.cells, thr, q);
    reject(name, w.pass(), asserted);
  };
  const double c2 = std::sqrt(2.0);  // he2 = hermite:0,0,sqrt(2)
  bracket_with("mu_2 x 2", [&](theory::ModelConfig& m) { m.activation = "hermite:0,0," + theory::short_number(2 * c2); }, true);
  bracket_with("gamma x 2", [](theory::ModelConfig& m) { m.gamma *= 2; }, true);
  bracket_with("mu_2 x 1.2", [&](theory::ModelConfig& m) { m.activation = "hermite:0,0," + theory::short_number(1.2 * c2); }, false);
  bracket_with("gamma x 1.2", [](theory::ModelConfig& m) { m.gamma *= 1.2; }, false);
  verify::check_rejections(r, "C5");
  r.extra["seconds"] = {{"theory", t_theory}, {"simulation", t_sim}, {"total", verify::seconds_since(t0)}};
  r.config = {{"rate_models", {rate_model(1.0, "identity"), rate_model(1.0, "clip:3")}},
              {"gammas_identity", {0.75, 1.0, 1.5}},
              {"kmax", kP},
              {"rate_mc_samples", theory::RateOptions{}.mc_samples},
              {"simulation_model", sim_model()},
              {"d", kD},
              {"bracket", {0.35, verify::kBelow, 1.5, verify::kAbove}}};
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, "C5_rate_optimality"));
  BOOST_TEST_MESSAGE("C5: " << r.points.size() << " points, pass = " << r.pass() << "; theory " << t_theory
                            << " s, simulation " << t_sim << " s");
}

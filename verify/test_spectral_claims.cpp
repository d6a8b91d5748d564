// C2 (overlap curves) and C3 (spectral structure) of THEORY.md section 8, against Theory B.
// One binary for both claims so the simulations are measured once and compared twice.
//
// Model: he2, p = 5, gamma = 1, Delta = 0.5, T = clip(3) (bounded and even: Theory B is exact
// in the proportional limit). Predicted thresholds alpha_k = 1.07, 5.07, 11.6, 20.1, 29.9.
// Measurement: top-40 eigenpairs of M at d = 500 (6 seeds), 1000 (4 seeds), 2000 (3 seeds);
// alpha in {3, 7.6, 10, 24} (d = 2000: {3, 7.6}). Seeds 1000*master + i ($HMI_MASTER_SEED).
//
// Tolerances and the comparison points are those of verify/claims/spectral.cpp (shared with
// `hmi reproduce`; the reasons and the measured finite-size drift are written there):
// 3 sigma of the mean over seeds plus Theory B's own Monte Carlo error, plus a finite-size
// allowance (overlaps: d^(-1/3) alpha_k/alpha + 0.01 sqrt(500/d); outliers 0.04 sqrt(1000/d);
// edges 3 d^(-2/3) |edge|). Points near thresholds (0.6 - 1.5 alpha_k) and spikes whose
// eigenvectors mix are not compared. The overlap drift across d is part of C2.
// T = identity is compared with Theory A at alpha >> log n (C2b, see below).
// Wrong predictions: Theory B for gamma x 1.2, mu_2 x 1.2 (the he2 Hermite series scaled),
// Delta x 2; each must be rejected unless listed as a known blind spot (reported).
#define BOOST_TEST_MODULE spectral_claims
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "theory/spectral.hpp"
#include "verify/check.hpp"
#include "verify/claims/spectral.hpp"

using namespace hmi;

namespace {

constexpr int kTop = 40;

theory::ModelConfig base_model() {
  theory::ModelConfig m;
  m.activation = "he2";
  m.p = 5;
  m.gamma = 1.0;
  m.noise = 0.5;
  m.preprocess = "clip:3";
  return m;
}

const std::vector<double> kAlphas{3.0, 7.6, 10.0, 24.0};
std::vector<double> alphas_for(int d) { return d >= 2000 ? std::vector<double>{3.0, 7.6} : kAlphas; }
int seeds_for(int d) { return d <= 500 ? 6 : (d <= 1000 ? 4 : 3); }

// Measured once, compared many times.
const std::vector<verify::Cell>& measurements() {
  static const std::vector<verify::Cell> cells = [] {
    std::vector<verify::Cell> out;
    for (int d : {500, 1000, 2000})
      for (double a : alphas_for(d)) {
        verify::Cell c{d, a, {}};
        for (auto seed : verify::seeds(seeds_for(d))) c.runs.push_back(verify::simulate_once(base_model(), d, a, seed, kTop));
        BOOST_TEST_MESSAGE("measured d=" << d << " alpha=" << a << " (" << c.runs.size() << " seeds)");
        out.push_back(std::move(c));
      }
    return out;
  }();
  return cells;
}

theory::SpectralPrediction predict(const theory::ModelConfig& m, std::uint64_t samples = 1u << 20) {
  theory::TheoryOptions opt;
  opt.mc_samples = samples;
  return theory::predict_spectral(m, kAlphas, theory::Method::exact, opt);
}

// Blind spots are declared with the wrong models (verify/claims/spectral.cpp), so this suite
// and `hmi reproduce` report them alike.
void run_claim(const std::string& name, verify::SpectralCompare compare) {
  const auto& cells = measurements();
  const auto truth = predict(base_model());
  std::vector<std::pair<std::string, theory::SpectralPrediction>> wrong;
  for (const auto& w : verify::wrong_predictions()) {
    auto m = base_model();
    w.change(m);
    wrong.emplace_back(w.name, predict(m, 1u << 19));
  }
  auto r = verify::judge_spectral(cells, truth, wrong, compare);
  r.config = {{"model", base_model()}, {"d", {500, 1000, 2000}}, {"alpha", kAlphas}, {"top", kTop},
              {"theory_samples", 1 << 20}, {"theory_numerical_error", truth.numerical_error}};
  verify::check_rejections(r, name);
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, name));
  BOOST_TEST_MESSAGE(name << ": " << r.points.size() << " points, pass = " << r.pass());
}

std::string label(int k, int d, double a) {
  std::ostringstream s;
  s << "q_" << k << " d=" << d << " alpha=" << a;
  return s.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(C2_overlaps_match_theory_B) { run_claim("C2_overlaps", verify::compare_overlaps); }

BOOST_AUTO_TEST_CASE(C3_spectrum_matches_theory_B) { run_claim("C3_spectrum", verify::compare_spectrum); }

// C2b: unbounded T = identity against Theory A at alpha >> log n (section 4's caveat).
// p = 8, Delta = 1 puts the thresholds at 1.4 k^2 (alpha_8 ~ 92), so alpha = 150 and 600
// (log n = 10.7, 12.1) see overlaps from 0.4 to 1: sensitive to gamma, mu_2 and Delta.
// Theory A's own next-order error is estimated by the exact theory for the nearby bounded
// preprocessing clip(10): |q_B - q_A| at clip(10) is added to the tolerance (a size of the
// O(1/alpha) corrections, not a claim that clip(10) equals the identity: he2 labels have
// chi-square tails, P(y > 10) ~ 1e-5). Only points with alpha >= 5 alpha_k are compared.
// Measured (d = 300, 4 seeds): simulation sits 0.004-0.09 *below* Theory A, in line with
// Theory B; the allowances (finite size 0.055 plus next-order 0.01-0.1) are as large as
// the effect of a 20% error in gamma, mu_2 or Delta, so those are recorded, not asserted.
// Asserted rejection: the gross error Delta x 4 (mu_2 x 2 is recorded: 18/20 in calibration). The sharp test of the same
// estimator is C2 above (Theory B, which rejects the 20% errors).
BOOST_AUTO_TEST_CASE(C2b_identity_matches_theory_A) {
  theory::ModelConfig m;
  m.p = 8;
  m.noise = 1.0;
  const int d = 300;
  const std::vector<double> alphas{150.0, 600.0};
  theory::ModelConfig clipped = m;
  clipped.preprocess = "clip:10";
  theory::TheoryOptions opt;
  opt.mc_samples = 1 << 19;
  const auto exact = theory::predict_spectral(clipped, alphas, theory::Method::exact, opt);
  const auto lead = theory::predict_spectral(clipped, alphas, theory::Method::leading, opt);
  const auto ref = theory::predict_spectral(m, alphas, theory::Method::leading);
  auto compare = [&](const theory::SpectralPrediction& pred, const std::vector<std::vector<double>>& q) {
    reports::ClaimReport r;
    r.claim = "C2";
    r.title = "T = identity: overlaps match Theory A at alpha >> log n";
    r.tolerance_reason = "3 SE + d^(-1/3) alpha_k/alpha + 0.01 sqrt(500/d) (finite size) + |q_B - q_A| at clip(10) (Theory A's next-order error)";
    for (std::size_t a = 0; a < alphas.size(); ++a)
      for (int k = 0; k < m.p; ++k) {
        // Theory A is a statement about alpha >> alpha_k (section 3): points with alpha < 5
        // alpha_k (of the prediction under test) are left to Theory B.
        if (alphas[a] < 5 * ref.directions[k].alpha_threshold.value) continue;
        std::vector<double> v;
        for (const auto& run : q) v.push_back(run[a * m.p + k]);
        const auto st = verify::stats(v);
        const double trunc = std::abs(exact.curve[a].overlap[k].value - lead.curve[a].overlap[k].value) +
                             3 * exact.curve[a].overlap[k].error;
        r.check(label(k + 1, d, alphas[a]), alphas[a], st.mean, st.se, pred.curve[a].overlap[k].value,
                3 * st.se + verify::delta_overlap(d, alphas[a], ref.directions[k].alpha_threshold.value) + trunc);
      }
    return r;
  };
  const auto seeds = verify::seeds(4);
  std::vector<std::vector<double>> q;
  for (auto s : seeds) {
    std::vector<double> row;
    for (double a : alphas) {
      const auto run = verify::simulate_once(m, d, a, s, 24);
      row.insert(row.end(), run.overlap.begin(), run.overlap.end());
    }
    q.push_back(row);
  }
  auto r = compare(ref, q);
  r.seeds = seeds;
  r.config = {{"model", m}, {"d", d}, {"alpha", alphas}};
  std::vector<verify::WrongModel> wrong_here = verify::wrong_predictions();
  wrong_here.push_back({"mu_2 x 2", [](theory::ModelConfig& m) { m.activation = "hermite:0,0," + std::to_string(2 * std::sqrt(2.0)); }});
  wrong_here.push_back({"Delta x 4", [](theory::ModelConfig& m) { m.noise *= 4; }});
  for (const auto& w : wrong_here) {
    auto mw = m;
    w.change(mw);
    const auto bad = compare(theory::predict_spectral(mw, alphas, theory::Method::leading), q);
    // Calibration (20 master seeds): Delta x 4 rejected 20/20, mu_2 x 2 18/20: only the former
    // is asserted; the others are recorded.
    r.reject(w.name, bad, w.name == "Delta x 4" ? reports::WrongPrediction::Kind::asserted : reports::WrongPrediction::Kind::recorded);
  }
  verify::check_rejections(r, "C2_identity");
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, "C2_identity"));
}

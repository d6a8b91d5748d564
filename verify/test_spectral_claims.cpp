// C2 (overlap curves) and C3 (spectral structure) of THEORY.md section 8, against Theory B.
// One binary for both claims so the simulations are measured once and compared twice.
//
// Model: he2, p = 5, gamma = 1, Delta = 0.5, T = clip(3) (bounded and even: Theory B is exact
// in the proportional limit). Predicted thresholds alpha_k = 1.07, 5.07, 11.6, 20.1, 29.9.
// Measurement: top-40 eigenpairs of M at d = 500 (6 seeds), 1000 (4 seeds), 2000 (3 seeds);
// alpha in {3, 7.6, 10, 24} (d = 2000: {3, 7.6}). Seeds 1000*master + i ($HMI_MASTER_SEED).
//
// Tolerances (|mean over seeds - prediction| <= tolerance):
//   statistical part: 3 sqrt(SE_seeds^2 + err_theory^2)  (3 sigma of the mean over seeds,
//     plus the Monte Carlo error bar Theory B reports for itself);
//   finite-size part: overlaps delta_q(d) = 0.03 sqrt(1000/d), outlier eigenvalues
//     delta_nu(d) = 0.04 sqrt(1000/d): THEORY section 4's independent check found 0.03 and
//     0.04 at d = 1000 away from thresholds; a spike's overlap and eigenvalue fluctuate on
//     the 1/sqrt(d) scale; bulk edges delta_e(d) = 3 d^(-2/3) |edge| (Tracy-Widom scale of
//     the largest bulk eigenvalue). Drift measured at three sizes (master seed 1): RMS
//     deviation of the overlaps 0.036 / 0.025 / 0.013 and of the outliers 0.022 / 0.016 /
//     0.025 (2 points) at d = 500 / 1000 / 2000, so delta_q is ~1.2x the measured bias.
// Points near a threshold (0.6 alpha_k < alpha < 1.5 alpha_k) are not compared: there the
// finite-d curve is smoothed over a window ~ d^(-1/3) (THEORY section 3). Below threshold
// (alpha <= 0.6 alpha_k) the prediction is q_k = 0 with the same finite-size allowance.
// Finite-size drift: the RMS deviation over the above-threshold points at the largest d must
// not exceed the one at the smallest d (allowance: 3 SE of the difference).
// T = identity is compared with Theory A at alpha >> log n (C2b), allowing Theory A's own
// O(1/alpha) error, 2/alpha (measured 1.4/alpha in test_theory).
// Wrong predictions that must be rejected: Theory B for gamma x 1.2, for mu_2 x 1.2 (the he2
// Hermite series scaled), for Delta x 2.
#define BOOST_TEST_MODULE spectral_claims
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "theory/spectral.hpp"
#include "verify/check.hpp"
#include "verify/spectral_sweep.hpp"

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
double delta_q(int d) { return 0.03 * std::sqrt(1000.0 / d); }
double delta_nu(int d) { return 0.04 * std::sqrt(1000.0 / d); }
double delta_edge(int d, double edge) { return 3.0 * std::pow(double(d), -2.0 / 3.0) * std::abs(edge); }

// Measured once: every (d, alpha) cell with its runs over seeds.
struct Cell {
  int d;
  double alpha;
  std::vector<verify::SpectralRun> runs;
};

struct Measurements {
  std::vector<Cell> cells;
  std::vector<std::uint64_t> seeds;
  Measurements() {
    const auto m = base_model();
    for (int d : {500, 1000, 2000}) {
      const auto s = verify::seeds(seeds_for(d));
      if (s.size() > seeds.size()) seeds = s;
      for (double a : alphas_for(d)) {
        Cell c{d, a, {}};
        for (auto seed : s) c.runs.push_back(verify::simulate_once(m, d, a, seed, kTop));
        BOOST_TEST_MESSAGE("measured d=" << d << " alpha=" << a << " (" << s.size() << " seeds)");
        cells.push_back(std::move(c));
      }
    }
  }
};

const Measurements& measurements() {
  static const Measurements m;
  return m;
}

theory::SpectralPrediction predict(const theory::ModelConfig& m, std::uint64_t samples = 1u << 20) {
  theory::TheoryOptions opt;
  opt.mc_samples = samples;
  return theory::predict_spectral(m, kAlphas, theory::Method::exact, opt);
}

std::size_t alpha_index(double a) { return std::size_t(std::find(kAlphas.begin(), kAlphas.end(), a) - kAlphas.begin()); }

std::string label(const char* what, int k, int d, double a) {
  std::ostringstream s;
  s << what << k << " d=" << d << " alpha=" << a;
  return s.str();
}

// Where a direction sits relative to its predicted threshold.
enum class Side { below, near, above };
Side side(double alpha, double threshold) {
  if (alpha >= 1.5 * threshold) return Side::above;
  if (alpha <= 0.6 * threshold) return Side::below;
  return Side::near;
}

// --- C2: overlaps --------------------------------------------------------------------------
reports::ClaimReport compare_overlaps(const Measurements& meas, const theory::SpectralPrediction& pred,
                                     const theory::SpectralPrediction& ref) {
  reports::ClaimReport r;
  r.claim = "C2";
  r.title = "Overlap curves q_k(alpha) of the spectral estimator match Theory B (T = clip(3))";
  r.seeds = meas.seeds;
  r.tolerance_reason =
      "3 sqrt(SE_seeds^2 + theory MC error^2) + 0.03 sqrt(1000/d) (finite-size scale 1/sqrt(d), "
      "0.03 at d=1000 from an independent check); points with 0.6 alpha_k < alpha < 1.5 alpha_k skipped "
      "(threshold smoothing ~ d^-1/3)";
  std::map<int, std::vector<double>> dev2;  // d -> squared deviations above threshold (alpha 3, 7.6)
  std::map<int, std::vector<double>> se2;
  for (const auto& c : meas.cells) {
    const auto& pt = pred.curve[alpha_index(c.alpha)];
    for (int k = 0; k < 5; ++k) {
      const Side s = side(c.alpha, ref.directions[k].alpha_threshold.value);
      if (s == Side::near) continue;
      std::vector<double> q;
      for (const auto& run : c.runs) q.push_back(run.overlap[k]);
      const auto st = verify::stats(q);
      const double expected = pt.overlap[k].value;
      const double tol = 3 * std::hypot(st.se, pt.overlap[k].error) + delta_q(c.d);
      r.check(label(s == Side::above ? "q_" : "q_(below) ", k + 1, c.d, c.alpha), c.alpha, st.mean, st.se, expected, tol);
      if (s == Side::above && (c.alpha == 3.0 || c.alpha == 7.6)) {
        dev2[c.d].push_back((st.mean - expected) * (st.mean - expected));
        se2[c.d].push_back(st.se * st.se);
      }
    }
  }
  // Finite-size drift: RMS deviation at the largest d <= at the smallest d (+ noise allowance).
  auto rms = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return std::sqrt(s / double(v.size()));
  };
  const int dmin = dev2.begin()->first, dmax = dev2.rbegin()->first;
  const double noise = 3 * std::sqrt(rms(se2[dmin]) * rms(se2[dmin]) + rms(se2[dmax]) * rms(se2[dmax]));
  nlohmann::json drift = nlohmann::json::object();
  for (const auto& [d, v] : dev2) drift[std::to_string(d)] = rms(v);
  r.extra["rms_deviation_above_threshold_by_d"] = drift;
  r.record({"rms deviation d=" + std::to_string(dmax) + " vs d=" + std::to_string(dmin), double(dmax), rms(dev2[dmax]),
            rms(se2[dmax]), rms(dev2[dmin]), noise, rms(dev2[dmax]) <= rms(dev2[dmin]) + noise});
  return r;
}

// --- C3: bulk edge, outliers, count ---------------------------------------------------------
reports::ClaimReport compare_spectrum(const Measurements& meas, const theory::SpectralPrediction& pred,
                                     const theory::SpectralPrediction& ref) {
  reports::ClaimReport r;
  r.claim = "C3";
  r.title = "Spectral structure: bulk edges, outlier positions and outlier count match Theory B";
  r.seeds = meas.seeds;
  r.tolerance_reason =
      "3 sqrt(SE^2 + theory MC error^2) + finite size: 0.04 sqrt(1000/d) for outliers, 3 d^(-2/3)|edge| "
      "(Tracy-Widom scale) for edges; count: mean over seeds of #eigenvalues beyond edge(1 + 2 d^-2/3) "
      "within 0.5 of the predicted number, only where no direction is within [0.6, 1.5] alpha_k";
  for (const auto& c : meas.cells) {
    const auto& pt = pred.curve[alpha_index(c.alpha)];
    int predicted = 0;
    bool ambiguous = false;
    for (int k = 0; k < 5; ++k) {
      const Side s = side(c.alpha, ref.directions[k].alpha_threshold.value);
      ambiguous = ambiguous || s == Side::near;
      if (s == Side::above) ++predicted;
    }
    std::vector<std::vector<double>> sorted;  // per seed, descending
    for (const auto& run : c.runs) {
      auto e = run.eigenvalues;
      std::sort(e.rbegin(), e.rend());
      sorted.push_back(e);
    }
    // Outlier positions of directions well above threshold: the k-th largest eigenvalue.
    for (int k = 0; k < 5; ++k) {
      if (side(c.alpha, ref.directions[k].alpha_threshold.value) != Side::above || !pt.outlier[k]) continue;
      std::vector<double> v;
      for (const auto& e : sorted) v.push_back(e[k]);
      const auto st = verify::stats(v);
      r.check(label("nu_", k + 1, c.d, c.alpha), c.alpha, st.mean, st.se, pt.outlier[k]->value,
              3 * std::hypot(st.se, pt.outlier[k]->error) + delta_nu(c.d));
    }
    if (ambiguous) continue;
    // Top bulk edge: the largest eigenvalue after the predicted outliers.
    std::vector<double> top, low, count;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      top.push_back(sorted[i][predicted]);
      if (c.runs[i].smallest < 0) low.push_back(c.runs[i].smallest);  // true minimum (see spectral_sweep.hpp)
      const double cut = pt.bulk_edge.value * (1 + 2 * std::pow(double(c.d), -2.0 / 3.0));
      count.push_back(double(std::count_if(sorted[i].begin(), sorted[i].end(), [&](double x) { return x > cut; })));
    }
    auto st = verify::stats(top);
    r.check(label("edge", 0, c.d, c.alpha), c.alpha, st.mean, st.se, pt.bulk_edge.value,
            3 * std::hypot(st.se, pt.bulk_edge.error) + delta_edge(c.d, pt.bulk_edge.value));
    if (low.size() == sorted.size()) {
      st = verify::stats(low);
      r.check(label("lower edge", 0, c.d, c.alpha), c.alpha, st.mean, st.se, pt.bulk_edge_lower.value,
              3 * std::hypot(st.se, pt.bulk_edge_lower.error) + delta_edge(c.d, pt.bulk_edge_lower.value));
    }
    st = verify::stats(count);
    r.check(label("outlier count", 0, c.d, c.alpha), c.alpha, st.mean, st.se, predicted, 0.5);
  }
  return r;
}

struct Wrong {
  const char* name;
  std::function<void(theory::ModelConfig&)> change;
};
// Neither claim sees gamma x 1.2 at d <= 2000, and the reports say so (known_blind_spot)
// instead of asserting it. With normalized amplitudes Var T, hence both bulk edges, does not
// depend on gamma; the overlaps and outliers of the directions far from their thresholds
// move by 0.01-0.05, no more than the finite-size bias measured here (RMS deviation of the
// overlaps 0.036, 0.025, 0.013 at d = 500, 1000, 2000, i.e. ~0.8/sqrt(d)). Seeing it would
// take d ~ 8000 (bias < 0.01) or points close to thresholds, where finite-d smoothing rules.
bool blind_spot(const std::string& claim, const std::string& wrong) { return wrong == "gamma x 1.2"; }
const std::vector<Wrong> kWrong{
    {"gamma x 1.2", [](theory::ModelConfig& m) { m.gamma *= 1.2; }},
    {"mu_2 x 1.2", [](theory::ModelConfig& m) { m.activation = "hermite:0,0," + std::to_string(1.2 * std::sqrt(2.0)); }},
    {"Delta x 2", [](theory::ModelConfig& m) { m.noise *= 2; }},
};

// The comparison points (which directions are above/below threshold at which alpha) are
// fixed by the design, from the reference prediction; a prediction under test only supplies
// the expected values, so a wrong prediction cannot shrink the set of points it is held to.
using Compare = std::function<reports::ClaimReport(const Measurements&, const theory::SpectralPrediction&,
                                                   const theory::SpectralPrediction&)>;
void run_claim(const std::string& name, const Compare& compare) {
  const auto& meas = measurements();
  const auto truth = predict(base_model());
  auto r = compare(meas, truth, truth);
  r.config = {{"model", base_model()}, {"d", {500, 1000, 2000}}, {"alpha", kAlphas}, {"top", kTop},
              {"theory_samples", 1 << 20}, {"theory_numerical_error", truth.numerical_error}};
  nlohmann::json wrong = nlohmann::json::array();
  for (const auto& w : kWrong) {
    auto m = base_model();
    w.change(m);
    const auto bad = compare(meas, predict(m, 1u << 19), truth);
    int failed = 0;
    for (const auto& p : bad.points) failed += !p.pass;
    wrong.push_back({{"prediction", w.name}, {"rejected", !bad.pass()}, {"failed_points", failed},
                     {"points", bad.points.size()}, {"known_blind_spot", blind_spot(name, w.name)}});
    if (!blind_spot(name, w.name)) BOOST_TEST(!bad.pass(), name << " must reject the wrong prediction " << w.name);
    BOOST_TEST_MESSAGE(name << " wrong prediction " << w.name << ": " << failed << "/" << bad.points.size() << " points fail");
  }
  r.extra["wrong_predictions"] = wrong;
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, name));
  BOOST_TEST_MESSAGE(name << ": " << r.points.size() << " points, pass = " << r.pass());
}

}  // namespace

BOOST_AUTO_TEST_CASE(C2_overlaps_match_theory_B) { run_claim("C2_overlaps", compare_overlaps); }

BOOST_AUTO_TEST_CASE(C3_spectrum_matches_theory_B) { run_claim("C3_spectrum", compare_spectrum); }

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
// Asserted rejections: the gross errors mu_2 x 2 and Delta x 4. The sharp test of the same
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
    r.tolerance_reason = "3 SE + 0.03 sqrt(1000/d) (finite size) + |q_B - q_A| at clip(10) (Theory A's truncation error)";
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
        r.check(label("q_", k + 1, d, alphas[a]), alphas[a], st.mean, st.se, pred.curve[a].overlap[k].value,
                3 * st.se + delta_q(d) + trunc);
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
  nlohmann::json wrong = nlohmann::json::array();
  std::vector<Wrong> wrong_here = kWrong;
  wrong_here.push_back({"mu_2 x 2", [](theory::ModelConfig& m) { m.activation = "hermite:0,0," + std::to_string(2 * std::sqrt(2.0)); }});
  wrong_here.push_back({"Delta x 4", [](theory::ModelConfig& m) { m.noise *= 4; }});
  for (const auto& w : wrong_here) {
    auto mw = m;
    w.change(mw);
    const auto bad = compare(theory::predict_spectral(mw, alphas, theory::Method::leading), q);
    const bool asserted = std::string(w.name) == "mu_2 x 2" || std::string(w.name) == "Delta x 4";
    if (asserted) BOOST_TEST(!bad.pass(), "C2 identity must reject " << w.name);
    wrong.push_back({{"prediction", w.name}, {"rejected", !bad.pass()}, {"asserted", asserted}});
  }
  r.extra["wrong_predictions"] = wrong;
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, "C2_identity"));
}

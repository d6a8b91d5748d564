// C1 (THEORY.md section 8): the cascade. Direction k is learned at alpha_k ∝ k^(2 gamma), and
// the order of learning follows k.
//
// Measurement: he2, p = 8, Delta = 0.1, T = clip(3) (bounded: Theory B is exact, so the
// finite-k shape of the thresholds is predicted, not guessed), d = 300, the spectral estimator
// along a learning curve (nested prefixes of one data stream, alpha on a geometric grid of
// ratio 1.2 from 1; Theory B is read on the same grid with the same interpolation, so the
// interpolation error cancels in every comparison). Threshold of direction k = the alpha at
// which its overlap q_k first reaches 0.2 (log-linear interpolation between grid points);
// q = 0.2 is low enough to sit
// close to the threshold and high enough to be above the finite-d floor of below-threshold
// overlaps.  gamma = 0.75: k = 1..7, alpha <= 75, 12 seeds;  gamma = 1: k = 1..6,
// alpha <= 120, 10 seeds;  gamma = 1.5: k = 1..5, alpha <= 270, 10 seeds. The grids end at
// 2.5x the last predicted crossing: per-seed log thresholds scatter by ~0.2-0.3, so a seed
// whose direction K is not learned by the end of the grid (a failed point) is a > 3 sigma
// event, not a budget artefact (at 1.6x, master seed 3 hit one).
// Prediction: the same crossings of Theory B's overlap curves on the same grid (2^18 Monte
// Carlo samples, with their error bars), and the asymptotic law alpha_k ∝ k^(2 gamma).
//
// What is compared (per gamma):
//  * order: the mean log threshold increases with k (consecutive k). Per seed, adjacent
//    directions with alpha_{k+1}/alpha_k = ((k+1)/k)^(2 gamma) ~ 1.2 are often swapped at
//    d = 300 (threshold fluctuations are ~ 20%): the count is reported, not gated;
//  * each threshold against Theory B, in log alpha: 3 sqrt(SE^2 + err_B^2) + 0.15. The 0.15
//    is finite size: near its threshold a finite-d overlap is smoothed over a window
//    ~ d^(-1/3) and rises early; the mean log(measured / Theory B) over k was -0.11 at
//    d = 300 and -0.04 at d = 600 (gamma = 1, 10 seeds, scratch measurement);
//  * the log-log slope over k >= 2 against Theory B's slope: 3 sqrt(SE^2 + err_B^2) + 0.05
//    (SE over seeds of the per-seed slopes; 0.05 = finite size: a common relative shift of
//    the crossings cancels in a slope; measured slopes 1.92 +- 0.09, 1.86 +- 0.12,
//    1.84 +- 0.04 at d = 150, 300, 600 for gamma = 1). Direction 1 is left out of the fits:
//    it carries most of the label variance and clipping saturates theta_1;
//  * the slope against 2 gamma, the asymptotic law: the margin adds |s_B - 2 gamma|, Theory
//    B's own finite-k curvature (alpha_k = Var T / theta_k^2 + O(1): the local slope
//    approaches 2 gamma only as k grows; s_B = 1.33, 1.79, 2.59 here).
// Wrong predictions that must be rejected: Theory B for gamma x 1.2 and the order 1, 3, 2, 4, 5.
// Resolution, stated honestly: gamma x 1.2 is rejected by the thresholds themselves (log
// shifts 0.3-0.9 against tolerances 0.3-0.5); the slopes alone (SE 0.09-0.14 with 10-12
// seeds: the per-seed slope is heavy-tailed because adjacent spikes swap) do not resolve a
// 20% change, and "slope = 2 gamma x 1.2" passes the asymptotic check, whose margin carries
// Theory B's finite-k curvature (0.17-0.41). (mu_2 x 1.2 is no
// wrong prediction for thresholds: scaling sigma by 1.2 rescales theta_k^2 and Var T alike,
// up to the noise and the clip level; C2 tests the overlap curves themselves.)
#define BOOST_TEST_MODULE c1_cascade
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "estimators/learning_curve.hpp"
#include "theory/risk.hpp"
#include "theory/spectral.hpp"
#include "verify/check.hpp"

using namespace hmi;

namespace {

constexpr int kD = 300;
constexpr double kLevel = 0.2, kRatio = 1.2, kFiniteSize = 0.05, kFiniteSizeLog = 0.15;

struct Case {
  double gamma;
  int p, K, seeds;
  double alpha_max;
};
const std::vector<Case> kCases{{0.75, 8, 7, 12, 75}, {1.0, 8, 6, 10, 120}, {1.5, 8, 5, 10, 270}};

theory::ModelConfig model(const Case& c) {
  theory::ModelConfig m;
  m.p = c.p;
  m.gamma = c.gamma;
  m.noise = 0.1;
  m.preprocess = "clip:3";
  return m;
}

std::vector<double> grid(double hi) {
  std::vector<double> a;
  for (double x = 1.0; x <= hi * 1.0001; x *= kRatio) a.push_back(x);
  return a;
}

// First upward crossing of `level`, interpolated linearly in log alpha; NaN if none.
double crossing(const std::vector<double>& alphas, const std::vector<double>& q, double level) {
  for (std::size_t i = 0; i < q.size(); ++i)
    if (q[i] >= level) {
      if (i == 0) return alphas[0];
      const double f = (level - q[i - 1]) / (q[i] - q[i - 1]);
      return std::exp(std::log(alphas[i - 1]) + f * (std::log(alphas[i]) - std::log(alphas[i - 1])));
    }
  return NAN;
}

// LSQ slope of log alpha_k against log k over k = 2..K, and its sensitivity d slope / d log alpha_k.
double slope(const std::vector<double>& a) {
  std::vector<double> k;
  std::vector<double> y;
  for (std::size_t i = 1; i < a.size(); ++i) {
    k.push_back(double(i + 1));
    y.push_back(a[i]);
  }
  return theory::fit_log_slope(k, y, 0, 1e300).slope;
}
std::vector<double> slope_weights(int K) {
  double mean = 0;
  for (int k = 2; k <= K; ++k) mean += std::log(double(k)) / (K - 1);
  double sxx = 0;
  for (int k = 2; k <= K; ++k) sxx += (std::log(double(k)) - mean) * (std::log(double(k)) - mean);
  std::vector<double> w(K, 0.0);
  for (int k = 2; k <= K; ++k) w[k - 1] = (std::log(double(k)) - mean) / sxx;
  return w;
}

// Crossings of one Theory B prediction (log alpha) with their error bars.
struct TheoryCrossings {
  std::vector<double> log_alpha, error;
  double slope = 0, slope_error = 0;
};

TheoryCrossings theory_crossings(const theory::ModelConfig& model, int K, const std::vector<double>& alphas, int log2_samples) {
  theory::TheoryOptions opt;
  opt.mc_samples = std::uint64_t(1) << log2_samples;
  opt.max_directions = K;
  const auto pred = theory::predict_spectral(model, alphas, theory::Method::exact, opt);
  const auto w = slope_weights(K);
  TheoryCrossings tc;
  std::vector<double> a;
  for (int k = 0; k < K; ++k) {
    std::vector<double> q, lo, hi;
    for (const auto& pt : pred.curve) {
      q.push_back(pt.overlap[k].value);
      lo.push_back(pt.overlap[k].value - pt.overlap[k].error);
      hi.push_back(pt.overlap[k].value + pt.overlap[k].error);
    }
    a.push_back(crossing(alphas, q, kLevel));
    // Error bar: where the curves shifted by -+ one error bar cross (half the distance).
    const double e = 0.5 * std::abs(std::log(crossing(alphas, lo, kLevel)) - std::log(crossing(alphas, hi, kLevel)));
    tc.log_alpha.push_back(std::log(a.back()));
    tc.error.push_back(std::isfinite(e) ? e : 1.0);
    tc.slope_error += std::abs(w[k]) * tc.error.back();  // one Monte Carlo sample: errors added linearly
  }
  tc.slope = slope(a);
  return tc;
}

struct CaseMeasurement {
  Case c;
  std::vector<std::uint64_t> seeds;
  std::vector<std::vector<double>> thresholds;  // [seed][k]
  TheoryCrossings theory, theory_gamma12;       // Theory B for gamma and for gamma x 1.2
};

CaseMeasurement measure(const Case& c) {
  CaseMeasurement m{c, verify::seeds(c.seeds), {}, {}, {}};
  const auto alphas = grid(c.alpha_max);
  auto mc = model(c);
  for (auto seed : m.seeds) {
    mc.seed = seed;
    const auto t = est::make_teacher(mc, kD);
    const auto curve = est::spectral_learning_curve(t, {.alphas = alphas, .threads = 2});
    std::vector<double> th;
    for (int k = 0; k < c.K; ++k) {
      std::vector<double> q;
      for (const auto& pt : curve) q.push_back(pt.metrics.overlap[k]);
      th.push_back(crossing(alphas, q, kLevel));
    }
    m.thresholds.push_back(th);
  }
  m.theory = theory_crossings(model(c), c.K, alphas, 18);
  auto wrong = model(c);
  wrong.gamma *= 1.2;
  m.theory_gamma12 = theory_crossings(wrong, c.K, grid(c.alpha_max * 3), 16);
  BOOST_TEST_MESSAGE("measured gamma = " << c.gamma << " (" << c.seeds << " seeds)");
  return m;
}

const std::vector<CaseMeasurement>& measured() {
  static const std::vector<CaseMeasurement> m = [] {
    std::vector<CaseMeasurement> out;
    for (const auto& c : kCases) out.push_back(measure(c));
    return out;
  }();
  return m;
}

struct Prediction {
  bool gamma12 = false;        // use Theory B for gamma x 1.2
  double gamma_factor = 1.0;   // the asymptotic slope is 2 gamma x this
  std::vector<int> order;      // empty = 1, 2, ..., K
};

reports::ClaimReport compare(const std::vector<CaseMeasurement>& ms, const Prediction& pr) {
  reports::ClaimReport r;
  r.claim = "C1";
  r.title = "cascade: thresholds alpha_k ∝ k^(2 gamma), learned in the order of k";
  r.config = {{"d", kD}, {"level", kLevel}, {"grid_ratio", kRatio}, {"preprocess", "clip:3"}, {"noise", 0.1}, {"p", 8},
              {"fit_k_from", 2}, {"finite_size_slope", kFiniteSize}, {"finite_size_log_alpha", kFiniteSizeLog},
              {"theory", pr.gamma12 ? "Theory B, gamma x 1.2" : "Theory B"}, {"asymptotic_factor", pr.gamma_factor}};
  r.tolerance_reason = "threshold: 3 sqrt(SE^2 + err_B^2) + 0.15 in log alpha (finite-d smoothing near threshold); slope: "
                       "3 sqrt(SE^2 + err_B^2) + 0.05; vs 2 gamma: plus |s_B - 2 gamma| (Theory B's finite-k curvature); "
                       "order: mean log thresholds increasing";
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& m : ms) {
    const Case& c = m.c;
    const TheoryCrossings& th = pr.gamma12 ? m.theory_gamma12 : m.theory;
    const std::string g = "gamma " + std::to_string(c.gamma).substr(0, 4);
    if (m.seeds.size() > r.seeds.size()) r.seeds = m.seeds;
    std::vector<int> order = pr.order;
    if (order.empty())
      for (int k = 1; k <= c.K; ++k) order.push_back(k);
    // Per-direction log thresholds over seeds.
    std::vector<verify::Stats> logk;
    for (int k = 0; k < c.K; ++k) {
      std::vector<double> v;
      for (const auto& t : m.thresholds) v.push_back(std::log(t[k]));
      logk.push_back(verify::stats(v));
    }
    int swaps = 0;
    for (const auto& t : m.thresholds)
      for (int k = 1; k < c.K; ++k) swaps += !(t[k] > t[k - 1]);
    for (std::size_t i = 1; i < order.size() && int(i) < c.K; ++i) {
      const auto& a = logk[order[i - 1] - 1];
      const auto& b = logk[order[i] - 1];
      r.record({g + ": direction " + std::to_string(order[i - 1]) + " learned before " + std::to_string(order[i]), double(i),
                b.mean, b.se, a.mean, 0, std::isfinite(a.mean) && std::isfinite(b.mean) && b.mean > a.mean});
    }
    for (int k = 0; k < c.K; ++k)
      r.check(g + ": log threshold k=" + std::to_string(k + 1) + " vs Theory B", k + 1, logk[k].mean, logk[k].se,
              th.log_alpha[k], 3 * std::sqrt(logk[k].se * logk[k].se + th.error[k] * th.error[k]) + kFiniteSizeLog);
    std::vector<double> slopes;
    for (const auto& t : m.thresholds) slopes.push_back(slope(t));
    const auto st = verify::stats(slopes);
    const double tol = 3 * std::sqrt(st.se * st.se + th.slope_error * th.slope_error) + kFiniteSize;
    r.check(g + ": slope k=2.." + std::to_string(c.K) + " vs Theory B", c.gamma, st.mean, st.se, th.slope, tol);
    const double tol_asym = 3 * std::sqrt(st.se * st.se + m.theory.slope_error * m.theory.slope_error) + kFiniteSize +
                            std::abs(m.theory.slope - 2 * c.gamma);
    r.check(g + ": slope k=2.." + std::to_string(c.K) + " vs 2 gamma", c.gamma, st.mean, st.se, 2 * c.gamma * pr.gamma_factor,
            tol_asym);
    std::vector<double> geo, thb;
    for (int k = 0; k < c.K; ++k) {
      geo.push_back(std::exp(logk[k].mean));
      thb.push_back(std::exp(th.log_alpha[k]));
    }
    cases.push_back({{"gamma", c.gamma}, {"K", c.K}, {"alpha_max", c.alpha_max}, {"seeds", m.seeds.size()},
                     {"measured_slope", st.mean}, {"measured_slope_se", st.se}, {"theory_B_slope", th.slope},
                     {"theory_B_slope_error", th.slope_error}, {"two_gamma", 2 * c.gamma},
                     {"measured_threshold_geomean", geo}, {"theory_B_crossing", thb}, {"per_seed_order_swaps", swaps}});
  }
  r.extra["cases"] = cases;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(c1_true_prediction_passes) {
  const auto r = compare(measured(), {});
  verify::print_failures(r);
  for (const auto& c : r.extra["cases"])
    BOOST_TEST_MESSAGE("gamma " << c["gamma"] << ": slope " << c["measured_slope"] << " +- " << c["measured_slope_se"]
                                << ", Theory B " << c["theory_B_slope"] << " +- " << c["theory_B_slope_error"]
                                << ", 2 gamma " << c["two_gamma"] << "; per-seed order swaps " << c["per_seed_order_swaps"]);
  BOOST_TEST(verify::write_report(r, "C1_cascade"));
}

BOOST_AUTO_TEST_CASE(c1_wrong_predictions_fail) {
  const std::vector<std::pair<std::string, Prediction>> wrong{
      {"Theory B for gamma x 1.2 (and 2 gamma x 1.2)", {.gamma12 = true, .gamma_factor = 1.2}},
      {"order 1,3,2,4,5", {.order = {1, 3, 2, 4, 5}}}};
  for (const auto& [name, pr] : wrong) {
    const auto r = compare(measured(), pr);
    BOOST_TEST_MESSAGE("wrong prediction '" << name << "': pass = " << r.pass() << " (failing points below)");
    verify::print_failures(r);
    BOOST_TEST(!r.pass());
  }
}

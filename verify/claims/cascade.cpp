#include "verify/claims/cascade.hpp"

#include <cmath>
#include <sstream>

#include "estimators/learning_curve.hpp"
#include "theory/risk.hpp"
#include "theory/spectral.hpp"
#include "verify/claims/stats.hpp"

namespace hmi::verify::cascade {

theory::ModelConfig default_base() {
  theory::ModelConfig m;
  m.p = 8;
  m.noise = 0.1;
  m.preprocess = "clip:3";
  return m;
}

theory::ModelConfig case_model(const theory::ModelConfig& base, const Case& c) {
  auto m = base;
  m.gamma = c.gamma;
  return m;
}

std::vector<double> grid(double alpha_max) {
  std::vector<double> a;
  for (double x = 1.0; x <= alpha_max * 1.0001; x *= kRatio) a.push_back(x);
  return a;
}

double crossing(const std::vector<double>& alphas, const std::vector<double>& q, double level) {
  for (std::size_t i = 0; i < q.size(); ++i)
    if (q[i] >= level) {
      if (i == 0) return alphas[0];
      const double f = (level - q[i - 1]) / (q[i] - q[i - 1]);
      return std::exp(std::log(alphas[i - 1]) + f * (std::log(alphas[i]) - std::log(alphas[i - 1])));
    }
  return NAN;
}

double slope(const std::vector<double>& a) {
  std::vector<double> k, y;
  for (std::size_t i = 1; i < a.size(); ++i) {
    k.push_back(double(i + 1));
    y.push_back(a[i]);
  }
  return theory::fit_log_slope(k, y, 0, 1e300).slope;
}

namespace {

// d slope / d log alpha_k of the LSQ fit over k = 2..K (for propagating Theory B's errors).
std::vector<double> slope_weights(int K) {
  double mean = 0;
  for (int k = 2; k <= K; ++k) mean += std::log(double(k)) / (K - 1);
  double sxx = 0;
  for (int k = 2; k <= K; ++k) sxx += (std::log(double(k)) - mean) * (std::log(double(k)) - mean);
  std::vector<double> w(K, 0.0);
  for (int k = 2; k <= K; ++k) w[k - 1] = (std::log(double(k)) - mean) / sxx;
  return w;
}

std::string gamma_label(double g) {
  std::ostringstream s;
  s << "gamma " << g;
  return s.str();
}

}  // namespace

std::vector<double> measure_seed(const theory::ModelConfig& model, const Case& c, int d, std::uint64_t seed, int threads) {
  auto mc = case_model(model, c);
  mc.seed = seed;
  const auto alphas = grid(c.alpha_max);
  const auto t = est::make_teacher(mc, d);
  const auto curve = est::spectral_learning_curve(t, {.alphas = alphas, .threads = threads});
  std::vector<double> th;
  for (int k = 0; k < c.K; ++k) {
    std::vector<double> q;
    for (const auto& pt : curve) q.push_back(pt.metrics.overlap[k]);
    th.push_back(crossing(alphas, q));
  }
  return th;
}

TheoryCrossings theory_crossings(const theory::ModelConfig& model, int K, const std::vector<double>& alphas,
                                 std::uint64_t mc_samples) {
  theory::TheoryOptions opt;
  opt.mc_samples = mc_samples;
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
    a.push_back(crossing(alphas, q));
    // Error bar: where the curves shifted by -+ one error bar cross (half the distance).
    const double e = 0.5 * std::abs(std::log(crossing(alphas, lo)) - std::log(crossing(alphas, hi)));
    tc.log_alpha.push_back(std::log(a.back()));
    tc.error.push_back(std::isfinite(e) ? e : 1.0);
    tc.slope_error += std::abs(w[k]) * tc.error.back();  // one Monte Carlo sample: errors added linearly
  }
  tc.slope = slope(a);
  return tc;
}

void add_theory(CaseMeasurement& m, const theory::ModelConfig& model) {
  const auto mc = case_model(model, m.c);
  m.theory = theory_crossings(mc, m.c.K, grid(m.c.alpha_max), std::uint64_t(1) << 18);
  auto wrong = mc;
  wrong.gamma *= 1.2;  // its crossings lie further out: a longer grid
  m.theory_gamma12 = theory_crossings(wrong, m.c.K, grid(m.c.alpha_max * 3), std::uint64_t(1) << 16);
}

reports::ClaimReport compare(const std::vector<CaseMeasurement>& ms, const Prediction& pr) {
  reports::ClaimReport r;
  r.claim = "C1";
  r.title = "cascade: thresholds alpha_k ∝ k^(2 gamma), learned in the order of k";
  r.config = {{"d", ms.empty() ? 0 : ms.front().d}, {"level", kLevel}, {"grid_ratio", kRatio},
              {"fit_k_from", 2}, {"finite_size_slope", kFiniteSize}, {"finite_size_log_alpha", kFiniteSizeLog},
              {"theory", pr.gamma12 ? "Theory B, gamma x 1.2" : "Theory B"}, {"asymptotic_slope_factor", pr.slope_factor}};
  r.tolerance_reason = "t = Student's t quantile with the coverage of 3 sigma for the seeds' n - 1 degrees of freedom; "
                       "threshold: t sqrt(SE^2 + err_B^2) + 0.15 in log alpha (finite-d smoothing near threshold); slope: "
                       "t sqrt(SE^2 + err_B^2) + 0.10 (measured finite-size offset at d = 300: +0.07); vs 2 gamma: plus |s_B - 2 gamma| (Theory B's finite-k curvature); "
                       "order: no significant reversal of the mean log thresholds of consecutive directions (t SE of the difference)";
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& m : ms) {
    const Case& c = m.c;
    const TheoryCrossings& th = pr.gamma12 ? m.theory_gamma12 : m.theory;
    const std::string g = gamma_label(c.gamma);
    if (m.seeds.size() > r.seeds.size()) r.seeds = m.seeds;
    std::vector<int> order = pr.order;
    if (order.empty())
      for (int k = 1; k <= c.K; ++k) order.push_back(k);
    // Per-direction log thresholds over seeds.
    std::vector<Stats> logk;
    for (int k = 0; k < c.K; ++k) {
      std::vector<double> v;
      for (const auto& t : m.thresholds) v.push_back(std::log(t[k]));
      logk.push_back(stats(v));
    }
    int swaps = 0;
    for (const auto& t : m.thresholds)
      for (int k = 1; k < c.K; ++k) swaps += !(t[k] > t[k - 1]);
    for (std::size_t i = 1; i < order.size() && int(i) < c.K; ++i) {
      const auto& a = logk[order[i - 1] - 1];
      const auto& b = logk[order[i] - 1];
      // One-sided: fails only on a significant reversal, b.mean < a.mean - 3 SE of the difference.
      // Adjacent thresholds differ by only (2 gamma) log((k+1)/k) ~ 0.2 in log alpha at k ~ 6, the
      // SE of a difference with 6 seeds is ~ 0.14: a bare "b.mean > a.mean" fails by chance
      // (quick preset, gamma = 0.75, k = 6, 7: 3.318 against 3.368).
      const double tol = t_sigmas(std::min(a.n, b.n)) * std::sqrt(a.se * a.se + b.se * b.se);
      r.record({g + ": direction " + std::to_string(order[i - 1]) + " learned before " + std::to_string(order[i]), double(i),
                b.mean, b.se, a.mean, tol, std::isfinite(a.mean) && std::isfinite(b.mean) && b.mean > a.mean - tol});
    }
    for (int k = 0; k < c.K; ++k)
      r.check(g + ": log threshold k=" + std::to_string(k + 1) + " vs Theory B", k + 1, logk[k].mean, logk[k].se,
              th.log_alpha[k], t_sigmas(logk[k].n) * std::sqrt(logk[k].se * logk[k].se + th.error[k] * th.error[k]) + kFiniteSizeLog);
    std::vector<double> slopes;
    for (const auto& t : m.thresholds) slopes.push_back(slope(t));
    const auto st = stats(slopes);
    const double tol = t_sigmas(st.n) * std::sqrt(st.se * st.se + th.slope_error * th.slope_error) + kFiniteSize;
    r.check(g + ": slope k=2.." + std::to_string(c.K) + " vs Theory B", c.gamma, st.mean, st.se, th.slope, tol);
    const double tol_asym = t_sigmas(st.n) * std::sqrt(st.se * st.se + m.theory.slope_error * m.theory.slope_error) + kFiniteSize +
                            std::abs(m.theory.slope - 2 * c.gamma);
    r.check(g + ": slope k=2.." + std::to_string(c.K) + " vs asymptotic law", c.gamma, st.mean, st.se,
            pr.slope_factor * c.gamma, tol_asym);
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

// Wrong predictions, and why each is one a plausible wrong theory would make:
//  * Theory B for gamma x 1.2 (slope 2.4 gamma): a mis-specified amplitude law. Rejected by the
//    thresholds themselves (log shifts 0.3-0.9 against tolerances 0.3-0.5); the slopes alone
//    (SE 0.09-0.14 with 10-12 seeds) do not resolve a 20% change;
//  * the order 1, 3, 2, 4, 5: learning not ordered by amplitude;
//  * alpha_k ∝ k^gamma: amplitudes entering linearly instead of squared;
//  * alpha_k ∝ k^(4 gamma): the beta* = 2 law of C8 applied to an activation with beta* = 1.
// Not wrong predictions for these thresholds (measured on Theory B's crossings, gamma = 1):
// Delta x 2 moves the log crossings by +0.03..+0.06 and mu_2 x 1.2 by -0.05..-0.10, below the
// resolution of a threshold at d = 300 with 10 seeds (tolerance >= 0.3 in log alpha); C2 tests
// the overlap curves themselves, which do resolve Delta x 2.
const std::vector<std::pair<std::string, Prediction>>& wrong_predictions() {
  static const std::vector<std::pair<std::string, Prediction>> w{
      {"Theory B for gamma x 1.2 (slope 2.4 gamma)", {.gamma12 = true, .slope_factor = 2.4, .order = {}}},
      {"order 1,3,2,4,5", {.order = {1, 3, 2, 4, 5}}},
      {"alpha_k ∝ k^gamma", {.slope_factor = 1.0, .order = {}}},
      {"alpha_k ∝ k^(4 gamma)", {.slope_factor = 4.0, .order = {}}},
  };
  return w;
}

reports::ClaimReport claim(const std::vector<CaseMeasurement>& ms) {
  auto r = compare(ms, {});
  for (const auto& [name, pr] : wrong_predictions()) r.reject(name, compare(ms, pr));
  return r;
}

}  // namespace hmi::verify::cascade

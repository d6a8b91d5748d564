// Claim C9: statistics.
//   rho_k(alpha) = (1 - q_k^spectral(alpha)) / (1 - q_k^BO(alpha)),  alpha = c alpha_k.
// (a) Bound: rho_k >= 1 at every point, k = 1..directions (the Bayes-optimal oracle is a lower
//     bound: the spectral estimator sees the other directions as noise and does not know sigma).
//     Pass when rho + 3 err >= 1.
// (b) Same exponent in alpha: for each weak direction, the least-squares slope of log rho_k against
//     log alpha over the factors is 0 within 3 x its propagated numerical error + 0.1.
// (c) Same exponent in k: for each factor c, the slope of log rho_k(c alpha_k) against log k over the
//     weak directions is at most 3 x error + 0.1. One-sided since 2026-12: with the deterministic
//     Theory B (errors ~1e-7 instead of the Monte Carlo 0.035) he2's k-slopes are -0.114 and -0.123
//     at c = 10 and 100, real and negative. A negative slope is a transient: rho >= 1 always (a), so
//     rho cannot fall for ever and the spectral error cannot have the better exponent; the
//     falsifiable content of "same exponent" within k <= 7 is that rho does not grow with k, which a
//     wrong rate does (gamma x 1.2: +0.30..+0.37). The lower side is carried by the bound (a).
// The 0.1 allowance (exponents are -1 in alpha and 2 gamma in k, so 0.1 is 5-10 % of them) is for
// the approach to the weak-signal shape (rho_k tends to a constant as lambda_k^2 / Delta -> 0). Measured
// (MC 2^19, k = 3..7): he2 gamma = 1: alpha-slopes |s| <= 0.01, k-slopes -0.09..-0.13 (+- 0.035; with the
// quadrature Theory B: -0.061, -0.114, -0.123 +- 5e-7 at c = 2, 10, 100);
// abs gamma = 1.5: alpha-slopes 0.07 (+- 0.01..0.04), k-slopes 0.12 (+- 0.10). Directions 1, 2 (lambda^2 / Delta = 0.65,
// 0.16) are excluded from the slopes: there rho still moves from 1.6 to 4.1 (k = 1) over the window
// because the BO curve saturates sooner; they stay in the bound (a). A wrong exponent (spectral
// curve of gamma x 1.2) makes the k-slope ~0.4 gamma; a BO curve of Delta x 4 scales rho by ~1/4
// (below 1): rejected by (a). A Delta error smaller than rho's size (~2 here) changes only the
// constant and is not visible to C9, which is about exponents.
#include "verify/claims/optimality.hpp"

#include <cmath>
#include <functional>
#include <stdexcept>

#include "theory/activation.hpp"
#include "theory/bayes.hpp"
#include "theory/spectral.hpp"

namespace hmi::verify {
namespace {

// Least-squares slope of y on x and its error from independent errors on y.
std::pair<double, double> slope(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& ey) {
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= double(x.size());
  my /= double(x.size());
  double sxx = 0, sxy = 0, var = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  for (std::size_t i = 0; i < x.size(); ++i) var += (x[i] - mx) * (x[i] - mx) * ey[i] * ey[i];
  return {sxy / sxx, std::sqrt(var) / sxx};
}

constexpr double kSlopeAllowance = 0.1;

}  // namespace

OptimalityCurves optimality_curves(const OptimalityCase& c, double spectral_gamma_factor, double bo_noise_factor,
                                   std::uint64_t mc_samples, int threads, const OptimalityCurves* reuse) {
  OptimalityCurves out;
  out.c = c;
  if (spectral_gamma_factor != 1.0) out.variant = "spectral gamma x " + theory::short_number(spectral_gamma_factor);
  if (bo_noise_factor != 1.0) out.variant = "BO Delta x " + theory::short_number(bo_noise_factor);
  theory::TheoryOptions opt;
  opt.mc_samples = mc_samples;
  opt.max_directions = c.directions;
  const theory::SpectralPrediction p0 = theory::predict_spectral(c.model, {1.0}, theory::Method::exact, opt);
  std::vector<double> alphas;
  for (int k = 1; k <= c.directions; ++k) {
    const double ak = p0.directions[k - 1].alpha_threshold.value;
    if (!std::isfinite(ak))
      throw std::invalid_argument("optimality_curves: alpha_" + std::to_string(k) + " is not finite (case " + c.name + ")");
    out.alpha_threshold.push_back(ak);
    for (double f : c.factors) alphas.push_back(f * ak);
  }
  theory::ModelConfig spectral_model = c.model;
  spectral_model.gamma *= spectral_gamma_factor;
  const bool keep_spectral = reuse && spectral_gamma_factor == 1.0, keep_bo = reuse && bo_noise_factor == 1.0;
  const theory::SpectralPrediction pred =
      keep_spectral ? theory::SpectralPrediction{} : theory::predict_spectral(spectral_model, alphas, theory::Method::exact, opt);

  const theory::Activation sigma = theory::make_activation(c.model.activation);
  const std::vector<double> lam = c.model.lambdas();
  const std::size_t nf = c.factors.size();
  out.points.resize(alphas.size());
  theory::parallel_for(int(alphas.size()), threads, [&](int i) {
    const int k = int(i / nf) + 1;
    const double l = lam[k - 1];
    const std::function<double(double)> f = [&sigma, l](double z) { return l * sigma.value(z); };
    OptimalityPoint& p = out.points[i];
    p.k = k;
    p.factor = c.factors[i % nf];
    p.alpha = alphas[i];
    p.q_spectral = keep_spectral ? reuse->points[i].q_spectral : pred.curve[i].overlap[k - 1];
    p.q_bo = keep_bo ? reuse->points[i].q_bo
                     : theory::bayes_point(f, c.model.noise * bo_noise_factor, alphas[i],
                                           theory::BayesConfig{.kinks = sigma.kinks, .even = sigma.even})
                           .bayes.q;
    const double es = 1 - p.q_spectral.value, eb = 1 - p.q_bo.value;
    p.ratio.value = es / eb;
    p.ratio.error = p.ratio.value * (p.q_spectral.error / es + p.q_bo.error / eb);
  });
  return out;
}

reports::ClaimReport compare_optimality(const std::vector<OptimalityCurves>& curves) {
  reports::ClaimReport r;
  r.claim = "C9";
  r.title = "spectral subspace recovery is rate-optimal: (1 - q_spectral) / (1 - q_BO) bounded in alpha and k";
  r.tolerance_reason =
      "bound: rho + 3 err >= 1 (BO oracle is a lower bound); slopes of log rho in log alpha (per weak k) and in log k "
      "(per factor, k = 3..7): alpha-slope 0 within 3 x propagated numerical error + 0.1 (approach to the weak-signal "
      "shape); k-slope <= 3 err + 0.1, one-sided (a falling rho is a transient bounded by rho >= 1)";
  nlohmann::json cases = nlohmann::json::array();
  for (const OptimalityCurves& cv : curves) {
    const std::string tag = cv.c.name + (cv.variant == "true" ? "" : " [" + cv.variant + "]");
    double rmin = 1e300, rmax = 0;
    for (const OptimalityPoint& p : cv.points) {
      reports::Point pt{"rho " + tag + " k=" + std::to_string(p.k) + " c=" + theory::short_number(p.factor), p.alpha,
                        p.ratio.value, p.ratio.error, 1.0, 3 * p.ratio.error, p.ratio.value + 3 * p.ratio.error >= 1.0};
      r.record(pt);
      rmin = std::min(rmin, p.ratio.value);
      rmax = std::max(rmax, p.ratio.value);
    }
    auto at = [&](int k, std::size_t fi) -> const OptimalityPoint& { return cv.points[std::size_t(k - 1) * cv.c.factors.size() + fi]; };
    nlohmann::json alpha_slopes = nlohmann::json::object(), k_slopes = nlohmann::json::object();
    for (int k : cv.c.weak_ks) {
      std::vector<double> x, y, e;
      for (std::size_t fi = 0; fi < cv.c.factors.size(); ++fi) {
        const OptimalityPoint& p = at(k, fi);
        x.push_back(std::log(p.alpha));
        y.push_back(std::log(p.ratio.value));
        e.push_back(p.ratio.error / p.ratio.value);
      }
      const auto [s, se] = slope(x, y, e);
      r.check("alpha-slope of log rho " + tag + " k=" + std::to_string(k), k, s, se, 0.0, 3 * se + kSlopeAllowance);
      alpha_slopes[std::to_string(k)] = {s, se};
    }
    for (std::size_t fi = 0; fi < cv.c.factors.size(); ++fi) {
      std::vector<double> x, y, e;
      for (int k : cv.c.weak_ks) {
        const OptimalityPoint& p = at(k, fi);
        x.push_back(std::log(double(k)));
        y.push_back(std::log(p.ratio.value));
        e.push_back(p.ratio.error / p.ratio.value);
      }
      const auto [s, se] = slope(x, y, e);
      // One-sided (see (c) above): passes when s <= 3 se + 0.1.
      r.record({"k-slope of log rho " + tag + " c=" + theory::short_number(cv.c.factors[fi]), cv.c.factors[fi], s, se, 0.0,
                3 * se + kSlopeAllowance, std::isfinite(s) && s <= 3 * se + kSlopeAllowance});
      k_slopes[theory::short_number(cv.c.factors[fi])] = {s, se};
    }
    cases.push_back({{"case", cv.c.name}, {"variant", cv.variant}, {"model", cv.c.model}, {"alpha_threshold", cv.alpha_threshold},
                     {"rho_min", rmin}, {"rho_max", rmax}, {"alpha_slopes", alpha_slopes}, {"k_slopes", k_slopes}});
  }
  r.extra["cases"] = cases;
  return r;
}

std::vector<OptimalityCase> default_optimality_cases() {
  std::vector<OptimalityCase> out;
  for (auto [act, gamma] : {std::pair<const char*, double>{"he2", 1.0}, {"abs", 1.5}}) {
    OptimalityCase c;
    c.name = std::string(act) + " gamma=" + theory::short_number(gamma);
    c.model.activation = act;
    c.model.gamma = gamma;
    c.model.p = 8;
    c.model.noise = 1.0;
    c.model.preprocess = "clip:3";
    out.push_back(c);
  }
  return out;
}

}  // namespace hmi::verify

// C5 comparisons. Tolerances:
//  * fitted exponents (least squares of log alpha_k on log k over [k_lo, k_hi]):
//    |slope - exponent| <= 3 slope_error + slope_margin, where slope_error propagates the
//    thresholds' own numerical errors through the fit, and slope_margin is the modelling
//    allowance stated by the caller: the weak-signal corrections inside the window. For
//    T = identity the spectral law is exactly k^(2 gamma) and the oracle's is
//    Delta/(mu2 lambda)^2 (1 + c lambda^2/Delta + ...) (c = -3 for he2, theory/INFORMATION.md),
//    whose local slope differs from 2 gamma by 2 gamma |c| lambda_k^2 / Delta: <= 4e-3 at
//    k = 100 for gamma >= 0.75, Delta = 0.5; margin 0.01. Theory B for clip carries an
//    O(lambda_k) correction to Theory A (measured alpha_B / alpha_A - 1 ~ 1.3 lambda_k): local slope
//    shift ~ gamma 1.3 lambda_100 ~ 0.01; margin 0.03.
//  * the ratio alpha_k(spectral)/alpha_k(oracle) at each k of the window against its predicted
//    limit L (theory/rate.hpp): |ratio - L| <= 3 sqrt(err_ratio^2 + err_L^2) + ratio_margin L,
//    ratio_margin the same corrections in relative form.
//  * the bracket (simulation): direction k has an outlier in a run when at least k eigenvalues lie
//    beyond the predicted bulk edge by 2 d^(-2/3) of it (compare_spectrum's margin) and one of the
//    top eigenvectors has q_k >= 0.1. The eigenvector condition is needed below threshold: the
//    largest bulk eigenvalue fluctuates by 1.2-1.5% of the edge around -1..-1.5% at d = 1000 when
//    direction k sits at 0.65 alpha_k (measured, 12 seeds, he2 clip:3, p = 4 and 8), so it crosses
//    the 2% cut in ~1-2% of runs; its eigenvector then has q_k <= 0.075 (measured max over 48
//    runs), never 0.1. The claim compares the fraction of seeds with an outlier, as compare_spectrum
//    compares a mean count, within 0.5 of 0 (alpha <= 0.65 alpha_k) or 1 (alpha >= 2 alpha_k).
//    Why 2 and not 1.5: at 1.5 alpha_k Theory B puts the outlier only 2-3% of the edge above it and
//    it fluctuates by 1.5-2.3%, a coin toss at the 2% cut; at 2 alpha_k it is 6.5-9% above
//    (measured 2-2.8 standard deviations clear of the cut). At 1.5 alpha_k the eigenvector is
//    checked instead: mean q_k >= 0.1 (measured per seed 0.15-0.43; below threshold 0.015-0.075).
//    Theory B's overlap is compared at 2 alpha_k, not at 1.5: at 1.5 the finite-d smoothing near
//    the threshold biases q_k low by 0.03-0.08 (measured over 5 master seeds at d = 1000), as
//    large as C2's tolerance.
#include "verify/claims/rate.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "theory/activation.hpp"
#include "verify/claims/stats.hpp"

namespace hmi::verify {
namespace {

}  // namespace

bool check_rate(reports::ClaimReport& r, const std::string& name, const theory::RateSequence& seq,
                const RateExpectation& expect, const RateWindow& w) {
  std::vector<double> k, spec, spec_err, orac, orac_err;
  for (const auto& pt : seq.points) {
    const theory::Estimate& a = w.leading ? pt.alpha_leading : pt.alpha_spectral;
    k.push_back(pt.k);
    spec.push_back(a.value);
    spec_err.push_back(a.error);
    orac.push_back(pt.oracle.alpha_c);
    orac_err.push_back(pt.oracle.error);
  }
  bool ok = true;
  const auto fs = theory::loglog_fit(k, spec, w.k_lo, w.k_hi, spec_err);
  const auto fo = theory::loglog_fit(k, orac, w.k_lo, w.k_hi, orac_err);
  const std::string win = " k in [" + theory::short_number(w.k_lo) + ", " + theory::short_number(w.k_hi) + "]";
  ok &= r.check(name + ": exponent of alpha_k(spectral" + (w.leading ? ", Theory A" : "") + ")" + win, w.k_hi, fs.slope,
                fs.slope_error, expect.exponent, 3 * fs.slope_error + w.slope_margin);
  ok &= r.check(name + ": exponent of alpha_k(oracle)" + win, w.k_hi, fo.slope, fo.slope_error, expect.exponent,
                3 * fo.slope_error + w.slope_margin);
  const double L = expect.ratio_limit.value;
  for (std::size_t i = 0; i < seq.points.size(); ++i) {
    if (k[i] < w.k_lo || k[i] > w.k_hi) continue;
    const double ratio = spec[i] / orac[i];
    const double err = std::abs(ratio) * (spec_err[i] / spec[i] + orac_err[i] / orac[i]);
    ok &= r.check(name + ": alpha_k(spectral)/alpha_k(oracle) at k = " + theory::short_number(k[i]), k[i], ratio, err, L,
                  3 * std::hypot(err, expect.ratio_limit.error) + w.ratio_margin * L);
  }
  return ok;
}

bool check_oracle_law(reports::ClaimReport& r, const std::string& name, const theory::ModelConfig& model,
                      const theory::RateSequence& seq, double factor, const RateWindow& w, double margin) {
  const auto sigma = theory::make_activation(model.activation);
  const auto a = theory::analyse(sigma);
  const double kappa =
      theory::gaussian_expectation([&](double z) { const double s = sigma.value(z); return s * s * (z * z - 1); }, sigma.kinks).value;
  const double Delta = model.noise;
  bool ok = true;
  for (const auto& pt : seq.points) {
    if (pt.k < w.k_lo || pt.k > w.k_hi) continue;
    const double l2 = pt.lambda * pt.lambda;
    const double law = factor * (seq.beta_star == 1 ? Delta / (a.mu2() * a.mu2() * l2) : 2 * Delta * Delta / (kappa * kappa * l2 * l2));
    const double ratio = pt.oracle.alpha_c / law;
    ok &= r.check(name + ": alpha_k(oracle) / weak-signal law at k = " + theory::short_number(pt.k), pt.k, ratio, pt.oracle.error / law, 1.0,
                  margin + 3 * pt.oracle.error / law);
  }
  return ok;
}

nlohmann::json rate_json(const theory::RateSequence& seq) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json pts = nlohmann::json::array();
  for (std::size_t i = 0; i < seq.points.size(); ++i) {
    const auto& p = seq.points[i];
    const auto& d = seq.spectral.directions[i];
    pts.push_back({{"k", p.k}, {"lambda", p.lambda}, {"theta", num(d.theta.value)}, {"theta_error", num(d.theta.error)},
                   {"alpha_spectral", num(p.alpha_spectral.value)}, {"alpha_spectral_error", num(p.alpha_spectral.error)},
                   {"alpha_leading", num(p.alpha_leading.value)}, {"alpha_leading_error", num(p.alpha_leading.error)},
                   {"alpha_exact", num(d.alpha_exact.value)}, {"alpha_exact_error", num(d.alpha_exact.error)},
                   {"alpha_oracle", num(p.oracle.alpha_c)}, {"alpha_oracle_error", num(p.oracle.error)},
                   {"alpha_agnostic", num(p.agnostic.alpha_c)}, {"alpha_agnostic_error", num(p.agnostic.error)},
                   {"ratio_oracle", num(p.ratio_oracle.value)}, {"ratio_oracle_error", num(p.ratio_oracle.error)},
                   {"ratio_agnostic", num(p.ratio_agnostic.value)}});
  }
  return {{"method", seq.spectral.method}, {"beta_star", seq.beta_star}, {"rate_exponent", seq.rate_exponent},
          {"var_T", num(seq.spectral.var_T.value)}, {"mean_dT", num(seq.spectral.mean_dT.value)},
          {"mean_d2T", num(seq.spectral.mean_d2T.value)}, {"ratio_limit", num(seq.ratio_limit.value)},
          {"ratio_limit_error", num(seq.ratio_limit.error)}, {"points", pts}};
}

int count_outliers(const SpectralRun& run, double edge) {
  const double cut = edge * (1 + 2 * std::pow(double(run.d), -2.0 / 3.0));
  return int(std::count_if(run.eigenvalues.begin(), run.eigenvalues.end(), [&](double x) { return x > cut; }));
}

bool has_outlier(const SpectralRun& run, double edge, int k) {
  return count_outliers(run, edge) >= k && run.overlap.at(k - 1) >= kFound;
}

reports::ClaimReport compare_bracket(const std::vector<BracketCell>& cells, const std::vector<double>& thresholds,
                                     const std::vector<double>& alpha_oracle) {
  reports::ClaimReport r;
  r.claim = "C5";
  r.title = "Below alpha_k the spectral estimator has no outlier for direction k, above it has one";
  r.tolerance_reason =
      "direction k has an outlier in a run when >= k eigenvalues lie beyond the predicted bulk edge x (1 + 2 d^-2/3) and a "
      "top eigenvector has q_k >= 0.1; the fraction of seeds with one must be < 0.5 at alpha <= 0.65 alpha_k and > 0.5 at "
      "alpha >= 2 alpha_k (compare_spectrum's 0.5 on a mean count; at 1.5 alpha_k the predicted outlier is only 2-3% above "
      "the edge, within its d = 1000 fluctuation)";
  for (const auto& c : cells) {
    for (const auto& run : c.runs)
      if (std::find(r.seeds.begin(), r.seeds.end(), run.seed) == r.seeds.end()) r.seeds.push_back(run.seed);
    const double ak = thresholds.at(c.k - 1);
    const bool below = c.alpha <= kBelow * ak, above = c.alpha >= kAbove * ak;
    if (!below && !above) continue;
    int lo = 1 << 30, hi = 0;
    std::vector<double> has;
    for (const auto& run : c.runs) {
      const int n = count_outliers(run, c.edge);
      lo = std::min(lo, n);
      hi = std::max(hi, n);
      has.push_back(has_outlier(run, c.edge, c.k) ? 1.0 : 0.0);
    }
    const auto st = stats(has);
    std::ostringstream label;
    label << "direction " << c.k << (below ? " no outlier" : " outlier") << " at alpha = " << c.alpha << " = "
          << c.alpha / ak << " alpha_k";
    if (below && !alpha_oracle.empty()) label << " (" << c.alpha / alpha_oracle.at(c.k - 1) << " alpha_oracle)";
    label << ": fraction of seeds with one; eigenvalues beyond the cut per seed " << lo << ".." << hi;
    reports::Point p;
    p.label = label.str();
    p.x = c.alpha;
    p.measured = st.mean;
    p.measured_error = st.se;
    p.expected = below ? 0.0 : 1.0;
    p.tolerance = 0.5;
    p.pass = std::abs(p.measured - p.expected) < 0.5;
    r.record(p);
  }
  return r;
}

bool check_bracket_overlaps(reports::ClaimReport& r, const std::vector<BracketCell>& cells, const std::vector<double>& thresholds,
                            const std::vector<theory::Estimate>& predicted) {
  bool ok = true;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& c = cells[i];
    const double f = c.alpha / thresholds.at(c.k - 1);
    if (f < 1.5 - 1e-9) continue;
    std::vector<double> q;
    for (const auto& run : c.runs) q.push_back(run.overlap.at(c.k - 1));
    const auto st = stats(q);
    const std::string at = " at alpha = " + theory::short_number(c.alpha) + " = " + theory::short_number(f) + " alpha_k";
    if (f < kAbove) {
      reports::Point p{"q_" + std::to_string(c.k) + " found (mean >= " + theory::short_number(kFound) + ")" + at, c.alpha, st.mean, st.se, kFound, 0,
                       st.mean >= kFound};
      ok &= r.record(p);
    } else {
      const int d = c.runs.empty() ? 1000 : c.runs.front().d;
      ok &= r.check("q_" + std::to_string(c.k) + at + " (Theory B)", c.alpha, st.mean, st.se, predicted.at(i).value,
                    3 * std::hypot(st.se, predicted.at(i).error) + 0.03 * std::sqrt(1000.0 / d));
    }
  }
  return ok;
}

}  // namespace hmi::verify

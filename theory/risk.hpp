#pragma once
// Theory E (THEORY.md section 7): prediction error of the two-stage learner
//   f_hat(x) = c + sum_{j<=m} a_j sigma(<v_j, x>)  [+ sum_j b_j <v_j, x> when mu_1 != 0],
// first layer v_1..v_m (unit vectors) from the spectral estimator, readout by least squares
// on n_r samples independent of the first layer. Risk = excess test error E[(f* - f_hat)^2].
//
// Conventions: alpha = n/d; overlaps squared, q_k = <v_k, w_k>^2; directions 1-based in
// output; the student's features use the teacher's activation sigma.
//
// For direction k seen through one unit vector v with <v, w_k> = +sqrt(q) (s = <v, x>,
// z_k = sqrt(q) s + sqrt(1-q) g, g independent), the best readout leaves
//   lambda_k^2 Var sigma (1 - rho^2(q)),
// rho^2 = fraction of Var sigma(z_k) explained by the features of v. One feature sigma(s):
// rho = sum_{j>=1} mu_j^2 q^(j/2) / j! / Var sigma (THEORY's formula; he2: rho = q). With the
// linear feature s as well, rho^2 is the 2x2 regression R^2 (checked in risk.cpp). The sign
// of <v, w_k> is taken positive: exact for even sigma (the only case Theory B covers), an
// assumption otherwise.
//
// Summed (directions k > m cannot be represented, directions below threshold have q = 0):
//   R = sum_{k>m} lambda_k^2 Var sigma + sum_{k<=m} lambda_k^2 Var sigma (1 - rho_k^2)
//       + (1/n_r) [ P (Delta + B) + sum_{k<=m} lambda_k^2 kappa(q_k) ]              (*)
// B = the two bias sums, P = readout parameters (1 + m, or 1 + 2m with the linear term).
// The last bracket is the asymptotic least-squares variance tr(Sigma^-1 E[F F^T r^2]) / n_r
// (sandwich form). THEORY writes it as (m/n_r)(Delta + unexplained variance), which assumes
// the residual independent of the features; it is not: direction k's residual
// u_k = lambda_k (sigma(z_k) - best fit) depends on s_k, and kappa(q) = E[u^2 F^T Sigma^-1 F]
// - dim(F) E[u^2] (per lambda_k^2) is the difference. For he2, kappa(q) = 8 q (1 - q)
// (closed form below; derivation in theory/RISK.md), up to 2 lambda_k^2: comparable to the
// P (Delta + B) term. Measured in verify/test_c7_readout.cpp.
#include <cstdint>
#include <string>
#include <vector>

#include "theory/activation.hpp"
#include "theory/model.hpp"
#include "theory/numerics.hpp"
#include "theory/spectral.hpp"

namespace hmi::theory {

/// The readout of one direction learned with overlap q: explained fraction rho^2(q) and the
/// heteroscedastic variance excess kappa(q), both for lambda_k = 1 and relative to Var sigma
/// where stated. Built once per activation (Hermite coefficients up to order 60 by
/// quadrature; kappa by a 2-D Gauss-Hermite rule).
class ReadoutCalculus {
 public:
  /// linear_term: include <v, x> among the features (-1 = iff |mu_1| > 1e-10 Var sigma^(1/2)).
  explicit ReadoutCalculus(const Activation& sigma, int linear_term = -1);

  double variance() const { return var_sigma_; }  ///< Var sigma
  bool linear_term() const { return linear_; }
  int features_per_direction() const { return linear_ ? 2 : 1; }
  /// rho^2(q) in [0, 1]: fraction of Var sigma(z_k) explained; q in [0, 1].
  double explained(double q) const;
  /// kappa(q) (in units of lambda_k^2, not divided by Var sigma): excess of the least-squares
  /// variance of one direction's features over the independent-residual value.
  double heteroscedastic(double q) const;
  /// Cov(sigma(z), sigma(s)) with corr(z, s) = c (Hermite series; used by the tests).
  double covariance(double c) const;

 private:
  Activation sigma_;
  double var_sigma_ = 0, mu0_ = 0, mu1_ = 0;
  bool linear_ = false;
  bool he2_ = false;
  std::vector<double> weight_;  ///< mu_j^2 / j!, j = 0..J
};

/// The terms of (*) at one point.
struct RiskTerms {
  double unlearned = 0;  ///< sum over directions the width cannot represent (k > m)
  double learned = 0;    ///< sum over k <= m of lambda_k^2 Var sigma (1 - rho_k^2) (q = 0 counts fully)
  double variance = 0;   ///< readout estimation error (0 when n_r is infinite)
  int parameters = 0;    ///< P
  double bias() const { return unlearned + learned; }
  double total() const { return unlearned + learned + variance; }
};

/// (*) for given overlaps: lambda = the teacher's amplitudes (all p), q[k] = overlap of
/// direction k+1 (entries beyond q.size() count as 0), width m >= 1, readout_samples n_r
/// (0 = infinite: no variance term), noise = Delta. Throws std::invalid_argument on bad input.
RiskTerms risk_from_overlaps(const std::vector<double>& lambda, const std::vector<double>& q, int width,
                             double readout_samples, double noise, const ReadoutCalculus& rc);

/// What a risk curve needs besides the model. Aggregate; use designated initializers.
struct RiskConfig {
  int width = 0;                     ///< m >= 0 (0 = p)
  int d = 0;                         ///< dimension, turns alpha into n = alpha d; 0 = no variance term
  std::uint64_t readout_samples = 0; ///< n_r; 0 = n (a fresh sample as large as the training set)
  int linear_term = -1;              ///< -1 auto (mu_1 != 0), 0 off, 1 on
  void validate(int p) const;        ///< throws "field = value (must be ...)"
};

struct RiskPoint {
  double alpha = 0;
  Estimate risk;     ///< total; error = theory numerical error propagated from the overlaps
  RiskTerms terms;
  std::vector<double> overlap;  ///< q_k used (k <= min(p, m))
};

struct RiskPrediction {
  SpectralPrediction spectral;  ///< the overlaps' source (Theory A or B, see spectral.method)
  double target_variance = 0;   ///< Var f* = sum_k lambda_k^2 Var sigma (risk of the best constant)
  int width = 0;
  bool linear_term = false;
  std::vector<RiskPoint> curve;
  std::string note;
};

/// R(alpha) from an existing prediction's overlaps (it must cover directions k <= min(p, m)).
RiskPrediction risk_from_spectral(const ModelConfig& model, SpectralPrediction spectral, const RiskConfig& cfg);

/// R(alpha) from predict_spectral's overlaps (Theory B for bounded T and even sigma when
/// method allows it, else Theory A). Overlaps are computed for directions k <= min(p, m)
/// only (opt.max_directions is overridden).
RiskPrediction predict_risk(const ModelConfig& model, const std::vector<double>& alphas, const RiskConfig& cfg,
                            Method method = Method::automatic, TheoryOptions opt = {});

/// -(1 - 1/(2 gamma)) for gamma > 1/2 (THEORY section 7); NaN otherwise (no power law).
double asymptotic_risk_exponent(double gamma);

/// Least-squares slope of log R against log alpha over the points with lo <= alpha <= hi.
struct ExponentFit {
  double slope = 0;
  double intercept = 0;
  double rms_residual = 0;  ///< of log R about the line (the staircase's ripple)
  int points = 0;
};
ExponentFit fit_log_slope(const std::vector<double>& x, const std::vector<double>& y, double lo, double hi);

/// The risk curve of Theory A (closed form, T = identity) without readout variance and with
/// m = p, on a log grid of `per_decade` points per decade over [alpha_lo, alpha_hi], for
/// reading off the asymptotic exponent: large p keeps k*(alpha) < p over the window (and the
/// truncated tail sum_{k>p} lambda_k^2 negligible: p ~ 1e6 for gamma = 0.75). RiskPoint::overlap
/// is left empty (p values per point would not fit in memory).
std::vector<RiskPoint> leading_order_bias_curve(const ModelConfig& model, double alpha_lo, double alpha_hi,
                                                int per_decade = 20);

}  // namespace hmi::theory

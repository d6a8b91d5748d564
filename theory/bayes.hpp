#pragma once
// Theory F: Bayes-optimal overlap of one direction's oracle channel by GLM state evolution
// (Barbier, Krzakala, Macris, Miolane, Zdeborova 2019; derivation and checks in docs/bayes.md).
//
// Conventions: the oracle channel of direction k is y = f(z) + sqrt(Delta) xi with
// f = lambda_k sigma, z = <w_k, x> ~ N(0,1), xi ~ N(0,1), prior w ~ N(0, I) (rho = 1);
// alpha = n / d; overlaps are q = E[w_hat . w] / d in [0, 1]. With
//   Z_out(y; omega, V) = E_u N(y; f(omega + sqrt(V) u), Delta),   g_out = d/d omega log Z_out,
//   m(q)      = E_{omega ~ N(0,q)} Int dy Z_out g_out^2        at V = 1 - q      (so q_hat = alpha m)
//   Psi_out(q) = E_{omega ~ N(0,q)} Int dy Z_out log Z_out      at V = 1 - q
// the state evolution is q_hat = alpha m(q), q = q_hat / (1 + q_hat), and the Bayes-optimal
// fixed point maximises the free entropy
//   Phi(q) = (q_hat - log(1 + q_hat)) / 2 + alpha Psi_out(q) - q q_hat / 2,  q_hat = q / (1 - q)
// (stationarity in q_hat gives q = q_hat/(1+q_hat); in q it needs Psi_out' = m / 2, which
// verify/test_bayes.cpp checks by a numerical derivative).
//
// Method: a 3-D quadrature (omega, z, y) built from the panels of theory/mesh (the z-axis of
// theory/information): omega on [-9 sqrt q, 9 sqrt q] in panels of width sqrt q, z on [-9, 9] in
// panels of width min(1, sqrt V), both bisected where f varies by more than panel_resolution *
// sqrt(Delta); y in uniform panels panel_resolution * sqrt(Delta) wide over the range of f plus
// 10 sqrt(Delta). Gaussian factors below e^-45 (|y - f| or |z - omega| beyond 9.5 standard
// deviations) are skipped. Error = change when every panel on the three axes is halved.
// Limits: the sums are plain (no expm1 form as in theory/information), so relative precision is
// ~1e-16 Delta / lambda^2 at weak signal; requests with lambda^2 / Delta < 1e-8 are refused.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "theory/model.hpp"
#include "theory/numerics.hpp"

namespace hmi::theory {

/// Quadrature and root-finding controls. Aggregate: use designated initializers.
struct BayesConfig {
  int nodes_per_panel = 8;          ///< Gauss-Legendre order per panel; in [2, 64]
  double panel_resolution = 4.0;    ///< f varies by <= this * sqrt(Delta) across a panel; in (0, 100]
  std::vector<double> kinks = {};   ///< z where f or f' jumps (0 is always an edge)
  bool even = false;                ///< f(-z) = f(z): q = 0 is then an exact fixed point
  int scan_points = 20;             ///< grid of q on which F(q) - q is scanned for roots; in [4, 400]
  double root_tol = 1e-9;           ///< bisection stops when the bracket is below this (in q); in (0, 1e-2]
  /// Throws std::invalid_argument "BayesConfig.field = value (must be ...)".
  void validate() const;
};

/// m(q) and Psi_out(q) with their errors (change under halving every panel).
struct OutputIntegrals {
  Estimate m;        ///< E Int Z_out g_out^2 = q_hat / alpha
  Estimate psi_out;  ///< E Int Z_out log Z_out (includes the -log(2 pi e Delta)/2-type constant)
  std::int64_t work = 0;  ///< kernel multiply-adds, both levels
};

/// At overlap q in [0, 1). `level` >= 0 is the coarse level (the error compares it with level + 1).
/// Throws std::invalid_argument for an empty f, Delta <= 0, q outside [0, 1), or non-finite f.
OutputIntegrals output_integrals(const std::function<double(double)>& f, double Delta, double q,
                                 const BayesConfig& config = {}, int level = 0);
/// m(q) only at one level (no error; used inside the root search).
double output_m(const std::function<double(double)>& f, double Delta, double q, const BayesConfig& config, int level);

/// One fixed point q* = F(q*), F(q) = alpha m / (1 + alpha m).
struct FixedPoint {
  Estimate q;       ///< error: quadrature (|F_1 - F_0| / |1 - F'|) plus root tolerance
  double q_hat = 0; ///< alpha m(q*)
  Estimate phi;     ///< free entropy at q*
  double slope = 0; ///< F'(q*) (stable when < 1)
};

/// State evolution of one channel at one alpha.
struct BayesPoint {
  double alpha = 0;
  FixedPoint algorithmic;  ///< reached by iterating F from q = 0+ (what GAMP reaches)
  FixedPoint informed;     ///< reached from q = 1- (the largest fixed point)
  FixedPoint bayes;        ///< the one with the larger free entropy (= both when they coincide)
  int roots = 0;           ///< fixed points found on the scan (sign changes of F(q) - q, plus 0 if even)
  std::string status;      ///< "ok" | "ambiguous" (free entropies equal within errors; bayes = informed)
};

/// Fixed points and the Bayes-optimal overlap at one alpha > 0.
BayesPoint bayes_point(const std::function<double(double)>& f, double Delta, double alpha, const BayesConfig& config = {});

/// The iteration q_{t+1} = F(q_t) from q_0 (what GAMP tracks), t = 0..iterations (so
/// iterations + 1 values), at the coarse level (no error).
std::vector<double> state_evolution(const std::function<double(double)>& f, double Delta, double alpha, double q0,
                                    int iterations, const BayesConfig& config = {});

/// Large-alpha asymptote 1 - q ~ Delta / (alpha E[f'(z)^2]) (docs/bayes.md). Throws for
/// non-positive arguments.
double bayes_asymptote_gap(double mean_df2, double Delta, double alpha);

/// Gaussian channel f = lambda z (closed form, docs/bayes.md): m(q) = lambda^2 / (Delta + lambda^2 (1 - q)),
/// and the fixed point q* = [b - sqrt(b^2 - 4 alpha lambda^4)] / (2 lambda^2), b = lambda^2 (1 + alpha) + Delta.
double gaussian_channel_m(double lambda, double Delta, double q);
double gaussian_channel_overlap(double lambda, double Delta, double alpha);

/// Linear-stability threshold of q = 0: lim_{q->0} q / m(q) (an even f), from m at q = 1e-6 and 2e-6
/// extrapolated linearly to q = 0; error: quadrature plus the extrapolation's change. For
/// comparison with theory/information's oracle threshold.
Estimate bayes_threshold(const std::function<double(double)>& f, double Delta, const BayesConfig& config = {});

/// Per-direction curves of a model (oracle channel of each direction k <= directions).
struct DirectionBayes {
  int k = 0;
  double lambda = 0;
  std::vector<BayesPoint> points;  ///< one per alpha, in order
};
struct BayesCurves {
  std::vector<double> alphas;
  std::vector<DirectionBayes> directions;  ///< k = 1..directions
  std::vector<Estimate> risk_oracle;       ///< R^or(alpha), one per alpha (directions > `directions`: q = 0)
  std::string note;                        ///< caveats (empty when none)
};
/// Throws std::invalid_argument for an invalid model, Delta = 0, alphas not > 0, or directions outside [1, p].
BayesCurves bayes_curves(const ModelConfig& model, const std::vector<double>& alphas, int directions,
                         const BayesConfig& config = {}, int threads = 0);

/// R^or = sum_k lambda_k^2 sum_{j>=1} mu_j^2 (1 - q_k^j) / j!; mu_0..mu_8 given (with errors), the
/// j > 8 tail is Var sigma - sum_{j<=8} mu_j^2/j! times a factor in [1 - q^9, 1] (midpoint, half-width
/// in the error). q_k with errors; lambdas.size() == q.size().
Estimate oracle_risk(const std::vector<double>& lambdas, const std::vector<Estimate>& q, const std::vector<Estimate>& mu,
                     Estimate var_sigma);

}  // namespace hmi::theory

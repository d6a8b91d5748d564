#pragma once
// Rate optimality of the spectral estimator: its thresholds against the information-theoretic
// ones, direction by direction (THEORY.md sections 3-5; claims C5 and C8).
//
// Conventions as in theory/spectral.hpp and theory/information.hpp: alpha = n/d; directions k
// are 1-based; amplitudes lambda_k carry their signs; every number that comes from a numerical
// approximation carries its error (Estimate, or ThresholdResult.error).
//
// Per direction k this unit computes
//  * the spectral threshold alpha_k, at any k <= p (p up to 100000):
//      T = identity  Theory A in closed form: Var y / (mu2 lambda_k)^2 (section 3);
//      T = square    Theory A in closed form from Gaussian moments of sigma:
//                    theta_k = E[y^2 (z_k^2 - 1)] = lambda_k^2 kappa + 2 lambda_k mu2 E[R_k],
//                    kappa = E[sigma^2 (z^2 - 1)], and Var(y^2) from the moments of each term;
//      bounded T     (clip:C, square-clip:C) Theory A, and Theory B when sigma is even (section 4),
//                    by Monte Carlo over (y, z_k) with control variates (below);
//  * the information-theoretic thresholds: oracle and agnostic (theory/information.hpp);
//  * their ratio, its predicted k -> infinity limit, and least-squares log-log slopes.
//
// Bounded T, by default: the deterministic quadrature law of (T(y), z_k) (theory/theory_b.hpp,
// docs/theory-b.md) on two grids, theta_k, Var T, E T', E T'' and both thresholds with the
// two-grid difference as error (~1e-12 relative at every k: no Monte Carlo noise growing with k).
// Where it does not apply (Delta = 0, or beyond its cost budget, e.g. he4 at p = 1000) or with
// RateOptions.quadrature_law = false, the Monte Carlo path below.
// Bounded T, Monte Carlo: one sample of (y, z_k), k in the requested set (all p directions drawn,
// so p ~ 1000 costs ~1-3 s for 2^18 samples). Write y = lambda_k sigma(z_k) + R_k with R_k
// independent of z_k. A plain Monte Carlo mean of f(T(y)) (z_k^2 - 1) has an O(1) standard
// deviation while its expectation is O(lambda_k) (O(lambda_k^2) when mu2 = 0), so its relative
// error grows like k^gamma (k^(2 gamma)): theory/spectral.hpp's Theory B loses k >~ 16 (4% on
// alpha_16 with 2^20 samples). Two remedies:
//  * Theory A: theta_k = E_R[ E_z[(z^2 - 1) T(R_k + lambda_k sigma(z))] ] by conditional Monte
//    Carlo: the inner expectation by a 32-node Gauss-Hermite rule at each sampled R_k (exact for
//    piecewise-polynomial integrands except across a kink of T; the error estimate adds the
//    difference to the 64-node rule). Measured: ~0.02% on theta_k for he2/clip:3 and 1-2% for
//    he4/square-clip:4 at every k up to 1000 (2^18 samples), where plain sampling is hopeless
//    (he4: lambda sigma(z) is heavy-tailed, per-sample relative spread ~50-130).
//  * Theory B (section 4: psi' = 0 and psi = phi_k at the edge) is the root l > tau of
//        E[t^2 / (l - t)^2] = E[t (z_k^2 - 1) / (l - t)]          (t = T(y) - E T),
//    alpha_k = 1 / E[t^2 / (l - t)^2] there. Its right-hand side uses control variates:
//    E[f(T(R_k)) (z_k^2 - 1)] = 0 for every f (independence), so (f(T(y)) - f(T(R_k))) (z_k^2-1),
//    of standard deviation O(lambda_k), replaces f(T(y)) (z_k^2 - 1); when mu2 = 0 (beta* >= 2)
//    also E[f'(T(R_k)) T'(R_k) lambda_k sigma(z_k) (z_k^2 - 1)] = lambda_k mu2 E[f' T'] = 0 is
//    subtracted. Per direction the form (plain, first- or second-order) with the smallest batch
//    standard error of theta_k is used. Measured: 1-2% on alpha_k for he2/clip:3 at every k up to
//    1000 (2^18 samples; agrees with theory/spectral.hpp within 2 sigma at k <= 16). For he4 the
//    residuals are heavy-tailed too: 1-8% at k <= 5, useless beyond (RateOptions.exact_max_k);
//    there Theory A stands in, since Theory B -> Theory A as alpha_k -> infinity (relative
//    correction O(lambda_k^beta*); he2/clip:3, gamma = 1: alpha_B / alpha_A - 1 ~ 1.2 lambda_k,
//    0.05 at k = 18, below the 1.5% Monte Carlo error beyond k ~ 50).
// Errors: standard error over 8 interleaved batches, as in theory/spectral.hpp.
//
// Predicted limit of alpha_k(spectral) / alpha_k(oracle) as k -> infinity (weak spikes, Delta > 0).
// Taylor in lambda: theta_k = lambda mu2 E[T'(y)] + lambda^2 kappa E[T''(y)] / 2 + ...; the
// oracle's weak-signal laws are Delta / (mu2 lambda)^2 (mu2 != 0) and 2 Delta^2 / (kappa lambda^2)^2
// (mu2 = 0; theory/INFORMATION.md). Hence
//     beta* = 1:  L = Var T / (Delta E[T'(y)]^2)       (identity: Var y / Delta)
//     beta* = 2:  L = 2 Var T / (Delta E[T''(y)])^2
// (+inf when beta* = 1 and E[T'] = 0: then alpha_k(spectral) grows like k^(4 gamma), not k^(2 gamma)).
// E[T'(y)] and E[T''(y)] come from Stein's identity on the label noise: y = u + sqrt(Delta) xi,
// E[T'(y)] = E[T(y) xi] / sqrt(Delta), E[T''(y)] = E[T(y) (xi^2 - 1)] / Delta (no densities needed).
#include <cstdint>
#include <string>
#include <vector>

#include "theory/information.hpp"
#include "theory/model.hpp"
#include "theory/numerics.hpp"

namespace hmi::theory {

/// Controls of the rate computations. Aggregate: use designated initializers.
struct RateOptions {
  std::uint64_t mc_samples = 1u << 18;  ///< (y, z_k) sample for bounded T; in [4096, 2^24]
  std::uint64_t mc_seed = 20260205;     ///< fixed, independent of the model seed
  bool error_bars = true;               ///< 8-batch standard errors (doubles the solver cost)
  int threads = 0;                      ///< worker threads (0 = hardware concurrency); results do not depend on it
  int exact_max_k = 100000;             ///< Theory B only for k <= this (its Monte Carlo error grows with k
                                        ///< for heavy-tailed sigma with beta* = 2; Theory A does not)
  bool information = true;              ///< also compute the oracle and agnostic thresholds
  bool quadrature_law = true;           ///< bounded T: deterministic quadrature (theory/theory_b.hpp) where
                                        ///< it applies (Delta > 0, within its budget); else Monte Carlo
  ThresholdConfig quadrature = {};      ///< for the information-theoretic thresholds
  /// Throws std::invalid_argument "RateOptions.field = value (must be ...)".
  void validate() const;
};

/// Spectral threshold of one direction.
struct SpectralThreshold {
  int k = 0;
  double lambda = 0;
  Estimate theta;          ///< E[T(y) (z_k^2 - 1)]
  Estimate alpha_leading;  ///< Theory A: Var T / theta_k^2
  Estimate alpha_exact;    ///< Theory B; value NaN where it does not apply (unbounded T or non-even
                           ///< sigma) or was not asked for (k > RateOptions.exact_max_k)
  /// Theory B where it applies, else Theory A.
  const Estimate& alpha() const;
};

struct SpectralThresholds {
  std::string method;   ///< how the numbers were obtained (closed form / Monte Carlo with control variates)
  bool exact = false;   ///< alpha_exact computed (bounded T, even sigma)
  int beta_star = 0;    ///< of sigma (theory/activation.hpp)
  double mean_T = 0;    ///< E[T(y)] (the centring constant)
  Estimate var_T;       ///< Var T(y)
  Estimate mean_dT;     ///< E[T'(y)]
  Estimate mean_d2T;    ///< E[T''(y)]
  std::vector<SpectralThreshold> directions;  ///< one per requested k, in order
};

/// Spectral thresholds of directions `ks` (1-based, each in [1, p]). Throws std::invalid_argument
/// for an invalid model or options, or k outside [1, p].
SpectralThresholds spectral_thresholds(const ModelConfig& model, const std::vector<int>& ks, const RateOptions& opt = {});

/// Information-theoretic thresholds of one direction (for `hmi theory`).
struct DirectionInformation {
  int k = 0;
  bool oracle_defined = false;    ///< false when Delta = 0 (the oracle problem is then noiseless)
  bool agnostic_defined = false;  ///< false when Delta = 0 and no other direction adds noise
  ThresholdResult oracle;
  ThresholdResult agnostic;
};

/// Oracle and agnostic thresholds of directions 1..`directions` (threads as in RateOptions).
/// Throws std::invalid_argument for an invalid model or `directions` outside [1, p].
std::vector<DirectionInformation> information_thresholds(const ModelConfig& model, int directions,
                                                         const ThresholdConfig& quadrature = {}, int threads = 0);

/// How far an information threshold can be trusted: "undefined" (not defined for the model, e.g.
/// the oracle at Delta = 0), "never" (alpha_c = +inf: no weak recovery at any alpha), "unresolved"
/// (the quadrature error is at least a third of the value, so the value says nothing; e.g. a
/// constant activation, whose E[z^2 - 1 | y] is rounding noise, gave 8e59 +- 7e59), "resolved".
std::string information_status(const ThresholdResult& r, bool defined);

/// Caveats for a model's information thresholds (empty when none): Delta = 0; mu1 != 0 (then
/// the formula gives the second-order threshold, not an information-theoretic bound).
std::string information_note(const ModelConfig& model);

/// One direction of a rate sequence.
struct RatePoint {
  int k = 0;
  double lambda = 0;
  Estimate alpha_spectral;   ///< SpectralThreshold::alpha()
  Estimate alpha_leading;    ///< Theory A
  ThresholdResult oracle;    ///< alpha_c (+inf when not defined)
  ThresholdResult agnostic;
  Estimate ratio_oracle;     ///< alpha_spectral / oracle
  Estimate ratio_agnostic;   ///< alpha_spectral / agnostic
};

struct RateSequence {
  SpectralThresholds spectral;
  int beta_star = 0;
  double rate_exponent = 0;  ///< 2 gamma beta* (the companion paper's law alpha_k ~ k^(2 gamma beta*))
  Estimate ratio_limit;      ///< predicted lim_k alpha_spectral / alpha_oracle (see the header); NaN if none
  std::vector<RatePoint> points;
};

/// Spectral and information-theoretic thresholds of directions `ks`, with their ratios.
RateSequence rate_sequence(const ModelConfig& model, const std::vector<int>& ks, const RateOptions& opt = {});

/// Least-squares fit log y = intercept + slope log x over the points with x in [x_lo, x_hi]
/// (points with non-finite or non-positive x or y are skipped). max_residual is the largest
/// |log y - fit| (natural log). slope_error propagates the absolute errors y_err (optional;
/// treated as independent) through the fit: sqrt(sum_i (w_i y_err_i / y_i)^2), w_i the
/// least-squares weights of the slope. points < 2 gives slope NaN.
struct SlopeFit {
  double slope = 0, intercept = 0, max_residual = 0, slope_error = 0;
  int points = 0;
  double x_lo = 0, x_hi = 0;
};
SlopeFit loglog_fit(const std::vector<double>& x, const std::vector<double>& y, double x_lo, double x_hi,
                    const std::vector<double>& y_err = {});

/// Directions to evaluate up to kmax: every k <= 10, then about `per_decade` log-spaced
/// integers per decade, always ending at kmax. Throws for kmax < 1 or per_decade < 1.
std::vector<int> k_grid(int kmax, int per_decade = 12);

}  // namespace hmi::theory

#pragma once
// Theory C (THEORY.md section 5): information-theoretic weak-recovery thresholds.
//
// Conventions: z ~ N(0,1); a single-index link y = g(z) + sqrt(noise_var) * xi with
// xi ~ N(0,1) independent of z; alpha = n / d; directions k are 1-based; amplitudes
// lambda_k carry their signs (THEORY.md section 1).
//
//   alpha_c = 1 / E_y[ (E[z^2 - 1 | y])^2 ]        (Mondelli-Montanari; Barbier et al.)
//
// The formula is the weak-recovery threshold for links with E[z | y] = 0 (e.g. even g); for
// other links it is still the spectral (second-order) threshold that this unit computes.
//
// Method (details and measured accuracy in theory/INFORMATION.md): deterministic 2-D
// quadrature. The z-axis is [-9, 9] cut into composite Gauss-Legendre panels, split at 0, at
// the caller's kinks, and wherever g varies by more than a fixed multiple of sqrt(noise_var)
// within a panel (the likelihood is a bump of width sqrt(noise_var)/|g'(z)| in z, which
// Gauss-Hermite cannot resolve at high signal-to-noise). The y-axis covers
// [min g - 10 sqrt(noise_var), max g + 10 sqrt(noise_var)] with uniform Gauss-Legendre panels.
// E[z^2 - 1 | y] is a ratio of sums in which the Gaussian factor is normalised by that of the
// z-node nearest to y (or, for a weak signal, of the mean of g); z-nodes below 3e-18 of the
// nearest are skipped. When every z-node contributes, the numerator (centred:
// sum a (z^2 - 1) = 0 exactly on the rule) may be summed as sum a (z^2 - 1)(e^w - 1), which
// keeps full relative precision for weak signals (lambda^2 / noise_var = 1e-20 for mu2 != 0;
// 8e-11 at lambda = 1e-7 for he4, mu2 = 0). The error estimate is the change of alpha_c when
// every panel in both axes is halved (node counts doubled); the truncation to |z| <= 9
// (relative effect ~1e-15, ~1e-11 for he4 at mu2 = 0) is not part of it.
// Cost: ~0.3-3 ms for he2/relu/abs/tanh at noise_var >= 0.01 and for weak signals; it grows like
// (range of g) / sqrt(noise_var) (phase retrieval at noise_var = 1e-6: ~1.5 s; he4 with
// lambda = 1 at noise_var = 0.1: ~0.2 s).
#include <cstdint>
#include <functional>
#include <vector>

namespace hmi::theory {

/// Quadrature controls for weak_recovery_threshold. Aggregate: use designated initializers.
struct ThresholdConfig {
  double rel_tol = 1e-6;           ///< converged when error / alpha_c < rel_tol; in (0, 1)
  std::vector<double> kinks = {};  ///< z where g or g' jumps (0 is always a panel edge)
  int nodes_per_panel = 10;        ///< Gauss-Legendre order per panel; in [2, 64]
  double panel_resolution = 4.0;   ///< level-0 panels: g varies by <= this * sqrt(noise_var)
                                   ///< across a z-panel; y-panels are this * sqrt(noise_var)
                                   ///< wide; in (0, 100]
  int min_level = 1;               ///< doublings done even if converged earlier (>= 1: an
                                   ///< error estimate needs two levels); in [1, 12]
  int max_level = 6;               ///< doublings allowed; min_level <= max_level <= 12
  double max_kernel_evaluations = 2e9;  ///< work budget (~10 s): a level beyond 1 that would
                                        ///< exceed it is skipped, even below min_level, and the
                                        ///< result keeps converged = false
  /// Throws std::invalid_argument "ThresholdConfig.field = value (must be ...)".
  void validate() const;
};

/// alpha_c with its estimated absolute error and what it cost.
struct ThresholdResult {
  double alpha_c = 0;     ///< 1 / inv_alpha (+inf when inv_alpha = 0: no weak recovery)
  double error = 0;       ///< |alpha_c(level L) - alpha_c(level L-1)|, absolute
  double inv_alpha = 0;   ///< E_y[(E[z^2 - 1 | y])^2]
  int nodes_used = 0;     ///< z_nodes + y_nodes of the final level
  bool converged = false; ///< error < rel_tol * alpha_c
  int z_nodes = 0;        ///< Gauss-Legendre nodes on the z-axis, final level
  int y_nodes = 0;        ///< Gauss-Legendre nodes on the y-axis, final level
  int level = 0;          ///< number of doublings of the final level
  std::int64_t kernel_evaluations = 0;  ///< (z, y) pairs summed over all levels (the work)
};

/// alpha_c for y = g(z) + sqrt(noise_var) xi. Throws std::invalid_argument for an empty g,
/// noise_var <= 0 or non-finite, rel_tol outside (0, 1), or g non-finite on [-9, 9].
/// A numerical shortfall never throws: it comes back as converged = false.
ThresholdResult weak_recovery_threshold(const std::function<double(double)>& g, double noise_var,
                                        double rel_tol = 1e-6);
ThresholdResult weak_recovery_threshold(const std::function<double(double)>& g, double noise_var,
                                        const ThresholdConfig& config);

/// Oracle bound for direction k (1-based): all other directions known, so the link is
/// g = lambda_k sigma and only the label noise is noise: noise_var = Delta (> 0).
/// var_sigma is not used (kept so that oracle and agnostic calls look alike).
/// Kinks of sigma go in config.kinks (g = lambda_k sigma has the same kinks).
ThresholdResult oracle_threshold(const std::function<double(double)>& sigma, double var_sigma,
                                 const std::vector<double>& amplitudes, int k, double Delta,
                                 const ThresholdConfig& config = {});

/// Agnostic bound for direction k: the other directions act as Gaussian noise,
/// noise_var = Delta + sum_{j != k} lambda_j^2 var_sigma (Delta >= 0, noise_var > 0).
ThresholdResult agnostic_threshold(const std::function<double(double)>& sigma, double var_sigma,
                                   const std::vector<double>& amplitudes, int k, double Delta,
                                   const ThresholdConfig& config = {});

/// Weak-signal asymptote (THEORY.md section 5): alpha_c ~ noise_var / (mu2 lambda)^2 as
/// lambda^2 / noise_var -> 0, with mu2 = E[sigma(z)(z^2 - 1)]. +inf when mu2 lambda = 0.
/// Throws std::invalid_argument for noise_var <= 0 or non-finite mu2, lambda, noise_var.
double weak_signal_threshold(double mu2, double lambda, double noise_var);

}  // namespace hmi::theory

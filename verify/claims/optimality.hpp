#pragma once
// Claim C9 (rate-optimal subspace recovery, docs/bayes.md): the spectral estimator's subspace error
// 1 - q_k^spectral (Theory B, T = clip:C) stays within a bounded factor of the Bayes-optimal oracle
// error 1 - q_k^BO (Theory F) over alpha in [2 alpha_k, 100 alpha_k] and over k: the two have the
// same exponents in alpha and in k. Theory against theory (no simulation): pure functions shared
// by verify/test_c9_optimality.cpp and, later, `hmi reproduce`. Statistics in optimality.cpp.
#include <cstdint>
#include <string>
#include <vector>

#include "reports/report.hpp"
#include "theory/model.hpp"
#include "theory/numerics.hpp"

namespace hmi::verify {

struct OptimalityCase {
  std::string name;
  theory::ModelConfig model;           ///< bounded T (clip) and even sigma: Theory B exact
  int directions = 7;                  ///< k = 1..directions enter the bound rho >= 1
  std::vector<int> weak_ks = {3, 4, 5, 6, 7};        ///< directions whose slopes are fitted
  std::vector<double> factors = {2, 10, 100};    ///< alpha = factor * alpha_k (alpha_k: spectral threshold)
};

struct OptimalityPoint {
  int k = 0;
  double factor = 0, alpha = 0;
  theory::Estimate q_spectral, q_bo;
  theory::Estimate ratio;  ///< (1 - q_spectral) / (1 - q_bo), error propagated
};

struct OptimalityCurves {
  OptimalityCase c;
  std::vector<double> alpha_threshold;  ///< spectral alpha_k, k = 1..directions
  std::vector<OptimalityPoint> points;  ///< k-major, factors in order
  std::string variant = "true";         ///< or the wrong prediction's name
};

/// The two curves at alpha = factor * alpha_k. Wrong predictions for the rejection checks:
/// spectral_gamma_factor != 1 takes the spectral overlaps from the model with gamma x that factor
/// (thresholds ~ k^(2 gamma x factor)) at the same alphas; bo_noise_factor != 1 computes the BO
/// curve with Delta x that factor. mc_samples: Theory B's Monte Carlo sample. Throws
/// std::invalid_argument when Theory B does not apply or a threshold is not finite.
/// `reuse` (the true curves of the same case and mc_samples) supplies whichever curve is not changed.
OptimalityCurves optimality_curves(const OptimalityCase& c, double spectral_gamma_factor = 1.0, double bo_noise_factor = 1.0,
                                   std::uint64_t mc_samples = 1u << 19, int threads = 2,
                                   const OptimalityCurves* reuse = nullptr);

/// C9's comparison (statistics and tolerances documented in optimality.cpp).
reports::ClaimReport compare_optimality(const std::vector<OptimalityCurves>& curves);

/// The cases the test runs: he2 (gamma = 1) and abs (gamma = 1.5), p = 8, Delta = 1, T = clip:3.
std::vector<OptimalityCase> default_optimality_cases();

}  // namespace hmi::verify

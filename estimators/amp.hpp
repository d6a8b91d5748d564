#pragma once
// GAMP (Rangan 2011) on the oracle channel of one direction k (docs/bayes.md):
//   y_k,i = y_i - sum_{j != k} lambda_j sigma(<w_j, x_i>) = lambda_k sigma(<w_k, x_i>) + sqrt(Delta) xi_i
// on data drawn by the project's generator (estimators/data.hpp), with the other directions'
// contributions subtracted using the teacher's projections (the oracle: everything but w_k known).
// Conventions: A = X / sqrt(d) (rows ~ N(0, I/d)), w* = sqrt(d) w_k (prior N(0, I)); overlaps are
// w_hat . w* / d, whose large-d limit is the state evolution q_t of theory/bayes.hpp. Scalar
// variances (i.i.d. A). Output denoiser: the Bayes-optimal g_out(y, omega, V) = d/d omega log Z_out
// by a 1-D panel quadrature over z = omega + sqrt(V) u (theory/mesh: the panels of the state
// evolution); input denoiser: the Gaussian posterior mean r / (1 + tau).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "estimators/data.hpp"

namespace hmi::est {

struct AmpConfig {
  int d = 2000;
  double alpha = 2.0;
  int k = 1;                     ///< direction (1-based) whose oracle channel is learned
  int iterations = 10;           ///< in [1, 1000]
  double q0 = 0.1;               ///< initial overlap: w_hat^0 from r = w* + noise of Nishimori level q0
                                 ///< (the state evolution's q_0); 0 = a random w_hat^0 (no signal)
  double denoiser_noise = -1;    ///< Delta the output denoiser assumes (< 0: the model's Delta)
  int nodes_per_panel = 8;       ///< quadrature of g_out; in [2, 64]
  double panel_resolution = 4.0; ///< in (0, 100]
  int threads = 1;               ///< data generation and the g_out loop; in [1, 256]
  /// Throws std::invalid_argument "AmpConfig.field = value (must be ...)".
  void validate(int p) const;
  int n() const;
};

struct AmpIteration {
  int t = 0;
  double overlap = 0;       ///< w_hat . w* / d (the state evolution's q_t)
  double self_overlap = 0;  ///< |w_hat|^2 / d (= q_t too, by Nishimori)
  double cosine = 0;        ///< w_hat . w* / (|w_hat| |w*|)
  double V = 0;             ///< the variance GAMP carries (1 - q_t in the state evolution)
};

struct AmpResult {
  int n = 0;
  std::vector<AmpIteration> trajectory;  ///< t = 0..iterations
  std::string status;                    ///< "ok" | "non_finite"
  double seconds = 0;
};

/// Runs GAMP on n = round(alpha d) fresh samples of `teacher` (stream 0, seed = teacher.seed).
/// The initial noise (q0) is drawn from stream 7 of the same seed. Throws std::invalid_argument
/// for an invalid config or Delta = 0.
AmpResult run_amp(const Teacher& teacher, const AmpConfig& cfg);

/// g_out and its omega-derivative at one (y, omega, V) for f = lambda sigma (exposed for tests).
struct OutputDenoiser {
  OutputDenoiser(const theory::Activation& sigma, double lambda, double Delta, double V, int nodes_per_panel,
                 double panel_resolution);
  /// g = Z'/Z, dg = Z''/Z - g^2 (Z'' the second omega-derivative).
  void operator()(double y, double omega, double& g, double& dg) const;

 private:
  double Delta_, V_;
  std::vector<double> z_, w_, f_;
};

}  // namespace hmi::est

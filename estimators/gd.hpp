#pragma once
// Gradient descent on the first layer of the student (THEORY.md section 6).
//   f(x) = c + sum_{j<=m} a_j phi(<u_j, x>),  phi = sigma,  L = (1/2n) sum_i (y_i - f(x_i))^2
// on the n = alpha d training samples of stream 0 (the spectral estimator's data).
//   -grad_{u_j} L = (1/n) sum_i r_i a_j phi'(<u_j, x_i>) x_i,   r_i = y_i - f(x_i).
// The intercept is set to its exact optimum every step (c += mean r: the residual is centred,
// THEORY's "intercept"). Two learners:
// * subspace (the small-lr limit of THEORY 6): after each step U <- eps U (U^T U)^(-1/2)
//   (symmetric re-orthonormalisation at the initial scale eps), readout a_j fixed. For
//   phi = he2, grad is exactly -sqrt(2) a D_r U with D_r = (1/n) sum r_i x_i x_i^T, and
//   r = y - mean y + O(eps^2): subspace iteration with I + lr sqrt(2) a M (T = identity).
// * plain: unconstrained GD (or minibatch SGD) from small initialisation, readout trained or
//   fixed; the trajectory records the loss and the per-direction overlaps.
// Conventions: overlaps squared, q_k(t) = max_j <u_j/|u_j|, w_k>^2; steps count from 0.
// Per-neuron overlaps are not rotation invariant: for phi = he2 the network is the quadratic
// form x^T (sum_j a_j u_j u_j^T) x / sqrt 2 + const, so neurons that share a learned subspace
// are any rotation of it (seen in plain GD: directions 1 and 2 end up mixed in the same
// neurons). The trajectory therefore also records the learned fraction of each direction,
//   l_k = Cov(f(x), sigma(<w_k, x>)) / (lambda_k Var sigma)   (1 for the teacher itself),
// which depends on the function only.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xtensor.hpp>

#include "estimators/data.hpp"
#include "estimators/readout.hpp"

namespace hmi::est {

inline constexpr std::uint64_t kInitStream = 5;  ///< rows j < m: the initial u_j (see readout.hpp on streams)

struct GdConfig {
  int width = 4;               ///< m
  double lr = 0.05;            ///< learning rate (> 0)
  int steps = 2000;            ///< GD steps (>= 1)
  double init_scale = 1e-3;    ///< |u_j| at initialisation (and the subspace learner's scale), > 0
  bool subspace = false;       ///< the re-orthonormalised small-lr learner (readout then fixed)
  bool train_readout = true;   ///< plain GD: train a_j as well
  double readout_init = 1.0;   ///< a_j at start (!= 0)
  int batch = 0;               ///< 0 = full batch; else minibatch SGD over consecutive windows of the training set
  int record = 200;            ///< trajectory points (subsampled uniformly, plus the last step)
  int threads = 1;
  int block = 2048;            ///< rows per block when the inputs are regenerated
  double cache_mb = 512;       ///< keep the n x d training inputs in memory when they fit (else regenerate per step)
  void validate() const;       ///< throws "field = value (must be ...)"
};

struct TrajectoryPoint {
  int step = 0;
  double loss = 0;                 ///< L on the full training set at this step (before its update)
  std::vector<double> overlap;     ///< q_k, k = 1..min(p, 32)
  std::vector<double> learned;     ///< l_k, k = 1..min(p, 32)
};

struct GdResult {
  Student student;
  std::vector<TrajectoryPoint> trajectory;
  std::uint64_t n = 0;
  int steps_done = 0;
  std::string status;  ///< "completed", "non_finite" (stopped at the first non-finite weight), "stopped" (callback)
};

/// Called at each recorded step with the current student; return false to stop.
using GdCallback = std::function<bool(int step, const Student&)>;

GdResult run_gd(const Teacher& t, std::uint64_t n, const GdConfig& cfg, const GdCallback& callback = {});

/// Per-direction overlaps max_j <u_j/|u_j|, w_k>^2 for k = 1..K; NaN (not 0) for a direction
/// whose inner products are not finite (diverged weights).
std::vector<double> direction_overlaps(const Teacher& t, const xt::xtensor<double, 2>& U, int K);

/// Learned fractions l_k = Cov(f, sigma(<w_k, x>)) / (lambda_k Var sigma), k = 1..K, by the
/// Hermite expansion Cov(phi(<u, x>), sigma(<w, x>)) = sum_i E[phi(|u| s) He_i(s)] mu_i c^i / i!
/// (c = <u/|u|, w>, i = 1..8; exact for polynomial phi and sigma of degree <= 8).
std::vector<double> learned_fractions(const Teacher& t, const Student& s, int K);

/// Sines of the principal angles between span(A) and span(B) (d x m and d x m', any scaling),
/// largest first; min(m, m') values.
std::vector<double> principal_sines(const xt::xtensor<double, 2>& A, const xt::xtensor<double, 2>& B);

nlohmann::json trajectory_json(const std::vector<TrajectoryPoint>& tr);

}  // namespace hmi::est

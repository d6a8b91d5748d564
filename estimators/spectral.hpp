#pragma once
// The target-agnostic spectral estimator (THEORY.md section 2):
//   M = (1/n) sum_i (T(y_i) - mean_j T(y_j)) x_i x_i^T,   n = alpha d,
// accumulated block by block in O(d^2 + block d) memory: the n-by-d data matrix is never
// stored. Each block is regenerated from (seed, i); the weighted Gram X^T diag(w) X is two
// DSYRKs on the rows scaled by sqrt|w|, split by the sign of w.
// Conventions: eigenpairs ordered by |eigenvalue| descending; overlaps squared.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xtensor.hpp>

#include "estimators/data.hpp"

namespace hmi::est {

struct SpectralConfig {
  int d = 500;
  double alpha = 10.0;
  int top = 0;        ///< eigenpairs to compute; 0 = min(d, max(2 p, p + 8))
  int threads = 1;    ///< generation threads and OpenBLAS threads
  int block = 2048;   ///< rows per block (results do not depend on it beyond rounding)
  void validate(int p) const;  ///< throws "field = value (must be ...)"
  std::uint64_t n() const;     ///< round(alpha d)
  int top_for(int p) const;
};

struct Timing {
  double labels_s = 0;      ///< pass 1: labels only (p normals per sample, in the teacher basis) for the exact centring
  double accumulate_s = 0;  ///< pass 2: inputs again and the weighted Gram
  double eigen_s = 0;
  double total_s = 0;
};

/// Eigenpairs of a symmetric matrix with the solver's status (never throws on a numerical
/// outcome: status is "converged", "fallback_dense" or "non_finite"). A status other than
/// non_finite comes with finite eigenvalues and a finite residual (computed scaled, so entries
/// of M up to the largest double do not overflow it); non_finite when M has a non-finite
/// entry or the eigenvalues or residual are not representable.
struct Eigenpairs {
  std::vector<double> values;  ///< by |value| descending
  xt::xtensor<double, 2> vectors;  ///< d x K, column j belongs to values[j]
  std::string status;
  double residual = 0;  ///< max_j ||M v_j - value_j v_j||
  int iterations = 0;
};

/// Top-k eigenpairs by |eigenvalue| of symmetric M (full storage, d x d) by Lanczos (Spectra)
/// with a BLAS matrix-vector product; dense LAPACK when d is small or Lanczos fails.
Eigenpairs top_eigenpairs(const xt::xtensor<double, 2>& M, int k);

/// Centred M accumulated over samples [0, n); exact sample-mean centring by two passes
/// (pass 1 draws only the p teacher-basis normals of each sample and keeps one running sum;
/// pass 2 recomputes the labels, so memory does not grow with n).
xt::xtensor<double, 2> accumulate_spectral_matrix(const Teacher& t, std::uint64_t n, int threads, int block,
                                                  Timing* timing = nullptr, double* mean_T = nullptr);

struct Metrics {
  std::vector<double> overlap;           ///< q_k = max_j <v_j, w_k>^2 over the K eigenvectors
  std::vector<double> subspace_overlap;  ///< Q_k = ||V_K^T w_k||^2
  std::vector<double> principal_cosines; ///< cosines of principal angles span(V_m) vs span(W_m), m = min(p, K)
};
Metrics compute_metrics(const Teacher& t, const xt::xtensor<double, 2>& V);

struct SpectralResult {
  std::uint64_t n = 0;
  double mean_T = 0;
  Eigenpairs eig;
  Metrics metrics;
  Timing timing;
};

SpectralResult run_spectral(const Teacher& t, const SpectralConfig& cfg);

}  // namespace hmi::est

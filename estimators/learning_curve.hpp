#pragma once
// The spectral estimator along a learning curve: M(n) for nested prefixes [0, n) of one data
// stream, for a whole grid of alpha in one pass over the largest n (THEORY.md section 2).
//   M(n) = (1/n) sum_{i<n} (T_i - Tbar_n) x_i x_i^T = S_T(n)/n - Tbar_n S_1(n)/n,
//   S_T = sum T_i x_i x_i^T, S_1 = sum x_i x_i^T,
// identical in exact arithmetic to accumulate_spectral_matrix(t, n) (the exact sample-mean
// centring of each prefix), at ~1.5x the cost of the largest run instead of the sum over
// the grid. The point at alpha uses exactly the first round(alpha d) samples, so the curve of
// one seed is the learning curve of one data stream.
// Memory: three d x d matrices plus one block (O(d^2 + block d)).
#include <cstdint>
#include <vector>

#include "estimators/spectral.hpp"

namespace hmi::est {

struct CurveConfig {
  std::vector<double> alphas;  ///< increasing, > 0
  int top = 0;                 ///< eigenpairs per point (0 = SpectralConfig's default for p)
  int threads = 1;
  int block = 2048;
  void validate(const Teacher& t) const;  ///< throws "field = value (must be ...)"
};

struct CurvePointResult {
  double alpha = 0;
  std::uint64_t n = 0;
  double mean_T = 0;
  Eigenpairs eig;
  Metrics metrics;
};

std::vector<CurvePointResult> spectral_learning_curve(const Teacher& t, const CurveConfig& cfg);

}  // namespace hmi::est

#pragma once
// The student network, its ridge readout and its test risk (THEORY.md section 7).
//   f_hat(x) = c + sum_{j<=m} a_j phi(<u_j, x>) + sum_j b_j <u_j, x>     (b empty unless asked)
// phi = the teacher's activation sigma. Risk = excess test error E[(f*(x) - f_hat(x))^2]
// (noise-free target), estimated on fresh samples with its standard error.
//
// Data streams (generate_inputs / labels `stream` argument). Stream 0 is the training data
// of the first layer. Readout and test samples come from other streams, so that they are
// independent of the training data and sample i depends only on (seed, i). Input streams 1
// and 2 are NOT usable: estimators/data.cpp draws the teacher's Gaussian matrix from rows
// 0..p-1 of stream 1 and the label noise of data stream s from the first normal of row i of
// stream 2 + 16 s, so inputs on stream 1 would be functions of W (with the original
// generator, readout input 0 was exactly +-|g| w_1) and inputs on stream 2 would share their
// raw normals with the training labels' noise. Streams 3 and 4 (label noise 50 and 66) and
// 5 (GD initialisation, estimators/gd.hpp) are used by nothing else.
// Memory: O(m^2 + block d): the normal equations are accumulated block by block; the
// n-by-d readout data are never stored.
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "estimators/data.hpp"
#include "theory/activation.hpp"

namespace hmi::est {

inline constexpr std::uint64_t kTrainStream = 0;    ///< first-layer training data
inline constexpr std::uint64_t kReadoutStream = 3;  ///< fresh readout training data
inline constexpr std::uint64_t kTestStream = 4;     ///< test data for the risk

/// The two-layer student. U is d x m (column j = u_j).
struct Student {
  xt::xtensor<double, 2> U;
  std::vector<double> a;  ///< readout on phi(<u_j, x>), size m
  std::vector<double> b;  ///< readout on <u_j, x>: size m, or empty (no linear term)
  double c = 0;           ///< intercept
  theory::Activation phi;
  int width() const { return int(U.shape(1)); }
  /// f_hat for `rows` samples given their projections S = X U (rows x m, row-major).
  void predict(int rows, const double* S, double* f) const;
};

/// Columns of V scaled to unit norm (zero columns are left as they are).
xt::xtensor<double, 2> unit_columns(const xt::xtensor<double, 2>& V);

struct ReadoutConfig {
  double ridge = 1e-6;         ///< penalty on the non-intercept coefficients (>= 0), features have O(1) variance
  bool gcv = false;            ///< choose the penalty by generalised cross-validation (log grid 1e-8..10)
  std::uint64_t samples = 0;   ///< readout samples n_r (>= 1; the caller resolves "0 = n")
  bool same_samples = false;   ///< true: rows [0, n_r) of the training stream 0; false: fresh (kReadoutStream)
  std::uint64_t first = 0;     ///< first row in the readout stream (disjoint ranges give independent replicates)
  int linear_term = -1;        ///< features <u_j, x>: -1 iff mu_1 != 0, 0 off, 1 on
  int threads = 1;
  int block = 2048;
  void validate() const;  ///< throws "field = value (must be ...)"
};

struct ReadoutResult {
  Student student;
  double penalty = 0;       ///< the penalty used (chosen by GCV when asked)
  double gcv = 0;           ///< GCV score at that penalty
  double train_mse = 0;     ///< mean squared residual on the readout samples
  double condition = 0;     ///< condition number of the penalised normal matrix
  std::uint64_t samples = 0;
  int parameters = 0;
  std::string status;       ///< "ok", "ill_conditioned" (pseudo-inverse used), "non_finite"
};

/// Ridge readout on the features of the unit directions u_j / |u_j| (columns of U).
ReadoutResult fit_ridge(const Teacher& t, const xt::xtensor<double, 2>& U, const ReadoutConfig& cfg);

struct RiskEstimate {
  double value = 0;           ///< mean over test samples of (f* - f_hat)^2
  double standard_error = 0;  ///< sd / sqrt(samples)
  std::uint64_t samples = 0;
  std::string status;         ///< "ok" or "non_finite"
};

/// Excess test risk on samples [first, first + samples) of kTestStream.
RiskEstimate test_risk(const Teacher& t, const Student& s, std::uint64_t samples, int threads = 1, int block = 2048,
                       std::uint64_t first = 0);

/// Population risk of the best readout on unit directions V when sigma = he2 (exact): the
/// features he2(<v_j, x>) are orthonormal for orthonormal V, so
/// R = sum_k lambda_k^2 - sum_j (sum_k lambda_k <v_j, w_k>^2)^2. NaN for other activations or
/// non-orthonormal V (checked to 1e-8).
double he2_population_risk(const Teacher& t, const xt::xtensor<double, 2>& V);

}  // namespace hmi::est

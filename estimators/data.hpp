#pragma once
// The HMI teacher and its data generator (THEORY.md section 1).
// Reproducibility contract: sample i (its input x_i and its label noise xi_i) is a pure
// function of (seed, i), drawn from the counter-based Philox4x64-10 generator with counter
// (i, j/4, stream). Results therefore do not depend on block size or thread count.
// Streams: 0 = inputs x, 1 = teacher matrix, 2 = label noise, 3 = random signs,
// 4 = fresh test/readout inputs (offset by seed mixing, see fresh_seed()).
#include <cstdint>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "theory/activation.hpp"
#include "theory/model.hpp"

namespace hmi::est {

struct Teacher {
  int d = 0;
  int p = 0;
  std::uint64_t seed = 0;
  xt::xtensor<double, 2> W;  ///< d x p, orthonormal columns w_1..w_p
  std::vector<double> lambda;
  theory::Activation sigma;
  double noise = 0;
  theory::Preprocess T;
};

/// Builds the teacher: W from a d x p Gaussian matrix (stream 1) orthonormalised by QR.
/// Throws std::invalid_argument if the model is invalid or p > d.
Teacher make_teacher(const theory::ModelConfig& model, int d);

/// Fills `count` standard normals for row `row` of stream `stream` (deterministic).
void fill_gaussian_row(std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int count, double* out);

/// Rows [first, first + rows) of the input matrix X (row-major rows x d), using `threads`
/// threads. `stream` 0 is the training data; other streams give independent data.
void generate_inputs(const Teacher& t, std::uint64_t first, int rows, double* X, int threads, std::uint64_t stream = 0);

/// Labels y_i = sum_k lambda_k sigma(<w_k, x_i>) + sqrt(Delta) xi_i for the given rows of X.
/// `Z` (rows x p) receives the projections <w_k, x_i>; the noise is a function of (seed, i).
void labels(const Teacher& t, std::uint64_t first, int rows, const double* X, double* Z, double* y,
            std::uint64_t stream = 0);

/// Teacher output without noise, f*(x_i) = sum_k lambda_k sigma(z_ik), from projections Z.
void teacher_output(const Teacher& t, int rows, const double* Z, double* f);

}  // namespace hmi::est

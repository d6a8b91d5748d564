#pragma once
// The HMI teacher and its data generator (THEORY.md section 1).
// Reproducibility contract: sample i (its input x_i and its label noise xi_i) is a pure
// function of (seed, i) (and of the teacher, itself a function of (seed, d, p)).
// Raw normals: normal j of row `row` in stream `stream` (fill_gaussian_row) comes from one 64-bit
// word of Random123's Philox4x32-10 with key (seed) and counter (pair, row, stream), pair =
// 32 (j / 64) + j % 32 (the low word for j % 64 < 32, the high word otherwise), through a
// 1024-box ziggurat (Marsaglia & Tsang 2000; tables in estimators/ziggurat_tables.inc, built by
// estimators/ziggurat_tables.py): box = bits 0-9, sign = bit 10, a 52-bit uniform from bits
// 12-63, accepted at once by an exact integer test for 99.57 % of words; the rest take the
// wedge / tail step with extra words from counters (2^31 + 128 j + attempt, row, stream).
// Exact in distribution up to the 52-bit resolution of the uniforms; tails unbounded (beyond
// r = 4.04 by Marsaglia's tail method). Bit-identical on every instruction set the vectorised
// kernel runs on (gaussian_isa()); verify/test_gaussian.cpp checks the tables, the agreement
// with a plain reference (verify/gaussian_reference.hpp) and the N(0, 1) law. (Until 2026-11
// the words went through Box-Muller, ~1.8x slower; the normals, hence every simulated number,
// changed with the switch; statistics did not.)
// Inputs: x_i = Q g_i, g_i the raw normals of row i, Q = H_1 ... H_p the Householder
// reflectors of the QR factorisation W = Q [R; 0] of the teacher's directions. Q is
// orthogonal, so x_i ~ N(0, I_d) exactly; and W^T x_i = R^T g_i[0..p), so the labels of a
// sample need only p raw normals (the spectral estimator's exact-centring pass costs O(n p),
// its Gram is accumulated on the raw g_i and rotated once, M = Q G Q^T; see
// accumulate_spectral_matrix). Results do not depend on block size, thread count or CPU.
// Streams: 0 = inputs x, 1 = teacher matrix, 2 = label noise, 3 = random signs,
// 4 = fresh test/readout inputs (offset by seed mixing, see fresh_seed()).
// 0x6b727901, 0x6b727903, 0x6b727905 = the krylov engine's fresh Gaussian columns, chi-square
// and Bartlett upper-triangle draws (estimators/krylov.hpp; odd, so never a label-noise 2 + 16 s).
#include <cstdint>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "theory/activation.hpp"
#include "theory/model.hpp"

namespace hmi::est {

/// Names the raw-normal definition above; recorded in reports and run folders, so that numbers
/// drawn with different generators are never mixed (a resumed run checks it).
inline constexpr const char* kGeneratorId = "philox4x32-10 ziggurat-1024";

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
/// Throws std::invalid_argument if stream >= 2^32.
void fill_gaussian_row(std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int count, double* out);

/// Instruction set the Gaussian kernel runs on: "avx512", "avx2", "sse2" or "generic" (the
/// widest available; the environment variable HMI_GAUSSIAN_ISA selects another one).
const char* gaussian_isa();
/// fill_gaussian_row on a named instruction set, for tests that all of them agree bit for bit.
/// Returns false (and writes nothing) if this CPU cannot run it.
bool fill_gaussian_row_isa(const char* isa, std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int count,
                           double* out);

/// Rows [first, first + rows) of the input matrix X (row-major rows x d), x_i = Q g_i (see
/// above), using `threads` threads. `stream` 0 is the training data; other streams give
/// independent data.
void generate_inputs(const Teacher& t, std::uint64_t first, int rows, double* X, int threads, std::uint64_t stream = 0);

/// Labels y_i = sum_k lambda_k sigma(<w_k, x_i>) + sqrt(Delta) xi_i for the given rows of X.
/// `Z` (rows x p) receives the projections <w_k, x_i>; the noise is a function of (seed, i).
void labels(const Teacher& t, std::uint64_t first, int rows, const double* X, double* Z, double* y,
            std::uint64_t stream = 0);

/// Teacher output without noise, f*(x_i) = sum_k lambda_k sigma(z_ik), from projections Z.
void teacher_output(const Teacher& t, int rows, const double* Z, double* f);

namespace detail {
/// The orthogonal Q of the contract above in compact WY form, Q = I - V T V^T (V d x p unit
/// lower trapezoidal, T p x p upper triangular), and R (p x p upper triangular, ~diag(+-1)),
/// row-major; V is stored twice for the row kernel: V (d x pp, columns zero-padded to a
/// multiple of 8) and Vt (p x d). Built by Householder QR of t.W in O(d p^2), deterministically.
struct TeacherBasis {
  int d = 0, p = 0, pp = 0;
  std::vector<double> V, Vt, T, R;
};
TeacherBasis teacher_basis(const Teacher& t);
/// Raw rows to inputs: X (rows x d) <- X Q^T, i.e. row g^T -> (Q g)^T, 4 d p flops per row with
/// a fixed summation order (bit-identical whatever the grouping of rows, threads or CPU).
void raw_to_inputs(const TeacherBasis& b, int rows, double* X);
/// Gram of raw rows to Gram of inputs: M (d x d, full storage, symmetric) <- Q M Q^T.
void raw_to_inputs_gram(const TeacherBasis& b, double* M);
/// Projections from the first p raw normals: Z (rows x p) = G[:, 0..p) R (= X W).
void projections_from_raw(const TeacherBasis& b, int rows, const double* G, int ldg, double* Z);
/// Labels from projections Z (rows x p): y = sum_k lambda_k sigma(Z_ik) + sqrt(Delta) xi_i
/// (what labels() does after computing Z = X W).
void labels_from_projections(const Teacher& t, std::uint64_t first, int rows, const double* Z, double* y,
                             std::uint64_t stream = 0);
}  // namespace detail

}  // namespace hmi::est

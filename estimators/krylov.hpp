#pragma once
// The law-exact block Krylov engine: the outlier eigenpairs of the centred spectral matrix
//   M = (1/n) sum_i (T(y_i) - mean_j T(y_j)) x_i x_i^T
// drawn *in law* at O(n (p + r)) memory and O(n (p + r)^2) flops, r the Krylov dimension,
// instead of the direct estimator's O(d^2) memory and O(n d^2) flops (docs/krylov.md).
// In coordinates where the teacher directions are e_1..e_p, x_i = (z_i, h_i) with z_i the
// teacher coordinates (drawn exactly as the direct engine draws them: same seed, same labels)
// and h_i in R^(d-p) an i.i.d. Gaussian vector that is never stored: its products with the
// Krylov directions are revealed lazily, each revelation conditioned on everything revealed
// before (a Bartlett factor with chi-square degrees of freedom d - p - r - j + 1 and fresh
// Gaussian columns projected off the revealed left basis).
// Block Lanczos from [e_1..e_p | c random complement directions]; full reorthogonalisation
// (project twice) of the revealed left basis; the Rayleigh-Ritz matrix is block tridiagonal.
// Conventions as the direct engine (estimators/spectral.hpp): Ritz pairs by |value|
// descending; overlaps squared, computed on the *converged* reported pairs only.
// Random streams (estimators/data.hpp's list): 0 (teacher coordinates z_i, first p normals of
// row i, and the label noise, exactly as the direct engine), kKrylovColumnStream (fresh
// Gaussian columns), kKrylovChiStream (Bartlett diagonal), kKrylovOffStream (Bartlett upper
// triangle). Every number is a function of (seed, settings); threads change only rounding.
#include <cstdint>
#include <string>
#include <vector>

#include "estimators/data.hpp"
#include "estimators/spectral.hpp"

namespace hmi::est {

inline constexpr std::uint64_t kKrylovColumnStream = 0x6b727901;  ///< "kry" + 1 (odd: never 2 + 16 s)
inline constexpr std::uint64_t kKrylovChiStream = 0x6b727903;
inline constexpr std::uint64_t kKrylovOffStream = 0x6b727905;

struct KrylovConfig {
  int d = 500;
  double alpha = 10.0;
  int top = 0;          ///< Ritz pairs reported; 0 = max(2 p, p + 8) (the direct default), at most the Krylov dimension
  int threads = 1;      ///< generation threads and OpenBLAS threads
  int complement = 4;   ///< random complement directions in the starting block (bulk edge)
  int max_blocks = 20;  ///< block budget (reveals); capped where the Krylov space would exhaust R^d
  int min_blocks = 6;   ///< no convergence stop before this many blocks
  double tol = 1e-6;    ///< converged: ||M v - theta v|| <= tol * max|theta|
  /// Bulk edges (e.g. Theory's prediction): the watched pairs are the Ritz values beyond them by
  /// edge_margin |edge|. NaN = unknown: the top min(p, top) pairs are watched instead.
  double edge_upper = NAN, edge_lower = NAN, edge_margin = 0.0;
  double memory_limit = 0;  ///< bytes; 0 = MemAvailable of /proc/meminfo
  /// Deliberately broken variants for the verification suite only (verify/test_krylov_law.cpp).
  enum class Fault { none, chi2_ignores_revealed, no_reorthogonalisation };
  Fault fault = Fault::none;

  void validate(int p) const;  ///< throws "field = value (must be ...)"
  std::uint64_t n() const;     ///< round(alpha d)
  int width(int p) const { return p + complement; }
  /// The budget actually available: max_blocks, capped so that the revealed directions fit in
  /// R^(d - p) (c + b blocks <= d - p) and the left basis in R^n.
  int block_budget(int p) const;
};

/// Upper bound of the engine's memory (bytes) for the block budget: n (1 + 2 b + b blocks)
/// doubles plus O(threads chunk p + d + (b blocks)^2).
std::uint64_t krylov_memory_bound(const KrylovConfig& cfg, int p);

struct KrylovResult {
  std::uint64_t n = 0;
  double mean_T = 0;
  Eigenpairs eig;  ///< vectors: coordinates in the orthonormal Krylov basis (w_1..w_p first), dim x K
  std::vector<double> residuals;  ///< ||M v_j - theta_j v_j|| per reported pair
  std::vector<bool> converged;    ///< residual <= tol * max|theta|
  Metrics metrics;                ///< on the converged reported pairs (zeros when none converged)
  int blocks = 0;                 ///< reveals used (the Krylov space has dimension width * blocks)
  int dimension = 0;
  std::string stop_reason;        ///< "converged" | "budget" | "non_finite"
  std::uint64_t memory_bytes = 0;  ///< bytes of the buffers actually used
  std::uint64_t memory_bound = 0;  ///< krylov_memory_bound for the budget
  double labels_s = 0, krylov_s = 0, total_s = 0;
};

/// Runs the engine. Throws std::invalid_argument on a bad config and when the memory bound
/// exceeds the available memory (one line naming d, alpha, the estimate and what is available).
KrylovResult run_krylov(const Teacher& t, const KrylovConfig& cfg);

}  // namespace hmi::est

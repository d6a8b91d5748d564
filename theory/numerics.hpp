#pragma once
// Deterministic quadrature for Gaussian expectations, with error estimates.
// Conventions: z ~ N(0,1); probabilists' Hermite polynomials He_j; every result that comes
// from a numerical approximation carries its estimated absolute error.
#include <functional>
#include <vector>

namespace hmi::theory {

/// A number together with its estimated absolute numerical error.
struct Estimate {
  double value = 0.0;
  double error = 0.0;
};

/// Nodes and weights of an n-point rule; weights sum to the measure's mass.
struct QuadratureRule {
  std::vector<double> nodes;
  std::vector<double> weights;
};

/// n-point Gauss-Hermite rule for the standard normal measure (weights sum to 1),
/// by Golub-Welsch (eigen-decomposition of the Jacobi matrix, LAPACK dstev). Cached.
const QuadratureRule& gauss_hermite(int n);

/// n-point Gauss-Legendre rule on [-1, 1] (Golub-Welsch). Cached.
const QuadratureRule& gauss_legendre(int n);

/// E[f(z)], z ~ N(0,1). Smooth f (no kinks): Gauss-Hermite with n and 2n nodes, doubling
/// n from 64 until the two agree to `tol` or n reaches 2048. With kinks (points where f or
/// f' jump), Gauss-Hermite converges only algebraically, so the integral is instead split
/// at the kinks and done by composite Gauss-Legendre on [-L, L] (L = 12, Gaussian tail
/// < 1e-31), doubling the panel count. `error` = |last - previous| estimate.
Estimate gaussian_expectation(const std::function<double(double)>& f,
                              const std::vector<double>& kinks = {}, double tol = 1e-13);

/// Probabilists' Hermite polynomial He_j(z) by the three-term recurrence.
double hermite_he(int j, double z);

/// Runs f(0..jobs-1) on `workers` threads, job j on worker j mod workers (each job's result is
/// independent of the thread count); serially when workers <= 1. An exception in a job is
/// carried to the caller (the lowest worker's first, after every worker has stopped), as in the
/// serial path, instead of ending the program.
void parallel_for(int jobs, int workers, const std::function<void(int)>& f);

}  // namespace hmi::theory

#include "theory/numerics.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>

#include "numerics/interrupt.hpp"

extern "C" void dstev_(const char* jobz, const int* n, double* d, double* e, double* z,
                       const int* ldz, double* work, int* info);

namespace hmi::theory {
namespace {

// Golub-Welsch: the rule's nodes are the eigenvalues of the symmetric tridiagonal Jacobi
// matrix (diagonal 0, off-diagonal sqrt(b_j)); weights are mass * (first eigenvector
// component)^2.
QuadratureRule golub_welsch(int n, double mass, double (*offdiag_sq)(int)) {
  std::vector<double> diag(n, 0.0), off(std::max(n - 1, 1), 0.0), vecs(size_t(n) * n);
  for (int j = 1; j < n; ++j) off[j - 1] = std::sqrt(offdiag_sq(j));
  std::vector<double> work(std::max(1, 2 * n - 2));
  int info = 0;
  dstev_("V", &n, diag.data(), off.data(), vecs.data(), &n, work.data(), &info);
  if (info != 0) throw std::runtime_error("golub_welsch: dstev failed, info = " + std::to_string(info));
  QuadratureRule rule;
  rule.nodes = diag;
  rule.weights.resize(n);
  for (int i = 0; i < n; ++i) rule.weights[i] = mass * vecs[size_t(i) * n] * vecs[size_t(i) * n];
  return rule;
}

const QuadratureRule& cached(int n, std::map<int, QuadratureRule>& cache, double mass,
                             double (*offdiag_sq)(int)) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, golub_welsch(n, mass, offdiag_sq)).first;
  return it->second;
}

}  // namespace

const QuadratureRule& gauss_hermite(int n) {
  if (n < 1) throw std::invalid_argument("gauss_hermite: n = " + std::to_string(n) + " (must be >= 1)");
  static std::map<int, QuadratureRule> cache;
  // He recurrence: z He_j = He_{j+1} + j He_{j-1}  =>  b_j = j.
  return cached(n, cache, 1.0, [](int j) { return double(j); });
}

namespace {
// Golub-Welsch nodes polished by one Newton step on P_n, and weights from the closed form
// 2 / ((1 - x^2) P_n'(x)^2), more accurate than squared eigenvector components.
QuadratureRule polished_legendre(int n) {
  // Legendre: b_j = j^2 / (4 j^2 - 1); mass of [-1, 1] is 2.
  QuadratureRule r = golub_welsch(n, 2.0, [](int j) { return double(j) * j / (4.0 * j * j - 1.0); });
  if (n < 2) return r;
  auto legendre = [n](double x, double& dp) {  // P_n(x) and P_n'(x) by the three-term recurrence
    double p0 = 1.0, p1 = x;
    for (int k = 1; k < n; ++k) {
      const double p2 = ((2.0 * k + 1.0) * x * p1 - k * p0) / (k + 1.0);
      p0 = p1;
      p1 = p2;
    }
    dp = n * (x * p1 - p0) / (x * x - 1.0);
    return p1;
  };
  for (int i = 0; i < n; ++i) {
    double dp = 0;
    const double p = legendre(r.nodes[i], dp);
    r.nodes[i] -= p / dp;
    legendre(r.nodes[i], dp);
    r.weights[i] = 2.0 / ((1.0 - r.nodes[i] * r.nodes[i]) * dp * dp);
  }
  return r;
}
}  // namespace

const QuadratureRule& gauss_legendre(int n) {
  if (n < 1) throw std::invalid_argument("gauss_legendre: n = " + std::to_string(n) + " (must be >= 1)");
  static std::mutex mutex;
  static std::map<int, QuadratureRule> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, polished_legendre(n)).first;
  return it->second;
}

double hermite_he(int j, double z) {
  if (j == 0) return 1.0;
  double prev = 1.0, cur = z;
  for (int m = 1; m < j; ++m) {
    const double next = z * cur - m * prev;
    prev = cur;
    cur = next;
  }
  return cur;
}

namespace {

// Returns the rule's value; `mass` receives sum w |f| (the scale rounding errors live on).
double gh_rule(const std::function<double(double)>& f, int n, double& mass) {
  const auto& r = gauss_hermite(n);
  double s = 0.0;
  mass = 0.0;
  for (int i = 0; i < n; ++i) {
    const double v = r.weights[i] * f(r.nodes[i]);
    s += v;
    mass += std::abs(v);
  }
  return s;
}

// Composite 16-point Gauss-Legendre on the pieces of [-L, L] cut at the kinks, with
// `panels` panels per unit length (at least one per piece), against the N(0,1) density.
double piecewise_gl(const std::function<double(double)>& f, const std::vector<double>& kinks,
                    int panels_per_unit, double& mass) {
  constexpr double L = 12.0;
  std::vector<double> cuts{-L};
  for (double k : kinks)
    if (k > -L && k < L) cuts.push_back(k);
  cuts.push_back(L);
  std::sort(cuts.begin(), cuts.end());
  const auto& gl = gauss_legendre(16);
  const double inv_sqrt_2pi = 1.0 / std::sqrt(2.0 * std::numbers::pi);
  double s = 0.0;
  mass = 0.0;
  for (size_t c = 0; c + 1 < cuts.size(); ++c) {
    const double a = cuts[c], b = cuts[c + 1];
    const int panels = std::max(1, int(std::ceil((b - a) * panels_per_unit)));
    const double h = (b - a) / panels;
    for (int p = 0; p < panels; ++p) {
      const double mid = a + (p + 0.5) * h;
      for (size_t i = 0; i < gl.nodes.size(); ++i) {
        const double z = mid + 0.5 * h * gl.nodes[i];
        const double v = 0.5 * h * gl.weights[i] * f(z) * std::exp(-0.5 * z * z) * inv_sqrt_2pi;
        s += v;
        mass += std::abs(v);
      }
    }
  }
  return s;
}

}  // namespace

Estimate gaussian_expectation(const std::function<double(double)>& f, const std::vector<double>& kinks,
                              double tol) {
  double mass = 0.0;
  auto rule = [&](int level) { return kinks.empty() ? gh_rule(f, level, mass) : piecewise_gl(f, kinks, level, mass); };
  int level = kinks.empty() ? 64 : 1;
  const int max_level = kinks.empty() ? 1024 : 256;
  double prev = rule(level);
  Estimate out{prev, std::abs(prev)};
  while (level < max_level) {
    level *= 2;
    const double cur = rule(level);
    out = {cur, std::abs(cur - prev)};
    // Converged when the change is below tol on the scale of the result, or when it is at
    // the level of rounding on the scale of sum |w f| (cancelling integrands).
    if (out.error <= tol * std::max(1.0, std::abs(cur)) || out.error <= 256 * 2.2e-16 * mass) break;
    prev = cur;
  }
  return out;
}

void parallel_for(int jobs, int workers, const std::function<void(int)>& f) {
  if (workers <= 1 || jobs <= 1) {
    for (int j = 0; j < jobs; ++j) {
      throw_if_interrupted();
      f(j);
    }
    return;
  }
  std::vector<std::exception_ptr> failure(workers);
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      try {
        for (int j = w; j < jobs; j += workers) {
          throw_if_interrupted();  // rethrown below, like any worker's exception
          f(j);
        }
      } catch (...) {
        failure[w] = std::current_exception();
      }
    });
  for (auto& t : pool) t.join();
  for (const auto& e : failure)
    if (e) std::rethrow_exception(e);
}

}  // namespace hmi::theory

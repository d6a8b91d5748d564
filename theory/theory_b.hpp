#pragma once
// Theory B core (THEORY section 4; derivation and error control in docs/theory-b.md): the law of
// (t, z_k) with t = T(y) - E T(y), and the solver of the Lu-Li / Mondelli-Montanari equations on
// any discrete form of that law. Used by theory/spectral.cpp (curves, thresholds) and
// theory/rate.cpp (thresholds at large k), for both the deterministic quadrature law and the
// Monte Carlo sample (kept as a cross-check).
//
// A law is anything with n(), t(i), w(i), v(q, i): nodes t_i (centred T values) with weights w_i
// (summing to 1) and, for the q-th requested direction k, the signed weights
// v_qi = E[(z_k^2 - 1); the label falls in cell i]. Every expectation of the equations is a sum
// over the nodes:
//   E[f(t)] = sum_i w_i f(t_i),   E[f(t) z_k^2] = sum_i (w_i + v_qi) f(t_i).
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <boost/math/tools/roots.hpp>

#include "theory/activation.hpp"
#include "theory/model.hpp"

namespace hmi::theory {

/// The deterministic law: Gauss-Legendre nodes in y on the continuous part of T's range (graded
/// towards the ends of T's range), plus the atoms of the clipped T, each with its exact mass.
struct QuadratureLaw {
  std::vector<double> t, w;             ///< nodes and weights (sum w = 1)
  std::vector<std::vector<double>> v;   ///< per requested direction
  std::vector<std::vector<double>> zz;  ///< pairs (a < b, row-major over a) of requested directions:
                                        ///< E[z_a z_b; cell] (built only for non-even sigma)
  double mean_T = 0;                    ///< E[T(y)]
  double t_sup = 0, t_inf = 0;          ///< sup / inf of the support of t (T's range minus mean_T)
  double mean_dT = 0, mean_d2T = 0;     ///< E[T'(y)], E[T''(y)] (distributional: the clip edges count)
  std::size_t nodes_y = 0;              ///< continuous nodes
  std::size_t frequencies = 0;          ///< Fourier coefficients used per measure
  std::size_t fft_size = 0;             ///< length of the spreading FFT
  std::size_t n() const { return t.size(); }
  double t_at(std::size_t i) const { return t[i]; }
  double w_at(std::size_t i) const { return w[i]; }
  double v_at(int q, std::size_t i) const { return v[q][i]; }
};

/// Empty when the quadrature law can be built for this model with `directions` weighted
/// directions; otherwise why not (unbounded T, Delta = 0, or a cost beyond the budget).
std::string quadrature_obstacle(const ModelConfig& model, int directions);

/// Mass below which an end of T's range does not count as support (docs/theory-b.md, "support
/// edge"): the tail beyond is dropped and tau sits where the tail reaches this mass.
inline constexpr double kSupportTail = 1e-9;

/// The law at refinement `refine` (0 = default grid; +1 halves every panel and grid step, -1
/// doubles them). `dirs` are 0-based direction indices (the v rows, in that order). Throws
/// std::invalid_argument when quadrature_obstacle is not empty.
QuadratureLaw build_quadrature_law(const ModelConfig& model, const std::vector<int>& dirs, int refine = 0,
                                   double support_tail = kSupportTail, bool pairs = false);

/// Equations of THEORY section 4 on a law, with T's sign flipped (sign = -1) to study the bottom
/// of the spectrum as the top of -M. tau = sup of sign * t over the support. With
///   E1 = E[t/(l-t)], E2 = E[t^2/(l-t)^2], F = E[t z^2/(l-t)], G = E[t^2 z^2/(l-t)^2]:
///   psi = l (1/alpha + E1), psi' = 1/alpha - E2, phi_k = l F, phi_k' = -G.
template <class Law>
struct BSolver {
  const Law* L;
  double sign;
  double tau;

  template <class F>
  double sum(F&& f) const {
    double acc = 0;
    const std::size_t n = L->n();
    for (std::size_t i = 0; i < n; ++i) acc += f(i, sign * L->t_at(i));
    return acc;
  }
  double var() const { return sum([&](std::size_t i, double t) { return L->w_at(i) * t * t; }); }
  /// sign * theta_k = E[t (z_k^2 - 1)] for the solver's sign.
  double theta(int q) const { return sum([&](std::size_t i, double t) { return L->v_at(q, i) * t; }); }
  double E1(double l) const { return sum([&](std::size_t i, double t) { return L->w_at(i) * t / (l - t); }); }
  double E2(double l) const {
    return sum([&](std::size_t i, double t) { const double r = t / (l - t); return L->w_at(i) * r * r; });
  }
  double H(double l, int q) const {  // E[t (1 - z^2)/(l - t)] = (psi - phi)/l - 1/alpha
    return -sum([&](std::size_t i, double t) { return L->v_at(q, i) * t / (l - t); });
  }
  double G(double l, int q) const {
    return sum([&](std::size_t i, double t) { const double r = t / (l - t); return (L->w_at(i) + L->v_at(q, i)) * r * r; });
  }
  double R(double l, int q) const {  // E[t (z^2-1)/(l-t)] - E2: zero where the threshold sits
    return sum([&](std::size_t i, double t) { const double r = t / (l - t); return L->v_at(q, i) * r - L->w_at(i) * r * r; });
  }

  template <class F>
  static double root(F&& f, double a, double b) {
    std::uintmax_t iters = 200;
    auto [lo, hi] = boost::math::tools::toms748_solve(f, a, b, boost::math::tools::eps_tolerance<double>(48), iters);
    return 0.5 * (lo + hi);
  }

  /// lambda_bar = argmin psi: psi'(l) = 0 <=> E2(l) = 1/alpha (E2 decreases on (tau, inf)).
  double lambda_bar(double alpha) const {
    const double hi = tau + std::sqrt(alpha * var()) + 1e-12;  // E2(hi) <= var/(hi-tau)^2 <= 1/alpha
    const double lo = tau + 1e-9 * (hi - tau);
    if (E2(lo) <= 1.0 / alpha) return lo;
    return root([&](double l) { return E2(l) - 1.0 / alpha; }, lo, hi);
  }
  double psi(double l, double alpha) const { return l * (1.0 / alpha + E1(l)); }
  double edge(double alpha) const { return psi(lambda_bar(alpha), alpha); }

  struct Spike { bool present; double eigenvalue, overlap; };
  Spike spike(double alpha, int q) const { return spike(alpha, q, lambda_bar(alpha)); }
  Spike spike(double alpha, int q, double lb) const {
    auto h = [&](double l) { return 1.0 / alpha + H(l, q); };
    if (h(lb) >= 0) return {false, 0, 0};
    // Steps relative to T's scale (sd of t): the equations are invariant under T -> c T.
    double a = lb, step = std::max(lb - tau, 1e-3 * std::sqrt(var())), b = lb + step;
    while (h(b) < 0) {
      a = b;
      step *= 2;
      b = lb + step;
      if (step > 1e12 * std::sqrt(var())) return {false, 0, 0};
    }
    const double ls = root(h, a, b);
    const double dpsi = 1.0 / alpha - E2(ls);
    return {true, psi(ls, alpha), dpsi / (dpsi + G(ls, q))};
  }

  /// alpha_k: the alpha at which the spike reaches the edge. There psi'(l) = 0 and psi = phi,
  /// i.e. E2(l) = E[t (z^2-1)/(l-t)] = 1/alpha: one root in l, then alpha = 1/E2. `theta` is
  /// sign * theta_k (no outlier on this side when <= 0).
  double threshold(int q, double theta, double max_span = 1e12) const {
    constexpr double inf = std::numeric_limits<double>::infinity();
    if (theta <= 0) return inf;
    // Bracket relative to T's scale s (an absolute 1e-9 offset put clip:1e-12's root 1000 s
    // above tau and gave alpha = 1e6 for a threshold near 1).
    const double s = std::sqrt(var());
    double lo = tau + 1e-9 * (s + std::abs(tau)), hi = tau + s;
    if (R(lo, q) > 0) return 1.0 / E2(lo);
    while (R(hi, q) < 0) {
      hi = tau + 2 * (hi - tau);
      if (hi - tau > max_span * s) return inf;
    }
    return 1.0 / E2(root([&](double l) { return R(l, q); }, lo, hi));
  }
};

/// Non-even sigma (docs/theory-b.md section 6): the K x K matrix
///   Phi(l) = l E[t z z^T/(l - t)],   Phi'(l) = -E[t^2 z z^T/(l - t)^2]
/// replaces the diagonal phi_k. Outliers sit at psi(l*) where an eigenvalue mu_j(l*) of Phi(l*)
/// equals psi(l*) (l* > lambda_bar); with u_j its unit eigenvector, the eigenvector's squared
/// projection on span(w) is psi'/(psi' - u^T Phi' u), and on w_k that times u_jk^2.
struct GeneralSolver {
  BSolver<QuadratureLaw> b;
  int K;
  // Z_i[a][b] = E[z_a z_b; cell i]: diagonal w + v_a, off-diagonal zz.
  double Z(std::size_t i, int a, int c) const {
    if (a == c) return b.L->w[i] + b.L->v[a][i];
    if (a > c) std::swap(a, c);
    const int idx = a * K - a * (a + 1) / 2 + (c - a - 1);
    return b.L->zz[idx][i];
  }
  template <class F>
  std::vector<double> matrix(F&& f) const {  // sum_i f(t_i) Z_i (row-major K x K)
    std::vector<double> M(std::size_t(K) * K, 0.0);
    for (std::size_t i = 0; i < b.L->n(); ++i) {
      const double c = f(b.sign * b.L->t[i]);
      for (int a = 0; a < K; ++a)
        for (int e = a; e < K; ++e) M[a * K + e] += c * Z(i, a, e);
    }
    for (int a = 0; a < K; ++a)
      for (int e = 0; e < a; ++e) M[a * K + e] = M[e * K + a];
    return M;
  }
  std::vector<double> Phi(double l) const { return matrix([&](double t) { return l * t / (l - t); }); }
  std::vector<double> dPhi(double l) const {
    return matrix([&](double t) { const double r = t / (l - t); return -r * r; });
  }
};

}  // namespace hmi::theory

// Theory C (THEORY.md section 5; claims C5, C8): the weak-recovery threshold
//   alpha_c = 1 / E_y[(E[z^2 - 1 | y])^2],   y = g(z) + sqrt(noise_var) xi,
// computed by theory/information.cpp. Each test case states its claim, measurement and
// tolerance. Tolerances are absolute on alpha_c unless said otherwise; "err" is the unit's own
// doubling error estimate, which the convergence test shows to be conservative.
#define BOOST_TEST_MODULE information
#ifndef BOOST_TEST_DYN_LINK  // CMake also defines it (verify/CMakeLists.txt)
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "theory/information.hpp"
#include "theory/risk.hpp"

using namespace hmi::theory;

namespace {

// The one comparison every claim below goes through, so that a wrong prediction can be shown
// to fail it. NaN never agrees.
bool agrees(double measured, double expected, double tol) { return std::abs(measured - expected) <= tol; }

// Tolerance table. kRelTol is what the unit is asked for; the checks then allow
// kErrFactor * (reported error) on top of the claim's own (modelling) tolerance.
constexpr double kRelTol = 1e-10;
constexpr double kErrFactor = 10.0;
constexpr int kMcSamples = 20000;

const double kSqrt2 = std::numbers::sqrt2;
const double kInvSqrt2Pi = 1.0 / std::sqrt(2.0 * std::numbers::pi);

double he2(double z) { return (z * z - 1.0) / kSqrt2; }

// Fitted slope of log(y) against log(x) (least squares).
// The least-squares slope of log y on log x over every point (theory/risk's fit, used by the
// claims too); NaN if a value is not positive, as the log would be.
double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const auto f = hmi::theory::fit_log_slope(x, y, 0, INFINITY);
  return f.points == int(x.size()) ? f.slope : NAN;
}

double millis_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// ---- an independent evaluation for g = lambda he2 (used by the cross-check) -------------------
// Plain composite trapezoid on uniform grids: z in [0, 10] (the integrand is even in z, so the
// half line with doubled interior weights), y over g's range +- 12 sd. Direct sums of
// N(y; g(z), Delta) with no windowing, centring, expm1 or Gauss-Legendre: a different rule and
// a different code path. For integrands that are smooth and negligible at the ends the
// trapezoid rule converges exponentially in 1/step.
struct He2Grid {
  std::vector<double> g, wphi, c;  // g(z), trapezoid weight * phi(z), z^2 - 1
};

He2Grid he2_grid(double lambda, double hz) {
  He2Grid grid;
  const int n = int(std::lround(10.0 / hz));
  for (int i = 0; i <= n; ++i) {
    const double z = i * hz;
    const double w = (i == 0 ? 1.0 : 2.0) * (i == n ? 0.5 : 1.0) * hz;  // z = 0 counted once
    grid.g.push_back(lambda * he2(z));
    grid.wphi.push_back(w * kInvSqrt2Pi * std::exp(-0.5 * z * z));
    grid.c.push_back(z * z - 1.0);
  }
  return grid;
}

// p(y), E[z^2 - 1 | y] and E[(z^2 - 1)^2 | y] by the trapezoid grid.
struct Posterior {
  double p = 0, m = 0, m2 = 0;
};

Posterior he2_posterior(const He2Grid& grid, double y, double Delta) {
  double s0 = 0, s1 = 0, s2 = 0;
  for (std::size_t i = 0; i < grid.g.size(); ++i) {
    const double r = y - grid.g[i];
    const double k = grid.wphi[i] * std::exp(-0.5 * r * r / Delta);
    s0 += k;
    s1 += k * grid.c[i];
    s2 += k * grid.c[i] * grid.c[i];
  }
  return {s0 / std::sqrt(2.0 * std::numbers::pi * Delta), s1 / s0, s2 / s0};
}

double he2_trapezoid_inv_alpha(double lambda, double Delta, double hz, double hy) {
  const He2Grid grid = he2_grid(lambda, hz);
  const double sd = std::sqrt(Delta);
  const double y_lo = -lambda / kSqrt2 - 12 * sd, y_hi = lambda * 99.0 / kSqrt2 + 12 * sd;
  const int n = int(std::ceil((y_hi - y_lo) / hy));
  const double h = (y_hi - y_lo) / n;
  double total = 0;
  for (int i = 0; i <= n; ++i) {
    const Posterior post = he2_posterior(grid, y_lo + i * h, Delta);
    if (post.p > 0) total += (i == 0 || i == n ? 0.5 : 1.0) * h * post.p * post.m * post.m;
  }
  return total;
}

// Standard normal draws from mt19937_64 by Box-Muller on 53-bit uniforms: unlike
// std::normal_distribution the sequence is fixed by the standard, so the seed reproduces the
// same numbers on every platform.
struct Normal {
  std::mt19937_64 engine;
  bool has_spare = false;
  double spare = 0;
  explicit Normal(std::uint64_t seed) : engine(seed) {}
  double uniform() { return (double(engine() >> 11) + 0.5) * 0x1.0p-53; }  // in (0, 1)
  double operator()() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), t = 2.0 * std::numbers::pi * uniform();
    spare = r * std::sin(t);
    has_spare = true;
    return r * std::cos(t);
  }
};

}  // namespace

// Claim (THEORY.md section 5, Mondelli-Montanari): noiseless real phase retrieval, y = z^2, has
// alpha_c = 1/2, since E[z^2 - 1 | y] = y - 1 and Var(z^2) = 2.
// Measurement: y = z^2 + sqrt(Delta) xi for Delta in {1e-4, 1e-5, 1e-6}, rel_tol 1e-10.
// Tolerance, and why: E_y[m^2] = Var(z^2) - mmse with 0 <= mmse <= Delta (the estimator y of
// z^2 has mean squared error Delta), so alpha_c lies in [1/2, 1/(2 - Delta)]: |alpha_c - 1/2| <=
// Delta / (2 (2 - Delta)) ~ Delta / 4, plus 10 err for quadrature. Sharper: mmse / Delta -> 1
// (the posterior of z^2 is N(y, Delta) except within O(sqrt Delta) of 0, a region of probability
// O(Delta^(1/4))), so (alpha_c - 1/2) / Delta must rise towards 1/4 as Delta falls.
BOOST_AUTO_TEST_CASE(phase_retrieval_noiseless_limit) {
  const auto square = [](double z) { return z * z; };
  double previous_scaled = 0;
  for (double Delta : {1e-4, 1e-5, 1e-6}) {
    const auto t0 = std::chrono::steady_clock::now();
    const ThresholdResult r = weak_recovery_threshold(square, Delta, kRelTol);
    const double ms = millis_since(t0);
    const double scaled = (r.alpha_c - 0.5) / Delta;
    BOOST_TEST_MESSAGE("phase retrieval Delta=" << Delta << ": alpha_c=" << std::setprecision(15) << r.alpha_c
                       << " err=" << r.error << " (alpha_c-1/2)/Delta=" << scaled << " nodes=" << r.nodes_used
                       << " " << ms << " ms");
    BOOST_TEST(r.converged);
    const double bracket = Delta / (2.0 * (2.0 - Delta)) + kErrFactor * r.error;
    BOOST_TEST(agrees(r.alpha_c, 0.5, bracket), "alpha_c = " << r.alpha_c << " not within " << bracket << " of 1/2");
    BOOST_TEST(r.alpha_c >= 0.5 - kErrFactor * r.error);  // mmse >= 0: the bracket is one-sided
    BOOST_TEST(scaled > previous_scaled);                  // rises towards 1/4 ...
    BOOST_TEST(scaled > 0.2);                              // ... from 0.237 at 1e-4 (measured)
    previous_scaled = scaled;
  }
}

// Claim (THEORY.md section 5): alpha_c ~ noise_var / (mu2 lambda)^2 as eps = lambda^2 / noise_var
// -> 0, with a relative correction of first order in eps.
// Measurement: he2 (mu2 = sqrt 2), relu (mu2 = 1/sqrt(2 pi), kink at 0), abs (mu2 = sqrt(2/pi),
// kink at 0), noise_var = 0.5, eps in {1e-2 .. 1e-6} for the order and {1e-12, 1e-16, 1e-20} for
// precision (the regime of directions k ~ 1000 with lambda_k ~ k^-gamma).
// Tolerance, and why: |ratio - 1| <= 5 eps with fitted order in [0.9, 1.1] over eps in
// [1e-6, 1e-2] (first-order correction; measured coefficients -3, -1.1, -0.05); at eps <= 1e-12
// the correction is < 1e-11, so |ratio - 1| <= 1e-9 tests that the small difference
// E[z^2 - 1 | y] keeps its relative precision.
BOOST_AUTO_TEST_CASE(weak_signal_asymptotics) {
  struct Activation {
    std::string name;
    std::function<double(double)> sigma;
    double mu2;
  };
  const std::vector<Activation> activations = {
      {"he2", he2, kSqrt2},
      {"relu", [](double z) { return std::max(z, 0.0); }, kInvSqrt2Pi},
      {"abs", [](double z) { return std::abs(z); }, std::sqrt(2.0 / std::numbers::pi)},
  };
  const double noise_var = 0.5;
  for (const auto& a : activations) {
    std::vector<double> eps, deviation;
    for (double e : {1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-12, 1e-16, 1e-20}) {
      const double lambda = std::sqrt(e * noise_var);
      const ThresholdResult r =
          weak_recovery_threshold([&](double z) { return lambda * a.sigma(z); }, noise_var, kRelTol);
      const double ratio = r.alpha_c / weak_signal_threshold(a.mu2, lambda, noise_var);
      BOOST_TEST_MESSAGE(a.name << " eps=" << e << ": ratio - 1 = " << ratio - 1 << ", err/alpha = "
                                << r.error / r.alpha_c);
      BOOST_TEST(r.converged);
      if (e >= 1e-6) {
        BOOST_TEST(agrees(ratio, 1.0, 5 * e), a.name << " eps=" << e << " ratio=" << ratio);
        eps.push_back(e);
        deviation.push_back(std::abs(ratio - 1));
      } else {
        BOOST_TEST(agrees(ratio, 1.0, 1e-9), a.name << " eps=" << e << " ratio - 1 = " << ratio - 1);
      }
    }
    const double order = loglog_slope(eps, deviation);
    BOOST_TEST_MESSAGE(a.name << ": fitted order of ratio - 1 in eps = " << order);
    BOOST_TEST(agrees(order, 1.0, 0.1), a.name << " order " << order);
  }
}

// Claim (THEORY.md section 5, C8): with mu2 = 0 (beta* = 2) the first-order term vanishes and
// alpha_c ~ 2 noise_var^2 / (lambda^4 kappa^2), kappa = E[sigma^2 (z^2 - 1)] (derived here: expand
// E[z^2-1|y] to second order in lambda, m(y) = lambda^2 kappa (y^2 - noise_var) / (2 noise_var^2),
// and E[(y^2 - noise_var)^2] = 2 noise_var^2), i.e. k^(4 gamma) = k^(2 gamma beta*).
// For he4, kappa = E[He4^2 He2] / 24 = 192 / 24 = 8.
// Measurement: he4, noise_var = 1, lambda in {1e-3, 3e-4, 1e-4} for the order, 1e-7 for
// precision (the signal is second order, a cancellation of first-order terms).
// Tolerance, and why: the relative correction is again first order in eps = lambda^2/noise_var
// (measured -286 eps); |ratio - 1| <= 500 eps and fitted order in [0.9, 1.1]; at lambda = 1e-7
// the correction is 3e-12, so |ratio - 1| <= 1e-8 tests precision. Larger lambda is
// not in this regime: he4's z^4 growth makes the Gaussian tail of z, where lambda he4(z) exceeds
// the noise, dominate (alpha_c lambda^4 is 2-5x below the asymptote at lambda = 0.01-0.1,
// noise_var = 0.1): THEORY.md's "heavy tails hide the asymptotic law".
BOOST_AUTO_TEST_CASE(beta_star_two_second_order_asymptote) {
  const auto he4 = [](double z) { return (z * z * z * z - 6 * z * z + 3) / std::sqrt(24.0); };
  const double noise_var = 1.0, kappa = 8.0;
  std::vector<double> eps, deviation;
  for (double lambda : {1e-3, 3e-4, 1e-4}) {
    const ThresholdResult r =
        weak_recovery_threshold([&](double z) { return lambda * he4(z); }, noise_var, kRelTol);
    const double asymptote = 2 * noise_var * noise_var / (std::pow(lambda, 4) * kappa * kappa);
    const double ratio = r.alpha_c / asymptote, e = lambda * lambda / noise_var;
    BOOST_TEST_MESSAGE("he4 lambda=" << lambda << ": alpha_c=" << r.alpha_c << " ratio - 1 = " << ratio - 1);
    BOOST_TEST(r.converged);
    BOOST_TEST(agrees(ratio, 1.0, 500 * e), "lambda=" << lambda << " ratio=" << ratio);
    eps.push_back(e);
    deviation.push_back(std::abs(ratio - 1));
  }
  BOOST_TEST(agrees(loglog_slope(eps, deviation), 1.0, 0.1));

  const double tiny = 1e-7;
  const ThresholdResult r = weak_recovery_threshold([&](double z) { return tiny * he4(z); }, noise_var, kRelTol);
  const double ratio = r.alpha_c * std::pow(tiny, 4) * kappa * kappa / (2 * noise_var * noise_var);
  BOOST_TEST_MESSAGE("he4 lambda=" << tiny << ": ratio - 1 = " << ratio - 1 << ", err/alpha = " << r.error / r.alpha_c);
  BOOST_TEST(agrees(ratio, 1.0, 1e-8), "ratio - 1 = " << ratio - 1);
}

// Claim (THEORY.md section 5, C5): oracle thresholds grow like k^(2 gamma) (they sit on the
// weak-signal asymptote), agnostic ones are the same law with noise Delta + sum_{j!=k}
// lambda_j^2 Var sigma. Measurement: he2, p = 1000 normalized amplitudes, Delta = 0.1, gamma in
// {1, 2}, k in {100, 300, 1000}; lambda_k^2 runs from 6e-5 to 6e-7 (gamma 1) and from 9e-9 to
// 9e-13 (gamma 2).
// Tolerance, and why: the asymptote holds to 5 eps_k, eps_k = lambda_k^2 / noise_var (previous
// test: the correction is -3 eps for he2); the fitted slope over k in [100, 1000] is 2 gamma
// within 2e-3 (the -3 eps correction tilts it by at most 3 eps_100 / ln 10 ~ 8e-4 for gamma 1).
BOOST_AUTO_TEST_CASE(oracle_and_agnostic_follow_the_k_law) {
  const int p = 1000;
  const double Delta = 0.1, var_sigma = 1.0;  // Var he2 = 1
  for (double gamma : {1.0, 2.0}) {
    std::vector<double> lambda(p);
    double z2 = 0;
    for (int j = 1; j <= p; ++j) z2 += std::pow(j, -2 * gamma);
    for (int j = 1; j <= p; ++j) lambda[j - 1] = std::pow(j, -gamma) / std::sqrt(z2);
    std::vector<double> ks, oracle;
    for (int k : {100, 300, 1000}) {
      const auto t0 = std::chrono::steady_clock::now();
      const ThresholdResult o = oracle_threshold(he2, var_sigma, lambda, k, Delta);
      const double ms = millis_since(t0);
      const ThresholdResult a = agnostic_threshold(he2, var_sigma, lambda, k, Delta);
      double others = 0;
      for (int j = 1; j <= p; ++j)
        if (j != k) others += lambda[j - 1] * lambda[j - 1];
      const double lk = lambda[k - 1];
      BOOST_TEST_MESSAGE("gamma=" << gamma << " k=" << k << ": oracle " << o.alpha_c << " (" << ms
                                  << " ms), agnostic " << a.alpha_c);
      BOOST_TEST(o.converged);
      BOOST_TEST(a.converged);
      const double noise_agnostic = Delta + others * var_sigma;
      BOOST_TEST(agrees(o.alpha_c / weak_signal_threshold(kSqrt2, lk, Delta), 1.0, 5 * lk * lk / Delta));
      BOOST_TEST(agrees(a.alpha_c / weak_signal_threshold(kSqrt2, lk, noise_agnostic), 1.0,
                        5 * lk * lk / noise_agnostic));
      ks.push_back(k);
      oracle.push_back(o.alpha_c);
    }
    const double slope = loglog_slope(ks, oracle);
    BOOST_TEST_MESSAGE("gamma=" << gamma << ": fitted slope of oracle alpha_k = " << slope);
    BOOST_TEST(agrees(slope, 2 * gamma, 2e-3));
  }
}

// Claim: the doubling error estimate is conservative and shrinks as node counts grow, at the
// rate of the rule. Measurement: deliberately coarse rules (4 nodes per panel, panel_resolution
// 8) at fixed levels 1..6, against a reference at rel_tol 1e-12, for (a) he2, lambda^2 = 1,
// Delta = 1 (smooth: spectral convergence) and (b) g = |z - 1/3|, Delta = 0.1, whose kink is
// not a panel edge at any level unless declared: declared, convergence stays spectral;
// undeclared, Gauss-Legendre across the kink converges only at order 2.
// Tolerance, and why: true error <= estimate at every level (the estimate is the previous
// level's error); estimates decrease level to level until they reach rounding (1e-13); the
// final estimate is below 1e-9 alpha_c; the undeclared kink's fitted order is 2 +- 0.3.
BOOST_AUTO_TEST_CASE(error_estimate_convergence) {
  struct Case {
    std::string name;
    std::function<double(double)> g;
    double noise_var;
    std::vector<double> kinks;
  };
  const auto kinked = [](double z) { return std::abs(z - 1.0 / 3.0); };
  const std::vector<Case> cases = {
      {"he2", he2, 1.0, {}},
      {"|z-1/3| declared", kinked, 0.1, {1.0 / 3.0}},
      {"|z-1/3| undeclared", kinked, 0.1, {}},
  };
  std::vector<double> levels, undeclared_errors;
  for (const auto& c : cases) {
    // Both kinked cases are the same integral: their reference declares the kink.
    const std::vector<double> ref_kinks = c.name == "he2" ? std::vector<double>{} : std::vector<double>{1.0 / 3.0};
    const ThresholdResult ref =
        weak_recovery_threshold(c.g, c.noise_var, ThresholdConfig{.rel_tol = 1e-12, .kinks = ref_kinks});
    BOOST_TEST(ref.converged);
    double previous = std::numeric_limits<double>::infinity();
    for (int level = 1; level <= 6; ++level) {
      const ThresholdConfig coarse{.kinks = c.kinks, .nodes_per_panel = 4, .panel_resolution = 8,
                                   .min_level = level, .max_level = level};
      const ThresholdResult r = weak_recovery_threshold(c.g, c.noise_var, coarse);
      const double true_error = std::abs(r.alpha_c - ref.alpha_c);
      BOOST_TEST_MESSAGE(c.name << " level " << level << ": z nodes " << r.z_nodes << ", y nodes " << r.y_nodes
                                << ", estimate " << r.error << ", true error " << true_error);
      BOOST_TEST(r.level == level);
      BOOST_TEST(r.nodes_used == r.z_nodes + r.y_nodes);
      // 1e-13: both numbers are at rounding level once converged.
      BOOST_TEST(true_error <= r.error + 1e-13, c.name << " level " << level);
      if (previous > 1e-13) BOOST_TEST(r.error < previous, c.name << " level " << level);
      previous = r.error;
      if (c.name == "|z-1/3| undeclared" && level >= 3) {
        levels.push_back(std::pow(2.0, level));
        undeclared_errors.push_back(r.error);
      }
    }
    if (c.name != "|z-1/3| undeclared") BOOST_TEST(previous < 1e-9 * ref.alpha_c, c.name);
  }
  const double order = -loglog_slope(levels, undeclared_errors);
  BOOST_TEST_MESSAGE("undeclared kink: fitted convergence order " << order);
  BOOST_TEST(agrees(order, 2.0, 0.3));

  // A shortfall is reported, not hidden: order 2 cannot reach 1e-12 in 3 doublings.
  const ThresholdResult short_run =
      weak_recovery_threshold(kinked, 0.1, ThresholdConfig{.rel_tol = 1e-12, .max_level = 3});
  BOOST_TEST(!short_run.converged);
  BOOST_TEST(short_run.error > 1e-12 * short_run.alpha_c);
}

// Claim (THEORY.md section 5): for sigma = he2, Delta = 1 and lambda^2 in {0.01, 0.1, 1, 10}, the
// quadrature equals an independent evaluation of the same integral.
// Measurement: (1) the plain trapezoid grid above at steps (hz, hy) = (0.005, 0.025), and at
// twice those steps to show its own error; (2) Monte Carlo over y drawn from the model (seed
// 20260205, N = 20000; inner expectations by the trapezoid grid, hz = 0.01), with its standard
// error (relative 0.02% to 2%).
// Tolerance, and why: (1) relative 10 err / alpha_c (the unit's own estimate, <= 1e-10) plus the
// trapezoid's step-halving change (required < 1e-12) plus 1e-12 for rounding in sums of ~1e7
// terms: both rules converge exponentially (the narrowest feature, the likelihood in z at
// |z| = 10 for lambda^2 = 10, is 0.022 wide, >= 2 trapezoid steps). Measured agreement: 1e-14; (2) 4 standard errors (a fixed seed,
// so deterministic; chance exceedance probability 6e-5).
BOOST_AUTO_TEST_CASE(he2_cross_check_independent_methods) {
  const double Delta = 1.0;
  const std::uint64_t seed = 20260205;
  Normal normal(seed);
  for (double lambda2 : {0.01, 0.1, 1.0, 10.0}) {
    const double lambda = std::sqrt(lambda2);
    const auto t0 = std::chrono::steady_clock::now();
    const ThresholdResult r = weak_recovery_threshold([&](double z) { return lambda * he2(z); }, Delta, kRelTol);
    const double ms = millis_since(t0);
    BOOST_TEST(r.converged);

    const double trap = he2_trapezoid_inv_alpha(lambda, Delta, 0.01, 0.05);
    const double trap_fine = he2_trapezoid_inv_alpha(lambda, Delta, 0.005, 0.025);
    BOOST_TEST(std::abs(trap - trap_fine) <= 1e-12 * trap, "trapezoid not converged: " << trap << " vs " << trap_fine);
    // Relative: 10 x the unit's error estimate + the trapezoid's own step-halving change + 1e-12.
    const double tol = (kErrFactor * r.error / r.alpha_c + 1e-12) * trap_fine + std::abs(trap - trap_fine);
    BOOST_TEST(agrees(r.inv_alpha, trap_fine, tol),
               "lambda^2=" << lambda2 << ": quadrature " << r.inv_alpha << " vs trapezoid " << trap_fine);

    // Monte Carlo: X = m(y)^2 with two control variates of known mean,
    // C1 = E[(z^2 - 1)^2 | y] (mean E[(z^2 - 1)^2] = 2; tracks X at high signal-to-noise) and
    // C2 = y^2 (mean Delta + lambda^2 E[he2^2] = Delta + lambda^2; tracks X at weak signal,
    // where m(y) ~ lambda mu2 y / Delta). Estimate mean(X) - b . (mean(C) - E[C]) with b from
    // the least-squares regression of X on C; standard error from the residuals.
    const He2Grid grid = he2_grid(lambda, 0.01);
    const int n = kMcSamples;
    std::vector<double> xs(n), c1(n), c2(n);
    for (int i = 0; i < n; ++i) {
      const double y = lambda * he2(normal()) + std::sqrt(Delta) * normal();
      const Posterior post = he2_posterior(grid, y, Delta);
      xs[i] = post.m * post.m;
      c1[i] = post.m2;
      c2[i] = y * y;
    }
    const auto mean = [n](const std::vector<double>& v) {
      double s = 0;
      for (double x : v) s += x;
      return s / n;
    };
    const double mx = mean(xs), m1 = mean(c1), m2 = mean(c2);
    double s11 = 0, s12 = 0, s22 = 0, sx1 = 0, sx2 = 0, sxx = 0;
    for (int i = 0; i < n; ++i) {
      const double dx = xs[i] - mx, d1 = c1[i] - m1, d2 = c2[i] - m2;
      s11 += d1 * d1, s12 += d1 * d2, s22 += d2 * d2, sx1 += dx * d1, sx2 += dx * d2, sxx += dx * dx;
    }
    const double det = s11 * s22 - s12 * s12;
    const double b1 = (sx1 * s22 - sx2 * s12) / det, b2 = (sx2 * s11 - sx1 * s12) / det;
    const double rss = sxx - b1 * sx1 - b2 * sx2;  // residual sum of squares of the regression
    const double mc = mx - b1 * (m1 - 2.0) - b2 * (m2 - (Delta + lambda2));
    const double se = std::sqrt(rss / (n - 3) / n), se_plain = std::sqrt(sxx / (n - 1) / n);
    BOOST_TEST(agrees(r.inv_alpha, mc, 4 * se),
               "lambda^2=" << lambda2 << ": quadrature " << r.inv_alpha << " vs MC " << mc << " +- " << se
                           << " (seed " << seed << ")");
    BOOST_TEST_MESSAGE("he2 Delta=1 lambda^2=" << lambda2 << ": alpha_c=" << std::setprecision(12) << r.alpha_c
                       << " err=" << r.error << " | trapezoid 1/inv=" << 1 / trap_fine << " (rel diff "
                       << r.inv_alpha / trap_fine - 1 << ")" << " | MC 1/inv="
                       << 1 / mc << " (rel SE " << se / mc << ", without control variate " << se_plain / mx << ") | " << r.nodes_used << " nodes, " << ms << " ms");
  }
}

// Claim: the checks above can fail. A wrong phase-retrieval threshold (0.6 instead of 1/2) and
// a weak-signal prediction with mu2 off by 20% are rejected by the same comparison and
// tolerance that accept the right values.
BOOST_AUTO_TEST_CASE(wrong_predictions_are_rejected) {
  const double Delta = 1e-4;
  const ThresholdResult pr = weak_recovery_threshold([](double z) { return z * z; }, Delta, kRelTol);
  const double tol = Delta / (2.0 * (2.0 - Delta)) + kErrFactor * pr.error;
  BOOST_TEST(agrees(pr.alpha_c, 0.5, tol));
  BOOST_TEST(!agrees(pr.alpha_c, 0.6, tol));

  const double noise_var = 0.5, eps = 1e-4, lambda = std::sqrt(eps * noise_var);
  const ThresholdResult w = weak_recovery_threshold([&](double z) { return lambda * he2(z); }, noise_var, kRelTol);
  BOOST_TEST(agrees(w.alpha_c / weak_signal_threshold(kSqrt2, lambda, noise_var), 1.0, 5 * eps));
  BOOST_TEST(!agrees(w.alpha_c / weak_signal_threshold(1.2 * kSqrt2, lambda, noise_var), 1.0, 5 * eps));
  BOOST_TEST(!agrees(w.alpha_c / weak_signal_threshold(0.8 * kSqrt2, lambda, noise_var), 1.0, 5 * eps));
  BOOST_TEST(!agrees(std::numeric_limits<double>::quiet_NaN(), 1.0, 5 * eps));
}

// Claim: caller mistakes throw std::invalid_argument naming the argument, its value and the
// admissible range; a function that is not a caller mistake (g = 0) returns alpha_c = +inf.
BOOST_AUTO_TEST_CASE(invalid_arguments_throw) {
  const auto g = [](double z) { return z * z; };
  const auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no exception)";
  };
  BOOST_TEST(message([&] { weak_recovery_threshold(g, -1.0); }) ==
             "weak_recovery_threshold: noise_var = -1 (must be > 0 and finite)");
  BOOST_TEST(message([&] { weak_recovery_threshold(g, 0.0); }) ==
             "weak_recovery_threshold: noise_var = 0 (must be > 0 and finite)");
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  BOOST_CHECK_THROW(weak_recovery_threshold(g, nan), std::invalid_argument);
  BOOST_CHECK_THROW(weak_recovery_threshold(g, inf), std::invalid_argument);
  BOOST_CHECK_THROW(weak_recovery_threshold(std::function<double(double)>{}, 1.0), std::invalid_argument);
  BOOST_TEST(message([&] { weak_recovery_threshold(g, 1.0, 0.0); }) ==
             "ThresholdConfig.rel_tol = 0 (must be in (0, 1))");
  BOOST_CHECK_THROW(weak_recovery_threshold(g, 1.0, ThresholdConfig{.nodes_per_panel = 1}), std::invalid_argument);
  BOOST_CHECK_THROW(weak_recovery_threshold(g, 1.0, ThresholdConfig{.min_level = 3, .max_level = 2}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(weak_recovery_threshold(g, 1.0, ThresholdConfig{.kinks = {nan}}), std::invalid_argument);
  BOOST_TEST(message([&] { weak_recovery_threshold([nan](double z) { return z > 2 ? nan : z; }, 1.0); })
                 .starts_with("weak_recovery_threshold: g("));

  const std::vector<double> lambda = {0.8, 0.6};
  BOOST_TEST(message([&] { oracle_threshold(he2, 1.0, lambda, 0, 0.1); }) ==
             "oracle_threshold: k = 0 (must be in [1, 2], 1-based)");
  BOOST_CHECK_THROW(oracle_threshold(he2, 1.0, lambda, 3, 0.1), std::invalid_argument);
  BOOST_TEST(message([&] { oracle_threshold(he2, 1.0, lambda, 1, 0.0); }) ==
             "oracle_threshold: Delta = 0 (must be > 0 and finite)");
  BOOST_CHECK_THROW(oracle_threshold(he2, 1.0, {}, 1, 0.1), std::invalid_argument);
  BOOST_CHECK_THROW(agnostic_threshold(he2, -1.0, lambda, 1, 0.1), std::invalid_argument);
  BOOST_CHECK_THROW(agnostic_threshold(he2, 1.0, lambda, 1, -0.1), std::invalid_argument);
  BOOST_CHECK_THROW(agnostic_threshold(he2, 1.0, {1.0}, 1, 0.0), std::invalid_argument);  // no noise at all
  BOOST_CHECK_NO_THROW(agnostic_threshold(he2, 1.0, lambda, 1, 0.0));                     // other direction is noise
  BOOST_TEST(message([&] { weak_signal_threshold(1.0, 1.0, -2.0); }) ==
             "weak_signal_threshold: noise_var = -2 (must be > 0 and finite)");

  const ThresholdResult zero = weak_recovery_threshold([](double) { return 0.0; }, 1.0);
  BOOST_TEST(std::isinf(zero.alpha_c));
  BOOST_TEST(zero.inv_alpha == 0.0);
  BOOST_TEST(zero.converged);
  BOOST_TEST(std::isinf(weak_signal_threshold(0.0, 1.0, 1.0)));
}

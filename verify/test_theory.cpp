// Unit checks of the theory core against closed forms (THEORY.md sections 1, 3, 4).
// * Hermite calculus: mu_2(relu) = 1/sqrt(2 pi), mu_2(abs) = 2/sqrt(2 pi), he2/he4 are
//   orthonormal Hermite polynomials (mu_2 = sqrt 2, resp. mu_4 = sqrt 24), Var relu =
//   1/2 - 1/(2 pi); tolerance 1e-12: quadrature is exact for polynomials and converged for
//   the kinked ones (reported error < 1e-13).
// * beta*: 1 for he2/relu/abs/quadratic-relu, 2 for he4/tanh (THEORY section 1).
// * Theory B with T = 1 reproduces the Marchenko-Pastur edge (1 + alpha^-1/2)^2 to 1e-9
//   (root-finding tolerance).
// * Theory B -> Theory A as alpha grows: the gap in overlap shrinks at least by half per
//   decade (measured: 10x per decade, i.e. O(1/alpha) as section 3 says) and is < 1e-3 at
//   alpha = 1e4. Both use the same Monte Carlo sample, so the gap is free of its noise.
// * Theory B's numerical error converges like 1/sqrt(samples).
// Each closed-form check also rejects a wrong value (20% off).
#define BOOST_TEST_MODULE theory
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "theory/activation.hpp"
#include "theory/spectral.hpp"
#include "verify/check.hpp"

using namespace hmi::theory;

namespace {
bool close(double a, double b, double tol) { return std::abs(a - b) <= tol; }
}  // namespace

BOOST_AUTO_TEST_CASE(hermite_closed_forms) {
  const double inv = 1.0 / std::sqrt(2 * std::numbers::pi);
  const auto relu = analyse(make_activation("relu"));
  BOOST_TEST(close(relu.mu2(), inv, 1e-12));
  BOOST_TEST(!close(relu.mu2(), 1.2 * inv, 1e-12));
  BOOST_TEST(relu.mu[2].error < 1e-13);
  BOOST_TEST(close(relu.variance.value, 0.5 - 1 / (2 * std::numbers::pi), 1e-12));
  BOOST_TEST(close(analyse(make_activation("abs")).mu2(), 2 * inv, 1e-12));
  const auto he2 = analyse(make_activation("he2"));
  BOOST_TEST(close(he2.mu2(), std::sqrt(2.0), 1e-12));
  BOOST_TEST(close(he2.variance.value, 1.0, 1e-12));
  BOOST_TEST(close(he2.mean_dsigma_sq.value, 2.0, 1e-12));
  const auto he4 = analyse(make_activation("he4"));
  BOOST_TEST(close(he4.mu[4].value, std::sqrt(24.0), 1e-11));
  BOOST_TEST(close(he4.mu2(), 0.0, 1e-12));
  // A user Hermite series equal to he2 gives the same coefficients.
  BOOST_TEST(close(analyse(make_activation("hermite:0,0,1.4142135623730951")).mu2(), std::sqrt(2.0), 1e-12));
}

BOOST_AUTO_TEST_CASE(beta_star_values) {
  for (const char* a : {"he2", "relu", "abs", "quadratic-relu"}) BOOST_TEST(analyse(make_activation(a)).beta_star == 1, a);
  for (const char* a : {"he4", "tanh"}) BOOST_TEST(analyse(make_activation(a)).beta_star == 2, a);
}

BOOST_AUTO_TEST_CASE(marchenko_pastur_edge) {
  for (double alpha : {0.5, 1.0, 4.0, 25.0, 400.0}) {
    const double mp = std::pow(1 + 1 / std::sqrt(alpha), 2);
    BOOST_TEST(close(exact_bulk_edge({1.0}, alpha), mp, 1e-9 * mp), "alpha " << alpha);
    BOOST_TEST(!close(exact_bulk_edge({1.0}, alpha), 1.2 * mp, 1e-9 * mp));
  }
}

BOOST_AUTO_TEST_CASE(exact_tends_to_leading_order) {
  ModelConfig m;
  m.p = 3;
  m.noise = 0.5;
  m.preprocess = "clip:3";
  TheoryOptions opt;
  opt.mc_samples = 1 << 18;
  const std::vector<double> alphas{1e2, 1e3, 1e4};
  const auto B = predict_spectral(m, alphas, Method::exact, opt);
  const auto A = predict_spectral(m, alphas, Method::leading, opt);
  for (int k = 0; k < 3; ++k) {
    double prev = INFINITY;
    for (std::size_t i = 0; i < alphas.size(); ++i) {
      const double gap = std::abs(B.curve[i].overlap[k].value - A.curve[i].overlap[k].value);
      BOOST_TEST_MESSAGE("k=" << k + 1 << " alpha=" << alphas[i] << " |qB - qA| = " << gap);
      BOOST_TEST(gap <= 0.5 * prev + 3 * B.curve[i].overlap[k].error, "k " << k + 1 << " alpha " << alphas[i]);
      prev = gap;
    }
    // Leading order is O(1/alpha) off (THEORY section 3): at alpha = 1e4 within 1e-3.
    BOOST_TEST(prev <= 1e-3);
  }
}

BOOST_AUTO_TEST_CASE(theory_b_error_converges) {
  ModelConfig m;
  m.p = 3;
  m.noise = 0.5;
  m.preprocess = "clip:3";
  std::vector<double> err, val;
  for (std::uint64_t n : {1u << 14, 1u << 16, 1u << 18}) {
    TheoryOptions opt;
    opt.theory_method = TheoryMethod::montecarlo;  // the Monte Carlo path's own convergence
    opt.mc_samples = n;
    const auto B = predict_spectral(m, {10.0}, Method::exact, opt);
    err.push_back(B.curve[0].overlap[0].error);
    val.push_back(B.curve[0].overlap[0].value);
    BOOST_TEST_MESSAGE("samples " << n << ": q_1(10) = " << val.back() << " +- " << err.back());
  }
  // 16x the samples: the standard error should drop ~4x; allow 2x for the noise of an
  // 8-batch error estimate (its relative sd is ~1/sqrt(2*7) = 27%).
  BOOST_TEST(err[2] < err[0] / 2);
  // Successive values agree within their combined errors (3 sigma).
  BOOST_TEST(std::abs(val[2] - val[1]) <= 3 * std::hypot(err[2], err[1]));
}

// C7 (THEORY.md section 8): the ridge readout on a learned representation reaches the
// Theory E error: the best readout's bias plus the least-squares variance
//   V(n_r) = [ P (Delta + B) + sum_{k<=m} lambda_k^2 kappa(q_k) ] / n_r       (theory/risk.hpp)
// and Theory E's overlap-based bias sum_k lambda_k^2 (1 - q_k^2) is the d -> infinity limit of
// the exact bias of the representation, with an O(1/d) gap.
//
// Measurement: he2, p = 8, gamma = 1, Delta = 0.1, T = identity; first layer = top m = 3
// eigenvectors of M at alpha = 30 (directions 1-3 well above threshold: alpha_k = 0.84, 3.4,
// 7.6). For d = 200 (3 seeds): 40 independent ridge readouts per n_r in {100, 400, 1600}, each
// on its own range of the readout stream (penalty 1e-6, i.e. least squares). Every fitted
// student's risk is evaluated *exactly* (he2 features on orthonormal V are orthonormal, so
// R = c^2 + sum lambda^2 - 2 sum_j a_j b_j + sum_j a_j^2, b_j = sum_k lambda_k <v_j, w_k>^2),
// which removes the test-set noise; one readout per (seed, n_r) is also scored on 20000
// fresh test samples to check the Monte Carlo risk estimator against the exact value.
// The gap (Theory E bias - exact bias of V) is measured at d = 100 and 400 (12 seeds each).
//
// Tolerances:
//  * excess risk E[R] - B_V against V(n_r): 3 SE over the 120 readouts, plus the next order of
//    the asymptotic expansion, (P / n_r) V(n_r) (relative P/n_r = 4% at n_r = 100), plus
//    P gap_200 / n_r: V(n_r) contains the residual variance Delta + B with Theory E's bias B,
//    which exceeds the exact bias B_V of the representation by the O(1/d) gap (below; measured
//    on the three readout layers themselves: 0.007-0.022 over 20 master seeds, 1.5-5% of
//    Delta + B, at d = 200). Without this term, calibration (hmi calibrate, 20 master seeds)
//    measured (mean - V)/SE = +0.20 +- 0.72, -0.27 +- 1.13, -0.86 +- 0.91 at n_r = 100, 400,
//    1600 (mean +- sd over seeds: the predicted variance is high by a few %, as the gap says,
//    on top of the +P/n_r next order) and one false alarm, -3.25 SE at n_r = 400 (master
//    seed 4). Per-readout excess risks are right-skewed (least squares: a weighted chi-square
//    with ~P degrees of freedom), so a low mean comes with a low SE and the lower tail of
//    (mean - V)/SE is heavier than the normal one (Edgeworth, chi-square with 4 degrees of
//    freedom, 120 readouts: P(< -3) ~ 0.3%, against 0.13% for a normal). With the gap term:
//    0/20 false alarms, largest |mean - V| / tolerance 0.87 (n_r = 400, master seed 4).
//  * test-set estimate against the exact risk: 4 standard errors of the test mean (one
//    comparison per (seed, n_r), so 4 rather than 3 keeps the family-wise false alarm low).
//  * O(1/d) gap: gap(400) against gap(100) * 100/400 within 3 SE of the difference. Each
//    feature also carries O(1/d) squared overlaps with every other direction, which the
//    readout uses (always lowering the risk); measured gap * d = 2.3, 2.2, 2.0, 2.6 at
//    d = 100, 200, 400, 800 (6 seeds), i.e. proportional to 1/d.
//  * the quadrature path of ReadoutCalculus (used for non-he2 activations) against the he2
//    closed forms rho^2 = q^2, kappa = 8 q (1 - q): 1e-8 (Gauss-Hermite is exact for these
//    polynomials; the tolerance is rounding).
// Wrong predictions that must be rejected: THEORY.md's own variance (m / n_r)(Delta + B)
// (no intercept, residual assumed independent of the features), the variance without the
// heteroscedastic term kappa, the he2 Hermite coefficient mu_2 x 1.2 in the bias, and an
// O(1) (non-shrinking) gap. They are compared with the same measurements in the same test
// case and recorded in the report (extra.wrong_predictions), so `hmi calibrate` counts them.
// Calibration (master seeds 1-20): no false alarm; each wrong prediction rejected 20/20 (the
// variance without kappa by 1-3 of the 14 points, the others by 1-3 in every seed).
#define BOOST_TEST_MODULE c7_readout
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <map>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "estimators/readout.hpp"
#include "estimators/spectral.hpp"
#include "theory/risk.hpp"
#include "verify/check.hpp"

using namespace hmi;

namespace {

constexpr double kAlpha = 30;
constexpr int kWidth = 3;
constexpr int kReplicates = 40;
const std::vector<int> kReadoutSizes{100, 400, 1600};

theory::ModelConfig model() {
  theory::ModelConfig m;
  m.activation = "he2";
  m.p = 8;
  m.gamma = 1.0;
  m.noise = 0.1;
  return m;
}

// Exact risk of a he2 student with orthonormal directions and no linear term.
double exact_he2_risk(const est::Teacher& t, const est::Student& s) {
  const xt::xtensor<double, 2> C = xt::linalg::dot(xt::transpose(s.U), t.W);
  double r = s.c * s.c;
  for (double l : t.lambda) r += l * l;
  for (std::size_t j = 0; j < s.a.size(); ++j) {
    double b = 0;
    for (int k = 0; k < t.p; ++k) b += t.lambda[k] * C(j, k) * C(j, k);
    r += s.a[j] * s.a[j] - 2 * s.a[j] * b;
  }
  return r;
}

struct FirstLayer {
  est::Teacher teacher;
  xt::xtensor<double, 2> V;
  std::vector<double> q;  // q_k = max_j <v_j, w_k>^2 over the m features
  double exact_bias = 0;  // B_V: risk of the best readout on V
};

FirstLayer first_layer(int d, std::uint64_t seed) {
  auto m = model();
  m.seed = seed;
  FirstLayer f{est::make_teacher(m, d), {}, {}, 0};
  est::SpectralConfig cfg{.d = d, .alpha = kAlpha, .top = 16, .threads = 2};
  const auto r = est::run_spectral(f.teacher, cfg);
  f.V = xt::view(r.eig.vectors, xt::all(), xt::range(0, kWidth));
  const xt::xtensor<double, 2> C = xt::linalg::dot(xt::transpose(f.V), f.teacher.W);
  f.q.assign(m.p, 0.0);
  for (int k = 0; k < m.p; ++k)
    for (int j = 0; j < kWidth; ++j) f.q[k] = std::max(f.q[k], C(j, k) * C(j, k));
  f.exact_bias = est::he2_population_risk(f.teacher, f.V);
  return f;
}

// A readout theory: (overlaps, n_r) -> (bias, variance).
struct TheoryE {
  std::string name;
  std::function<theory::RiskTerms(const std::vector<double>& lambda, const std::vector<double>& q, double nr)> terms;
};

TheoryE true_theory() {
  return {"Theory E", [](const std::vector<double>& lam, const std::vector<double>& q, double nr) {
            static const theory::ReadoutCalculus rc(theory::make_activation("he2"));
            return theory::risk_from_overlaps(lam, q, kWidth, nr, model().noise, rc);
          }};
}

struct Measurements {
  std::vector<std::uint64_t> seeds;
  struct Readout {
    int nr;
    std::vector<double> excess;  // R_exact - B_V per readout
    std::vector<double> q_mean;  // overlaps averaged over seeds (for the variance prediction)
    std::vector<double> lambda;
    std::vector<std::array<double, 3>> test_vs_exact;  // (test estimate, its SE, exact)
  };
  std::vector<Readout> readouts;
  std::map<int, std::vector<double>> gap;  // d -> (Theory E bias - B_V) per seed
  double readout_gap = 0;                  // the same, averaged over the d = 200 readout layers
  std::map<int, std::vector<std::vector<double>>> q_by_d;

  Measurements() {
    seeds = verify::seeds(12);
    const auto truth = true_theory();
    // Readouts at d = 200 (first 3 seeds).
    std::vector<FirstLayer> layers;
    for (int s = 0; s < 3; ++s) layers.push_back(first_layer(200, seeds[s]));
    for (const auto& fl : layers)
      readout_gap += (truth.terms(fl.teacher.lambda, fl.q, 0).bias() - fl.exact_bias) / layers.size();
    for (int nr : kReadoutSizes) {
      Readout ro{nr, {}, std::vector<double>(model().p, 0.0), layers[0].teacher.lambda, {}};
      for (const auto& fl : layers) {
        for (int k = 0; k < model().p; ++k) ro.q_mean[k] += fl.q[k] / layers.size();
        for (int rep = 0; rep < kReplicates; ++rep) {
          est::ReadoutConfig rc{.ridge = 1e-6, .samples = std::uint64_t(nr), .first = std::uint64_t(rep) * nr};
          const auto fit = est::fit_ridge(fl.teacher, fl.V, rc);
          BOOST_REQUIRE(fit.status == "ok");
          const double exact = exact_he2_risk(fl.teacher, fit.student);
          ro.excess.push_back(exact - fl.exact_bias);
          if (rep == 0) {
            const auto test = est::test_risk(fl.teacher, fit.student, 20000, 2);
            ro.test_vs_exact.push_back({test.value, test.standard_error, exact});
          }
        }
      }
      readouts.push_back(ro);
      BOOST_TEST_MESSAGE("measured n_r = " << nr);
    }
    // The O(1/d) gap at two sizes.
    for (int d : {100, 400})
      for (auto seed : seeds) {
        const auto fl = first_layer(d, seed);
        gap[d].push_back(truth.terms(fl.teacher.lambda, fl.q, 0).bias() - fl.exact_bias);
        q_by_d[d].push_back(fl.q);
      }
  }
};

const Measurements& measured() {
  static const Measurements m;
  return m;
}

// Compares the readout measurements with a readout theory; `gap_ratio` is the predicted
// gap(400)/gap(100) (1/4 for an O(1/d) gap, 1 for an O(1) one).
reports::ClaimReport compare(const Measurements& M, const TheoryE& th, double gap_ratio) {
  reports::ClaimReport r;
  r.claim = "C7";
  r.title = "ridge readout on the spectral representation reaches the Theory E error (" + th.name + ")";
  r.config = {{"model", model()}, {"alpha", kAlpha}, {"width", kWidth}, {"d", 200}, {"replicates_per_seed", kReplicates},
              {"readout_samples", kReadoutSizes}, {"ridge", 1e-6}, {"gap_sizes", {100, 400}}};
  r.seeds = M.seeds;
  r.tolerance_reason =
      "excess: 3 SE over readouts + (P/n_r) V (next order of the asymptotic variance) + P gap_200 / n_r (Theory E's bias "
      "in the residual variance exceeds B_V by the O(1/d) gap); test estimator: 4 SE of the test "
      "mean; gap: 3 SE of gap(400) - ratio * gap(100)";
  for (const auto& ro : M.readouts) {
    const auto st = verify::stats(ro.excess);
    const auto terms = th.terms(ro.lambda, ro.q_mean, ro.nr);
    const double V = terms.variance;
    r.check("excess risk n_r=" + std::to_string(ro.nr), ro.nr, st.mean, st.se, V,
            3 * st.se + double(terms.parameters) / ro.nr * (std::abs(V) + std::abs(M.readout_gap)));
    for (const auto& [test, se, exact] : ro.test_vs_exact)
      r.check("test-set risk vs exact, n_r=" + std::to_string(ro.nr), ro.nr, test, se, exact, 4 * se);
  }
  const auto g100 = verify::stats(M.gap.at(100)), g400 = verify::stats(M.gap.at(400));
  const double se = std::sqrt(g400.se * g400.se + gap_ratio * gap_ratio * g100.se * g100.se);
  r.check("bias gap at d=400 vs ratio * gap at d=100", 400, g400.mean, g400.se, gap_ratio * g100.mean, 3 * se);
  r.extra["gap"] = {{"d100", g100.mean}, {"d100_se", g100.se}, {"d400", g400.mean}, {"d400_se", g400.se},
                    {"d200_readout_layers", M.readout_gap}};
  // The bias itself: Theory E's q-based bias against the exact one at d = 400, allowing the
  // measured O(1/d) gap (gap(100) * 100/400 + 3 SE): a wrong bias formula moves it by far more.
  std::vector<double> th_bias, exact_bias;
  for (std::size_t s = 0; s < M.q_by_d.at(400).size(); ++s) {
    const auto& q = M.q_by_d.at(400)[s];
    th_bias.push_back(th.terms(M.readouts[0].lambda, q, 0).bias());
    exact_bias.push_back(true_theory().terms(M.readouts[0].lambda, q, 0).bias() - M.gap.at(400)[s]);
  }
  const auto tb = verify::stats(th_bias), eb = verify::stats(exact_bias);
  r.check("bias at d=400: theory(q) vs exact B_V", 400, eb.mean, eb.se, tb.mean, 0.25 * g100.mean + 0.75 * g100.se + 3 * eb.se);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(readout_calculus_quadrature_matches_he2_closed_form) {
  // "hermite:0,0,sqrt2" is he2 but is not recognised by name, so it takes the quadrature path.
  const theory::ReadoutCalculus closed(theory::make_activation("he2"));
  const theory::ReadoutCalculus quad(theory::make_activation("hermite:0,0,1.4142135623730951"));
  for (double q : {0.0, 0.1, 0.37, 0.8, 1.0}) {
    BOOST_TEST(std::abs(quad.explained(q) - closed.explained(q)) < 1e-8);
    BOOST_TEST(std::abs(quad.heteroscedastic(q) - closed.heteroscedastic(q)) < 1e-8);
  }
}

// The true prediction must pass; each wrong one, compared with the same measurements in the
// same test case, must be rejected, and is recorded in the report (extra.wrong_predictions) so
// that `hmi calibrate` counts the detections under every master seed.
BOOST_AUTO_TEST_CASE(c7_readout_matches_theory_E) {
  const auto& M = measured();
  auto r = compare(M, true_theory(), 0.25);
  const double delta = model().noise;
  // THEORY.md section 7's variance (m / n_r)(Delta + unexplained variance).
  TheoryE theory_md{"THEORY.md variance (m/n_r)(Delta+B)", [&](const std::vector<double>& lam, const std::vector<double>& q, double nr) {
                      auto t = true_theory().terms(lam, q, 0);
                      t.variance = nr > 0 ? kWidth / nr * (delta + t.bias()) : 0.0;
                      return t;
                    }};
  TheoryE no_kappa{"variance without kappa", [&](const std::vector<double>& lam, const std::vector<double>& q, double nr) {
                     auto t = true_theory().terms(lam, q, 0);
                     t.parameters = 1 + kWidth;
                     t.variance = nr > 0 ? t.parameters * (delta + t.bias()) / nr : 0.0;
                     return t;
                   }};
  TheoryE mu2{"mu_2 x 1.2", [&](const std::vector<double>& lam, const std::vector<double>& q, double nr) {
                // rho_k = mu_2^2 q_k / 2! / Var sigma with mu_2 = 1.2 sqrt 2 (Var sigma kept at 1).
                auto t = true_theory().terms(lam, q, nr);
                t.learned = 0;
                for (int k = 0; k < kWidth; ++k) {
                  const double rho = std::min(1.0, 1.44 * q[k]);
                  t.learned += lam[k] * lam[k] * (1 - rho * rho);
                }
                return t;
              }};
  TheoryE o1_gap = true_theory();
  o1_gap.name = "O(1) bias gap (not shrinking with d)";
  for (const auto& [th, ratio] :
       std::vector<std::pair<TheoryE, double>>{{theory_md, 0.25}, {no_kappa, 0.25}, {mu2, 0.25}, {o1_gap, 1.0}})
    r.reject(th.name, compare(M, th, ratio));  // the O(1)-gap prediction is judged with gap ratio 1
  verify::check_rejections(r, "C7");
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, "C7_readout"));
}

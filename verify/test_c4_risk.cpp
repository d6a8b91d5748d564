// C4 (THEORY.md section 8): the prediction error R(alpha) of the two-stage learner (spectral
// first layer of width m, ridge readout on fresh samples) follows Theory E: the risk curve
// over more than a decade of alpha, the asymptotic exponent -(1 - 1/(2 gamma)), and the
// parametric tail R ∝ 1/alpha once all min(p, m) directions are learned.
//
// (a) Curve. he2, p = 30, gamma = 1, Delta = 0.1, T = clip(3), d = 300, m = 15, alpha in
//     {25, 50, 100, 200, 400}, readout on n_r = n fresh samples (ridge 1e-6), risk on 20000
//     fresh test samples, 4 seeds. Prediction: Theory E with Theory B overlaps (2^18 Monte
//     Carlo samples) and the readout variance term, theory/risk.hpp. Tolerance:
//     3 sqrt(SE^2 + err_B^2) + 0.03 R: SE over seeds (each seed's value has its own test-set SE,
//     ~1%, contained in the spread), err_B = Theory B's error bar propagated to R, and 3%
//     finite size. Two finite-d effects are identified: every feature carries O(1/d) squared
//     overlaps with all other directions, which the readout exploits (risk lower by ~2/d per
//     unit of bias, verify/test_c7_readout.cpp), and near-threshold smoothing. Measured
//     simulation/theory ratios (scratch runs, 8 seeds, alpha = 25, 50, 100, 200): d = 150:
//     0.995, 0.990, 0.985, 0.994 (SE 1.5-2%); d = 300: 0.997, 0.981, 1.000, 0.995 (SE 0.6-1.6%);
//     d = 600: 0.996, 1.003, 1.008, 1.008 (SE 0.5-1.2%): within 2%, no trend in d.
// (b) Exponent, on the theory curve itself: Theory A with T = identity (the large-alpha limit
//     of Theory B), m = p = 1e5, no readout variance, 20 points per decade; least-squares
//     slope of log R over a decade. Claim: it approaches -(1 - 1/(2 gamma)) as alpha grows
//     (p >> k*(alpha)): for gamma = 1 and 1.5 the deviation shrinks over the decades
//     [10,100], [100,1e3], [1e3,1e4], and on the last one it is within 0.01 (the staircase
//     ripple about the fit is < 0.002 in log R; the deviation decays like 1/k*). gamma = 0.75
//     converges slowest (k* ∝ alpha^(2/3) but the tail sum_{k>k*} k^-1.5 ∝ k*^-0.5 is cut at
//     p = 1e5, which bends the curve down at alpha > 1e3): checked on [100, 1e3] only.
// (c) Parametric tail. he2, p = m = 4, gamma = 1, Delta = 0.1, T = clip(3), d = 100, alpha in
//     {100, 200, 400, 800} (alpha_4 = 18), 4 seeds: slope of log R against log alpha vs -1,
//     with tolerance 3 SE + |s_B + 1| (Theory B's own curvature, the -alpha_k^2/alpha^2 term of
//     1 - q^2) + 0.05 (finite size).
// Wrong predictions that must be rejected: (a) Theory E for gamma x 1.2, for mu_2 x 1.2 (the
// he2 Hermite series scaled by 1.2), and with Theory A overlaps (the leading order, which
// THEORY.md says under-predicts by 20-50% at moderate alpha); (b) the exponent for
// gamma x 1.2; (c) a tail exponent -(1 - 1/(2 gamma)) = -1/2 (no parametric regime). Each is
// compared with the same measurements in the same test case and recorded in the report
// (extra.wrong_predictions, with the parts that reject it). Calibration (hmi calibrate, master
// seeds 1-20): no false alarm (largest |measured - expected| / tolerance: 0.64 on the curve,
// 0.66 on the tail slope); every wrong prediction rejected 20/20, gamma x 1.2 by the simulated
// curve (a) as well as by the exponent (b) in every seed.
//
// (d) Negative spikes (theta_k < 0: the spike leaves the *bottom* of the spectrum, THEORY.md
//     section 2). Two models, d = 300, m = 4, alpha in {25, 100}, 4 seeds, T = clip(3): -he2
//     (mu_2 < 0, every theta_k < 0) and he2 with fixed signed amplitudes (-,+,-,+,... on the
//     normalized gamma = 1 law, p = 8: theta_1 < 0). Same rule as (a). The first layer is the
//     top-m eigenvectors by |eigenvalue|. Deliberately wrong *learner* that must be rejected by
//     the same comparison: the top-m by signed value (the bug of issue 16, which dropped every
//     negative spike: risk 2-9.6x Theory E on such models).
//
// Not tested: a visible staircase in R(alpha). For he2 a direction's readout gain is
// lambda_k^2 rho_k^2 = lambda_k^2 q_k^2 and q_k rises linearly from 0 at alpha_k (Theory B),
// so R is C^1 at every threshold: the plateau-then-drop shape of THEORY.md section 7 is not
// there, even at d = infinity (it is in the GD training curves, verify/test_c6_gd.cpp).
#define BOOST_TEST_MODULE c4_risk
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numeric>

#include <xtensor/xview.hpp>

#include "estimators/readout.hpp"
#include "estimators/spectral.hpp"
#include "theory/risk.hpp"
#include "verify/check.hpp"

using namespace hmi;

namespace {

// ------------------------------------------------------------------ measurement helpers
struct RiskCurve {
  std::vector<double> alphas;
  std::vector<std::vector<double>> risk;  // [alpha][seed]
};

// The first layer: the first `width` eigenvectors in the solver's order (by |eigenvalue|), or, for
// the deliberately wrong learner of (d), the top `width` by signed value.
enum class Pick { magnitude, signed_value };

xt::xtensor<double, 2> first_layer(const est::Eigenpairs& e, int width, Pick pick) {
  std::vector<int> idx(e.values.size());
  std::iota(idx.begin(), idx.end(), 0);
  if (pick == Pick::signed_value)
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return e.values[a] > e.values[b]; });
  xt::xtensor<double, 2> V = xt::zeros<double>({e.vectors.shape(0), std::size_t(width)});
  for (int j = 0; j < width; ++j) xt::view(V, xt::all(), j) = xt::view(e.vectors, xt::all(), idx[j]);
  return V;
}

RiskCurve simulate(const theory::ModelConfig& base, int d, int width, const std::vector<double>& alphas,
                   const std::vector<std::uint64_t>& seeds, Pick pick = Pick::magnitude,
                   RiskCurve* wrong = nullptr) {
  if (wrong) *wrong = RiskCurve{alphas, std::vector<std::vector<double>>(alphas.size())};
  RiskCurve c{alphas, std::vector<std::vector<double>>(alphas.size())};
  for (auto seed : seeds) {
    auto m = base;
    m.seed = seed;
    const est::Teacher t = est::make_teacher(m, d);
    for (std::size_t i = 0; i < alphas.size(); ++i) {
      est::SpectralConfig sc{.d = d, .alpha = alphas[i], .top = std::max(width, std::min(d, 2 * t.p)), .threads = 2};
      const auto r = est::run_spectral(t, sc);
      BOOST_REQUIRE(r.eig.status != "non_finite");
      auto risk_of = [&](Pick how) {
        const xt::xtensor<double, 2> V = first_layer(r.eig, width, how);
        const auto fit = est::fit_ridge(t, V, {.ridge = 1e-6, .samples = r.n, .threads = 2});
        BOOST_REQUIRE(fit.status == "ok");
        const auto risk = est::test_risk(t, fit.student, 20000, 2);
        BOOST_REQUIRE(risk.status == "ok");
        return risk.value;
      };
      c.risk[i].push_back(risk_of(pick));
      if (wrong) wrong->risk[i].push_back(risk_of(Pick::signed_value));
    }
  }
  return c;
}

// ------------------------------------------------------------------ (a) the risk curve
constexpr int kDa = 300, kWidthA = 15;
const std::vector<double> kAlphasA{25, 50, 100, 200, 400};

theory::ModelConfig model_a() {
  theory::ModelConfig m;
  m.p = 30;
  m.gamma = 1.0;
  m.noise = 0.1;
  m.preprocess = "clip:3";
  return m;
}

std::vector<theory::Estimate> risk_theory(const theory::ModelConfig& m, const std::vector<double>& alphas, int width, int d,
                                          theory::Method method, int log2_samples = 18) {
  theory::TheoryOptions opt;
  opt.mc_samples = std::uint64_t(1) << log2_samples;
  const auto pred = theory::predict_risk(m, alphas, {.width = width, .d = d}, method, opt);
  std::vector<theory::Estimate> out;
  for (const auto& pt : pred.curve) out.push_back(pt.risk);
  return out;
}

// ------------------------------------------------------------------ (b) the exponent
const std::vector<double> kGammasB{0.75, 1.0, 1.5};
constexpr int kPB = 100000;

struct ExponentCurve {
  double gamma;
  std::vector<double> alpha, risk;
};

// ------------------------------------------------------------------ (c) the parametric tail
constexpr int kDc = 100;
const std::vector<double> kAlphasC{100, 200, 400, 800};

theory::ModelConfig model_c() {
  auto m = model_a();
  m.p = 4;
  return m;
}

// ------------------------------------------------------------------ (d) negative spikes
constexpr int kDd = 300, kWidthD = 4;
const std::vector<double> kAlphasD{25, 100};

std::vector<theory::ModelConfig> models_d() {
  theory::ModelConfig neg_mu2 = model_a();
  neg_mu2.p = 8;
  neg_mu2.activation = "hermite:0,0,-1.4142135623730951";  // -he2: mu_2 = -sqrt 2, every theta_k < 0
  theory::ModelConfig signed_lambda = neg_mu2;
  signed_lambda.activation = "he2";
  std::string amps;  // lambda_k = (-1)^k k^-1 / Z: theta_1, theta_3, ... < 0
  double z2 = 0;
  for (int k = 1; k <= 8; ++k) z2 += 1.0 / (k * k);
  for (int k = 1; k <= 8; ++k) {
    if (k > 1) amps += ',';
    amps += theory::format_number((k % 2 ? -1.0 : 1.0) / k / std::sqrt(z2));
  }
  signed_lambda.amplitudes = amps;
  return {neg_mu2, signed_lambda};
}

double log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  return theory::fit_log_slope(x, y, 0, 1e300).slope;
}

struct Measurements {
  std::vector<std::uint64_t> seeds;
  RiskCurve a, c;
  std::vector<RiskCurve> d, d_signed;          // (d): per model, the |eigenvalue| and the signed-order learner
  std::vector<std::vector<theory::Estimate>> theory_d;
  std::vector<ExponentCurve> b;
  std::vector<theory::Estimate> theory_a;     // Theory E (Theory B overlaps)
  std::vector<double> theory_c;               // Theory E for (c)
  Measurements() : seeds(verify::seeds(4)) {
    a = simulate(model_a(), kDa, kWidthA, kAlphasA, seeds);
    BOOST_TEST_MESSAGE("measured (a)");
    c = simulate(model_c(), kDc, 4, kAlphasC, seeds);
    BOOST_TEST_MESSAGE("measured (c)");
    for (const auto& m : models_d()) {
      RiskCurve wrong;
      d.push_back(simulate(m, kDd, kWidthD, kAlphasD, seeds, Pick::magnitude, &wrong));
      d_signed.push_back(wrong);
      theory_d.push_back(risk_theory(m, kAlphasD, kWidthD, kDd, theory::Method::exact));
    }
    BOOST_TEST_MESSAGE("measured (d)");
    theory_a = risk_theory(model_a(), kAlphasA, kWidthA, kDa, theory::Method::exact);
    for (const auto& e : risk_theory(model_c(), kAlphasC, 4, kDc, theory::Method::exact)) theory_c.push_back(e.value);
    for (double g : kGammasB) {
      theory::ModelConfig m;
      m.p = kPB;
      m.gamma = g;
      m.noise = 0.1;
      ExponentCurve ec{g, {}, {}};
      for (const auto& pt : theory::leading_order_bias_curve(m, 10, 1e4, 20)) {
        ec.alpha.push_back(pt.alpha);
        ec.risk.push_back(pt.risk.value);
      }
      b.push_back(ec);
    }
  }
};

const Measurements& measured() {
  static const Measurements m;
  return m;
}

// What a prediction says: the risk curve of (a), the exponent rule of (b), the tail slope of (c).
struct Prediction {
  std::string name = "Theory E";
  std::vector<theory::Estimate> risk_a;
  double gamma_factor = 1.0;    // (b): exponent of gamma x this
  double tail_slope = -1.0;     // (c)
  bool signed_learner = false;  // (d): judge the learner that takes the top m by signed eigenvalue
};

reports::ClaimReport compare(const Measurements& M, const Prediction& pr) {
  reports::ClaimReport r;
  r.claim = "C4";
  r.title = "prediction error R(alpha): curve, exponent -(1 - 1/(2 gamma)), parametric tail (" + pr.name + ")";
  r.config = {{"a", {{"model", model_a()}, {"d", kDa}, {"width", kWidthA}, {"alphas", kAlphasA}, {"readout", "ridge 1e-6, n_r = n fresh"},
                     {"test_samples", 20000}}},
              {"b", {{"p", kPB}, {"gammas", kGammasB}, {"theory", "A, T = identity, no readout variance"}}},
              {"c", {{"model", model_c()}, {"d", kDc}, {"width", 4}, {"alphas", kAlphasC}}}};
  r.seeds = M.seeds;
  r.tolerance_reason = "(a), (d) 3 sqrt(SE^2 + err_B^2) + 3% finite size; (b) 0.01 on the last decade, deviations decreasing; "
                       "(c) 3 SE + |s_B + 1| + 0.05";
  // (a)
  for (std::size_t i = 0; i < M.a.alphas.size(); ++i) {
    const auto st = verify::stats(M.a.risk[i]);
    const auto& e = pr.risk_a[i];
    r.check("(a) risk alpha=" + std::to_string(int(M.a.alphas[i])), M.a.alphas[i], st.mean, st.se, e.value,
            3 * std::sqrt(st.se * st.se + e.error * e.error) + 0.03 * e.value);
  }
  // (b)
  nlohmann::json fits = nlohmann::json::array();
  for (const auto& ec : M.b) {
    const double expo = theory::asymptotic_risk_exponent(ec.gamma * pr.gamma_factor);
    const std::vector<double> lows = ec.gamma < 0.9 ? std::vector<double>{10, 100} : std::vector<double>{10, 100, 1000};
    double prev_dev = 1e300;
    for (double lo : lows) {
      const auto f = theory::fit_log_slope(ec.alpha, ec.risk, lo * 0.999, lo * 10.001);
      const double dev = std::abs(f.slope - expo);
      fits.push_back({{"gamma", ec.gamma}, {"window", {lo, 10 * lo}}, {"slope", f.slope}, {"rms_residual", f.rms_residual},
                      {"exponent", expo}});
      if (lo != lows.front())
        r.record({"(b) gamma " + std::to_string(ec.gamma).substr(0, 4) + ": |slope - exponent| shrinks, window [" +
                      std::to_string(int(lo)) + ", " + std::to_string(int(10 * lo)) + "]",
                  lo, dev, 0, prev_dev, 0, dev < prev_dev});
      prev_dev = dev;
      if (lo == lows.back())
        r.check("(b) gamma " + std::to_string(ec.gamma).substr(0, 4) + ": slope on [" + std::to_string(int(lo)) + ", " +
                    std::to_string(int(10 * lo)) + "]",
                lo, f.slope, 0, expo, 0.01);
    }
  }
  r.extra["exponent_fits"] = fits;
  // (c)
  std::vector<double> slopes;
  for (std::size_t s = 0; s < M.seeds.size(); ++s) {
    std::vector<double> y;
    for (const auto& v : M.c.risk) y.push_back(v[s]);
    slopes.push_back(log_slope(M.c.alphas, y));
  }
  const auto st = verify::stats(slopes);
  const double sB = log_slope(M.c.alphas, M.theory_c);
  r.check("(c) tail slope, alpha 100..800, p = m = 4", 4, st.mean, st.se, pr.tail_slope, 3 * st.se + std::abs(sB + 1) + 0.05);
  r.extra["tail"] = {{"theory_B_slope", sB}, {"measured_slopes", slopes}};
  // (d)
  const auto md = models_d();
  for (std::size_t m = 0; m < md.size(); ++m) {
    const RiskCurve& rc = pr.signed_learner ? M.d_signed[m] : M.d[m];
    for (std::size_t i = 0; i < rc.alphas.size(); ++i) {
      const auto st = verify::stats(rc.risk[i]);
      const auto& e = M.theory_d[m][i];
      // Built by appending (GCC 12 warns falsely, -Wrestrict, on "literal" + std::string&&).
      std::string label = "(d) ";
      label += m == 0 ? "mu_2 < 0" : "signed lambda";
      label += " risk alpha=" + std::to_string(int(rc.alphas[i]));
      r.check(label, rc.alphas[i], st.mean, st.se, e.value, 3 * std::sqrt(st.se * st.se + e.error * e.error) + 0.03 * e.value);
    }
  }
  r.config["d"] = {{"models", md}, {"d", kDd}, {"width", kWidthD}, {"alphas", kAlphasD}, {"first_layer", "top m by |eigenvalue|"}};
  nlohmann::json curve = nlohmann::json::array();
  for (std::size_t i = 0; i < M.a.alphas.size(); ++i)
    curve.push_back({{"alpha", M.a.alphas[i]}, {"measured", verify::stats(M.a.risk[i]).mean},
                     {"measured_se", verify::stats(M.a.risk[i]).se}, {"predicted", pr.risk_a[i].value},
                     {"predicted_error", pr.risk_a[i].error}});
  r.extra["curve"] = curve;
  return r;
}

}  // namespace

// The true prediction must pass; each wrong one, compared with the same measurements in the
// same test case, must be rejected, and is recorded in the report (extra.wrong_predictions) so
// that `hmi calibrate` counts the detections under every master seed.
BOOST_AUTO_TEST_CASE(C4_risk) {
  const auto& M = measured();
  auto r = compare(M, {.risk_a = M.theory_a});
  for (const auto& c : r.extra["curve"])
    BOOST_TEST_MESSAGE("alpha " << c["alpha"] << ": simulated " << c["measured"] << " +- " << c["measured_se"] << ", Theory E "
                                << c["predicted"] << " +- " << c["predicted_error"]);
  auto g12 = model_a();
  g12.gamma *= 1.2;
  auto mu2 = model_a();
  mu2.activation = "hermite:0,0,1.6970562748477140";  // he2 = (sqrt 2 / 2) He_2, mu_2 x 1.2
  const std::vector<Prediction> wrong_predictions{
      {.name = "gamma x 1.2", .risk_a = risk_theory(g12, kAlphasA, kWidthA, kDa, theory::Method::exact, 16), .gamma_factor = 1.2},
      {.name = "mu_2 x 1.2", .risk_a = risk_theory(mu2, kAlphasA, kWidthA, kDa, theory::Method::exact, 16)},
      {.name = "Theory A overlaps", .risk_a = risk_theory(model_a(), kAlphasA, kWidthA, kDa, theory::Method::leading, 16)},
      {.name = "no parametric tail", .risk_a = M.theory_a, .tail_slope = -0.5},
      {.name = "first layer by signed eigenvalue", .risk_a = M.theory_a, .signed_learner = true}};
  for (const auto& pr : wrong_predictions) r.reject(pr.name, compare(M, pr));  // rejected_by: the parts (a)-(d)
  verify::check_rejections(r, "C4");
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, "C4_risk"));
}

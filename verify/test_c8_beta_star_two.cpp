// C8 (THEORY.md sections 5 and 8, secondary): for an activation with mu_2 = 0 (he4, beta* = 2)
// the identity preprocessing has no mean spike (theta_k = mu_2 lambda_k = 0), while the bounded
// even preprocessing T = min(y^2, C) recovers the directions; the information-theoretic and the
// spectral thresholds then follow k^(2 gamma beta*) = k^(4 gamma) (companion paper), a law that
// heavy tails hide at the sizes a simulation reaches.
//
// Measurement, simulation: he4, p = 3, gamma = 1, Delta = 0.1, d = 1000, full eigendecomposition
// of M (so that nothing at the bottom of the spectrum is missed), seeds 1000 master + i:
//   T = square-clip:4 (Theory B exact: alpha_k = 2.8, 8.0, 18.6) at alpha in {1.5, 12, 40}, 6 seeds;
//   T = identity at alpha in {12, 40}, 8 seeds; T = square at alpha = 40, 3 seeds.
// Measurement, theory: he4, p = 1000, gamma = 1, Delta = 1, k on a log grid to 1000: T = square
// (Theory A, closed form), T = square-clip:4 (Theory A by conditional Monte Carlo, ~1-2% at every
// k; Theory B for k <= 3), oracle thresholds by quadrature. Delta = 1 because the oracle reaches
// its beta* = 2 law only for lambda <~ 1e-3 sqrt(Delta) (theory/INFORMATION.md): with Delta = 0.1
// its local exponent over k in [100, 1000] is still 4.18.
//
// Tolerances:
//   square-clip counts: the C5 bracket rule (verify/claims/rate.cpp), per seed, at alpha = 12 and
//     40 (where alpha >= 2 alpha_k only if Theory B puts the outlier >= 6% above the edge: see
//     clip_bracket; at alpha = 1.5 = 0.53 alpha_1 the top eigenvalue fluctuates by 4% of the edge, twice the
//     margin, so only overlaps are recorded there); overlaps where alpha >= 1.5 alpha_k:
//     t sqrt(SE^2 + err^2) + 0.03 sqrt(1000/d) (C2's tolerance, with t = Student's t quantile of
//     3-sigma coverage for the seeds' n - 1 degrees of freedom instead of 3);
//   identity: what it finds is compared with the exact theory of its bounded proxy clip:20
//     (labels above 20 only matter at the top of the spectrum; the finding sits at the bottom,
//     where he4's labels are bounded below by -1.22 lambda_1): q_1 with C2's tolerance; k = 2, 3
//     (no threshold below alpha = 40 in that theory): not found by the C5 rule, i.e. fewer
//     than half the seeds reach q_k >= 0.1 over the whole eigenbasis (a random direction
//     reaches ~0.012, square-clip 0.33-0.60 there; see identity_absent for the calibration);
//   exponents over k in [100, 1000]: 3 x propagated error + 0.03 (the oracle's correction
//     -286 lambda^2/Delta (INFORMATION.md) moves its local exponent by <= 0.035 at k = 100, ~0.01 on
//     average; theta_k / lambda_k^2 of square-clip varies by < 1% over the window); ratio: 3 x
//     error + 5% of the limit 2 Var T / (Delta E[T''])^2;
//   reachable sizes: the exponent over k in [1, 3] is asserted to be below 4 gamma - 1 (the
//     law is hidden there), the statement THEORY section 5 warns about, made falsifiable.
// Wrong predictions that must be rejected: Theory A for identity (theta = 0: no direction at
// all; it misses the bottom outlier of direction 1); "identity finds directions 2, 3 as
// square-clip does"; "square-clip finds nothing"; exponent 2 gamma (the beta* = 1 law); the
// beta* = 2 law visible at k <= 3; oracle thresholds x 0.5.
// Findings recorded, not asserted: T = square at alpha = 40 (Theory A predicts q_1 = 0.73; the
// measured overlaps stay at the null level because single-label spikes of y^2 dominate).
// Known blind spot (recorded, not asserted): square-clip Theory B with gamma x 1.2, rejected in
// 15/20 master seeds (hmi calibrate, seeds 1-20). It moves q_3 at alpha = 40 from 0.33 to 0.19
// and q_2 by <= 0.05, but 4 seeds of q_3 near its threshold give 3 SE = 0.04-0.15: seeing it in
// >= 19/20 would take ~4x the seeds at alpha = 40 (halving the SE) or a point further above alpha_3.
// Calibration of the rest (seeds 1-20): see identity_absent and clip_bracket for the two rules
// that produced false alarms before they were fixed; every asserted rejection 20/20.
#define BOOST_TEST_MODULE c8_beta_star_two
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include <xtensor-blas/xlinalg.hpp>

#include "estimators/spectral.hpp"
#include "theory/rate.hpp"
#include "theory/spectral.hpp"
#include "verify/check.hpp"
#include "verify/claims/rate.hpp"
#include "verify/claims/spectral.hpp"

using namespace hmi;

namespace {

constexpr int kD = 1000;
constexpr int kTop = 20;  // the estimator's top-K by |eigenvalue| (THEORY section 2)
constexpr double kGammaRate = 1.0;

theory::ModelConfig sim_model(const std::string& T) {
  theory::ModelConfig m;
  m.activation = "he4";
  m.p = 3;
  m.gamma = 1.0;
  m.noise = 0.1;
  m.preprocess = T;
  return m;
}

theory::ModelConfig rate_model(const std::string& T) {
  theory::ModelConfig m;
  m.activation = "he4";
  m.p = 1000;
  m.gamma = kGammaRate;
  m.noise = 1.0;
  m.preprocess = T;
  return m;
}

// One run with the whole spectrum: overlaps over all eigenvectors and over the estimator's top-K.
struct FullRun {
  verify::SpectralRun run;         // eigenvalues: all d (for the outlier count)
  std::vector<double> q_full;      // max_j <v_j, w_k>^2 over all eigenvectors
  std::vector<double> eig_of_best; // eigenvalue of that eigenvector
  std::vector<double> q_top;       // over the top-K by |eigenvalue| (the estimator's metric)
  double q_null_full = 0;          // the same for a random unit vector independent of the teacher
};

FullRun full_run(const theory::ModelConfig& base, double alpha, std::uint64_t seed) {
  theory::ModelConfig m = base;
  m.seed = seed;
  const est::Teacher t = est::make_teacher(m, kD);
  est::SpectralConfig cfg{.d = kD, .alpha = alpha, .top = 0, .threads = 2};
  const auto M = est::accumulate_spectral_matrix(t, cfg.n(), cfg.threads, cfg.block);
  const auto [w, V] = xt::linalg::eigh(M);
  std::vector<double> u(kD);
  est::fill_gaussian_row(seed, 9, 0, kD, u.data());  // stream 9: used by nothing else
  const double nu = std::sqrt(std::inner_product(u.begin(), u.end(), u.begin(), 0.0));
  FullRun r;
  r.run.d = kD;
  r.run.alpha = alpha;
  r.run.seed = seed;
  r.run.eigenvalues.assign(w.begin(), w.end());
  std::vector<int> order(kD);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return std::abs(w(a)) > std::abs(w(b)); });
  std::vector<bool> in_top(kD, false);
  for (int j = 0; j < kTop; ++j) in_top[order[j]] = true;
  for (int k = 0; k < t.p; ++k) {
    double best = 0, top = 0, at = 0;
    for (int j = 0; j < kD; ++j) {
      double dot = 0;
      for (int i = 0; i < kD; ++i) dot += V(i, j) * t.W(i, k);
      const double q = dot * dot;
      if (q > best) {
        best = q;
        at = w(j);
      }
      if (in_top[j]) top = std::max(top, q);
    }
    r.q_full.push_back(best);
    r.eig_of_best.push_back(at);
    r.q_top.push_back(top);
  }
  for (int j = 0; j < kD; ++j) {
    double dot = 0;
    for (int i = 0; i < kD; ++i) dot += V(i, j) * u[i] / nu;
    r.q_null_full = std::max(r.q_null_full, dot * dot);
  }
  r.run.overlap = r.q_full;
  r.run.smallest = w(0);
  return r;
}

struct Cell {
  std::string T;
  double alpha;
  std::vector<FullRun> runs;
};

const std::vector<Cell>& measurements() {
  static const std::vector<Cell> cells = [] {
    std::vector<Cell> out;
    auto add = [&](const std::string& T, double a, int seeds) {
      Cell c{T, a, {}};
      for (auto s : verify::seeds(seeds)) c.runs.push_back(full_run(sim_model(T), a, s));
      BOOST_TEST_MESSAGE("measured T=" << T << " alpha=" << a << " (" << seeds << " seeds)");
      out.push_back(std::move(c));
    };
    // Seeds: the overlap rule's SE multiplier is Student's t with n - 1 degrees of freedom
    // (verify::t_sigmas: 19.2 at 3 seeds, 5.5 at 6, 4.5 at 8): 3 identity seeds made "within
    // 3 SE" a 9.5 % test (false alarm at master 30), hence 8 identity and 6 square-clip seeds.
    for (double a : {1.5, 12.0, 40.0}) add("square-clip:4", a, 6);
    for (double a : {12.0, 40.0}) add("identity", a, 8);
    add("square", 40.0, 3);
    return out;
  }();
  return cells;
}

theory::SpectralPrediction predict(const theory::ModelConfig& m, const std::vector<double>& alphas,
                                   theory::Method method = theory::Method::exact) {
  theory::TheoryOptions opt;
  opt.mc_samples = 1u << 20;
  return theory::predict_spectral(m, alphas, method, opt);
}

const std::vector<double> kClipAlphas{1.5, 12.0, 40.0};
const std::vector<double> kIdentityAlphas{12.0, 40.0};

// Overlap comparison (C2's rule): q_k over the whole eigenbasis against `pred` where alpha >=
// 1.5 alpha_k of the reference; returns the verdict.
bool check_overlaps(reports::ClaimReport& r, const std::string& T, const theory::SpectralPrediction& pred,
                    const theory::SpectralPrediction& ref, const std::vector<double>& alphas) {
  bool ok = true;
  for (const auto& c : measurements()) {
    if (c.T != T) continue;
    const auto it = std::find(alphas.begin(), alphas.end(), c.alpha);
    const std::size_t ia = std::size_t(it - alphas.begin());
    for (int k = 0; k < 3; ++k) {
      if (c.alpha < 1.5 * ref.directions[k].alpha_threshold.value) continue;
      std::vector<double> q;
      for (const auto& run : c.runs) q.push_back(run.q_full[k]);
      const auto st = verify::stats(q);
      const auto& e = pred.curve[ia].overlap[k];
      ok &= r.check(T + ": q_" + std::to_string(k + 1) + " at alpha = " + theory::short_number(c.alpha), c.alpha, st.mean, st.se, e.value,
                    verify::t_sigmas(st.n) * std::hypot(st.se, e.error) + 0.03 * std::sqrt(1000.0 / kD));
    }
  }
  return ok;
}

// square-clip outlier counts by the C5 bracket rule, thresholds from `thresholds`, at alpha >= 12.
// Not at alpha = 1.5 (all directions below threshold): there n = 1.5 d and the top eigenvalue
// fluctuates by ~4% of the edge (measured, 8 seeds: 2.99-3.40 around 3.21, with q_1 <= 0.07),
// twice the 2 d^(-2/3) margin; the overlaps there are recorded instead.
reports::ClaimReport clip_bracket(const theory::SpectralPrediction& truth, const std::vector<double>& thresholds) {
  std::vector<verify::BracketCell> cells;
  for (const auto& c : measurements()) {
    if (c.T != "square-clip:4" || c.alpha < 12) continue;
    const std::size_t ia = std::size_t(std::find(kClipAlphas.begin(), kClipAlphas.end(), c.alpha) - kClipAlphas.begin());
    for (int k = 1; k <= 3; ++k) {
      // Where the outlier must be present (alpha >= 2 alpha_k) the count is compared only if
      // Theory B puts it >= 6% above the edge (3x the edge's 2% fluctuation at d = 1000; C5's
      // he2 cells have 6.5-9%). Direction 3 at alpha = 40 = 2.15 alpha_3 is 4.5% above it
      // (0.313 vs 0.300): calibration (20 master seeds) found it missing in 13 of 80 seeds and
      // in 2 of 4 seeds under masters 2 and 7 (false alarms). Its eigenvector is checked
      // instead (q_3 against Theory B: measured 0.31-0.42, predicted 0.33).
      const auto& out = truth.curve[ia].outlier[k - 1];
      const double edge = truth.curve[ia].bulk_edge.value;
      if (c.alpha >= verify::kAbove * truth.directions[k - 1].alpha_threshold.value && (!out || out->value < 1.06 * edge))
        continue;
      verify::BracketCell b{k, c.alpha, edge, {}};
      for (const auto& run : c.runs) b.runs.push_back(run.run);
      cells.push_back(std::move(b));
    }
  }
  return verify::compare_bracket(cells, thresholds);
}

// identity: directions 2, 3 not found anywhere in the spectrum at the measured alphas, by the
// C5 bracket rule's "no outlier" side: the fraction of seeds with q_k >= kFound = 0.1 (over all
// eigenvectors) must be < 0.5. Not "max over seeds <= 0.1": direction 2 is weakly present at
// alpha = 40 (finite d; the bounded proxy has no threshold below 40): calibration (20 master
// seeds x 3 seeds) measured mean q_2 0.033-0.084 per master, max over 3 seeds up to 0.119
// (above 0.1 in 4 of 20 masters: false alarms), against 0.33-0.60 for square-clip there and
// ~0.012 for a random direction; q_3 <= 0.033.
bool identity_absent(reports::ClaimReport& r) {
  bool ok = true;
  for (const auto& c : measurements()) {
    if (c.T != "identity") continue;
    for (int k : {2, 3}) {
      double worst = 0;
      int found = 0;
      for (const auto& run : c.runs) {
        worst = std::max(worst, run.q_full[k - 1]);
        found += run.q_full[k - 1] >= verify::kFound;
      }
      const double frac = double(found) / c.runs.size();
      ok &= r.record({"identity: direction " + std::to_string(k) + " absent (fraction of seeds with q >= 0.1 over all "
                      "eigenvectors; max q = " + theory::short_number(worst) + ") at alpha = " + theory::short_number(c.alpha),
                      c.alpha, frac, 0.0, 0.0, 0.5, frac < 0.5});
    }
  }
  return ok;
}

struct RateCase {
  std::string name;
  theory::RateSequence seq;
};

const std::vector<RateCase>& rate_cases() {
  static const std::vector<RateCase> cases = [] {
    theory::RateOptions opt;
    opt.exact_max_k = 3;  // Theory B's Monte Carlo loses he4 beyond k ~ 5 (theory/rate.hpp)
    const auto ks = theory::k_grid(1000, 6);
    return std::vector<RateCase>{{"square-clip:4", theory::rate_sequence(rate_model("square-clip:4"), ks, opt)},
                                 {"square", theory::rate_sequence(rate_model("square"), ks, opt)}};
  }();
  return cases;
}

// The rate checks for square-clip (Theory A at large k; Theory B and the oracle at k <= 3).
bool rate_checks(reports::ClaimReport& r, double exponent, double oracle_factor, bool law_visible_at_small_k) {
  const auto& seq = rate_cases()[0].seq;
  const double g = kGammaRate;
  verify::RateExpectation e{exponent, seq.ratio_limit};
  e.ratio_limit.value /= oracle_factor;
  const verify::RateWindow w{.k_lo = 100, .k_hi = 1000, .slope_margin = 0.03, .ratio_margin = 0.05, .leading = true};
  bool ok = verify::check_rate(r, "square-clip:4 (Theory A)", seq, e, w);
  ok &= verify::check_oracle_law(r, "he4 oracle", rate_model("square-clip:4"), seq, oracle_factor, w, 0.05);
  // Reachable sizes: directions 1-3 (Theory B and oracle).
  std::vector<double> k, b, be, o;
  for (const auto& p : seq.points) {
    k.push_back(p.k);
    b.push_back(p.alpha_spectral.value);
    be.push_back(p.alpha_spectral.error);
    o.push_back(p.oracle.alpha_c);
  }
  const auto fb = theory::loglog_fit(k, b, 1, 3, be), fo = theory::loglog_fit(k, o, 1, 3);
  // "hidden": the local exponent stays below 4 gamma - 1; a claim that it is visible expects 4 gamma.
  const double target = 4 * g, margin = 1.0;
  auto hidden = [&](const std::string& what, const theory::SlopeFit& f) {
    reports::Point p{what + ": exponent over k in [1, 3] (reachable sizes)", 3, f.slope, f.slope_error,
                     law_visible_at_small_k ? target : target - margin, margin, false};
    p.pass = law_visible_at_small_k ? std::abs(f.slope - target) <= margin : f.slope + 3 * f.slope_error < target - margin;
    return r.record(p);
  };
  ok &= hidden("square-clip:4 Theory B", fb);
  ok &= hidden("he4 oracle", fo);
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_CASE(C8_beta_star_two) {
  const auto t0 = std::chrono::steady_clock::now();
  reports::ClaimReport r;
  r.claim = "C8";
  r.title = "beta* = 2 (he4): square-clip recovers the directions identity cannot; thresholds follow k^(2 gamma beta*) "
            "only beyond reachable sizes";
  r.tolerance_reason =
      "square-clip: C5 bracket counts per seed and C2 overlap tolerance 3 sqrt(SE^2 + err^2) + 0.03 sqrt(1000/d) vs Theory "
      "B; identity: q_1 vs Theory B of the bounded proxy clip:20 (C2 tolerance), q_2, q_3 <= 0.1 over the whole "
      "eigenbasis; exponents over k in [100, 1000]: 3 x propagated error + 0.03; ratio: 3 x error + 5%; reachable k <= 3: "
      "exponent < 4 gamma - 1";

  // -- simulation
  const auto& cells = measurements();
  const double t_sim = verify::seconds_since(t0);
  const auto clip_truth = predict(sim_model("square-clip:4"), kClipAlphas);
  std::vector<double> clip_thr;
  for (const auto& d : clip_truth.directions) clip_thr.push_back(d.alpha_threshold.value);
  const auto bracket = clip_bracket(clip_truth, clip_thr);
  for (const auto& p : bracket.points) r.record(p);
  r.seeds = bracket.seeds;
  BOOST_TEST(check_overlaps(r, "square-clip:4", clip_truth, clip_truth, kClipAlphas));
  const auto proxy = predict(sim_model("clip:20"), kIdentityAlphas);
  // Direction 1 at the bottom of the spectrum, as the bounded proxy's exact theory predicts.
  BOOST_TEST(check_overlaps(r, "identity", proxy, proxy, kIdentityAlphas));
  BOOST_TEST(identity_absent(r));

  // Recorded: where things sit, the estimator's own top-K metric, the random-direction level, T = square.
  nlohmann::json table = nlohmann::json::array();
  for (const auto& c : cells) {
    std::vector<double> qf[3], qt[3], at[3], qn, count;
    for (const auto& run : c.runs) {
      for (int k = 0; k < 3; ++k) {
        qf[k].push_back(run.q_full[k]);
        qt[k].push_back(run.q_top[k]);
        at[k].push_back(run.eig_of_best[k]);
      }
      qn.push_back(run.q_null_full);
    }
    nlohmann::json row = {{"T", c.T}, {"alpha", c.alpha}, {"q_null_full_mean", verify::stats(qn).mean}};
    for (int k = 0; k < 3; ++k) {
      row["q_full_mean"].push_back(verify::stats(qf[k]).mean);
      row["q_top20_mean"].push_back(verify::stats(qt[k]).mean);
      row["eigenvalue_of_best_mean"].push_back(verify::stats(at[k]).mean);
    }
    std::vector<double> top;
    for (const auto& run : c.runs) top.push_back(run.run.eigenvalues.back());
    row["largest_eigenvalue_mean"] = verify::stats(top).mean;
    table.push_back(row);
    BOOST_TEST_MESSAGE(row.dump());
  }
  r.extra["simulation_table"] = table;
  const auto square_A = predict(sim_model("square"), {40.0}, theory::Method::leading);
  r.extra["square_theory_A_at_40"] = {{"q", {square_A.curve[0].overlap[0].value, square_A.curve[0].overlap[1].value,
                                             square_A.curve[0].overlap[2].value}},
                                      {"outlier_1", square_A.curve[0].outlier[0] ? square_A.curve[0].outlier[0]->value : 0.0},
                                      {"note", "T = square (unbounded): Theory A's prediction is not reached at alpha = 40; "
                                               "single-label spikes of y^2 dominate the spectrum"}};
  r.extra["square_clip_theory_B"] = {{"alpha_k", clip_thr}};
  {
    std::vector<double> pt;
    for (const auto& d : proxy.directions) pt.push_back(d.alpha_threshold.value);
    r.extra["identity_proxy_clip20_theory_B"] = {{"alpha_k", pt},
                                                  {"q_at", {proxy.curve[0].overlap[0].value, proxy.curve[1].overlap[0].value}}};
  }

  // -- theory: rates
  const auto t1 = std::chrono::steady_clock::now();
  BOOST_TEST(rate_checks(r, 4 * kGammaRate, 1.0, false));
  const double t_rate = verify::seconds_since(t1);
  nlohmann::json seqs = nlohmann::json::object();
  for (const auto& c : rate_cases()) {
    seqs[c.name] = verify::rate_json(c.seq);
    seqs[c.name]["model"] = rate_model(c.name);
  }
  r.extra["rate_sequences"] = seqs;
  {
    // Local exponents (recorded): spectral (Theory A / B) and oracle, by window.
    const auto& seq = rate_cases()[0].seq;
    std::vector<double> k, a, ae, o;
    for (const auto& p : seq.points) {
      k.push_back(p.k);
      a.push_back(p.alpha_leading.value);
      ae.push_back(p.alpha_leading.error);
      o.push_back(p.oracle.alpha_c);
    }
    nlohmann::json local = nlohmann::json::array();
    for (auto [lo, hi] : std::vector<std::pair<double, double>>{{1, 10}, {3, 30}, {10, 100}, {30, 300}, {100, 1000}}) {
      const auto fa = theory::loglog_fit(k, a, lo, hi, ae), fo = theory::loglog_fit(k, o, lo, hi);
      local.push_back({{"k_lo", lo}, {"k_hi", hi}, {"spectral_theory_A", fa.slope}, {"spectral_error", fa.slope_error},
                       {"oracle", fo.slope}});
    }
    r.extra["local_exponents_square_clip"] = local;
  }

  // -- wrong predictions
  // Not asserted = a known blind spot at these sizes (reported by hmi calibrate as such).
  auto reject = [&](const std::string& name, bool passed, bool asserted) {
    r.reject(name, !passed, asserted ? reports::WrongPrediction::Kind::asserted : reports::WrongPrediction::Kind::blind_spot);
  };
  {
    // Theory A for identity: theta_k = 0, so no outlier and q_k = 0 for every k at every alpha.
    reports::ClaimReport w;
    const auto lead = predict(sim_model("identity"), kIdentityAlphas, theory::Method::leading);
    // Compared where the proxy theory has direction 1 above threshold.
    reject("identity per Theory A (theta_k = 0: no direction at all)", check_overlaps(w, "identity", lead, proxy, kIdentityAlphas),
           true);
  }
  {
    reports::ClaimReport w;
    // At alpha = 40 square-clip has q_2 = 0.59 and q_3 = 0.33: "identity does as well" expects those.
    bool passed = true;
    for (const auto& c : measurements()) {
      if (c.T != "identity" || c.alpha != 40.0) continue;
      for (int k : {2, 3}) {
        std::vector<double> v;
        for (const auto& run : c.runs) v.push_back(run.q_full[k - 1]);
        const auto st = verify::stats(v);
        const auto& e = clip_truth.curve[2].overlap[k - 1];
        passed &= w.check("identity q_" + std::to_string(k), 40, st.mean, st.se, e.value,
                          verify::t_sigmas(st.n) * std::hypot(st.se, e.error) + 0.03 * std::sqrt(1000.0 / kD));
      }
    }
    reject("identity finds directions 2, 3 as square-clip does", passed, true);
  }
  {
    std::vector<double> never(3, std::numeric_limits<double>::infinity());
    reject("square-clip finds nothing (theta_k = 0)", clip_bracket(clip_truth, never).pass(), true);
  }
  {
    reports::ClaimReport w;
    reject("exponent 2 gamma (the beta* = 1 law)", rate_checks(w, 2 * kGammaRate, 1.0, false), true);
  }
  {
    reports::ClaimReport w;
    reject("the k^(4 gamma) law is visible at k <= 3", rate_checks(w, 4 * kGammaRate, 1.0, true), true);
  }
  {
    reports::ClaimReport w;
    reject("oracle thresholds x 0.5", rate_checks(w, 4 * kGammaRate, 0.5, false), true);
  }
  {
    auto m = sim_model("square-clip:4");
    m.gamma *= 1.2;
    const auto bad = predict(m, kClipAlphas);
    reports::ClaimReport w;
    reject("square-clip Theory B with gamma x 1.2", check_overlaps(w, "square-clip:4", bad, clip_truth, kClipAlphas), false);
  }
  verify::check_rejections(r, "C8");
  r.extra["seconds"] = {{"simulation", t_sim}, {"rate_theory", t_rate}, {"total", verify::seconds_since(t0)}};
  r.config = {{"simulation_model", sim_model("square-clip:4")},
              {"d", kD},
              {"alphas_square_clip", kClipAlphas},
              {"alphas_identity", kIdentityAlphas},
              {"rate_model", rate_model("square-clip:4")},
              {"kmax", 1000},
              {"rate_mc_samples", theory::RateOptions{}.mc_samples}};
  verify::print_failures(r);
  BOOST_TEST(verify::write_report(r, "C8_beta_star_two"));
  BOOST_TEST_MESSAGE("C8: " << r.points.size() << " points, pass = " << r.pass() << "; simulation " << t_sim << " s, rate "
                            << t_rate << " s, total " << verify::seconds_since(t0) << " s");
}

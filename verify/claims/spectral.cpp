// C2 / C3 comparisons. Tolerances (|mean over seeds - prediction| <= tolerance):
//   statistical part: 3 sqrt(SE_seeds^2 + err_theory^2)  (3 sigma of the mean over seeds,
//     plus the Monte Carlo error bar Theory B reports for itself);
//   finite-size part, overlaps: d^(-1/3) alpha_k/alpha + 0.01 sqrt(500/d). At finite d the
//     overlap curve is the limit curve smoothed over a relative window ~ d^(-1/3) in alpha
//     (THEORY section 3); with dq/dalpha ~ alpha_k/alpha^2 that moves q by d^(-1/3) alpha_k/alpha.
//     Checked against the deviations measured at d = 500 / 1000 (master seed 1): q_2 at
//     alpha = 10 (alpha_2 = 5.07) -0.061 / -0.020 against an allowance 0.064 / 0.051; q_3 at
//     alpha = 24 -0.061 / -0.031 against 0.061 / 0.048. The 0.01 sqrt(500/d) floor bounds the
//     residual bias of saturated overlaps (RMS deviation of the points far above threshold
//     0.012 / 0.013 / 0.011 at d = 500 / 1000 / 2000, the size of their standard errors).
//   outlier eigenvalues: 0.04 sqrt(1000/d) (THEORY section 4's independent check found 0.04 at
//     d = 1000; a spike's eigenvalue fluctuates on the 1/sqrt(d) scale; measured RMS deviation
//     0.022 / 0.016 at d = 500 / 1000); bulk edges: 3 d^(-2/3) |edge| (Tracy-Widom scale of the
//     largest bulk eigenvalue).
// Points near a threshold (0.6 alpha_k < alpha < 1.5 alpha_k) are not compared (there the
// smoothing rules). Below threshold (alpha <= 0.6 alpha_k) C2 records the overlaps but does
// not assert them: C3 asserts that side (no outlier).
#include "verify/claims/spectral.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

#include "verify/claims/stats.hpp"

namespace hmi::verify {

SpectralRun simulate_once(const theory::ModelConfig& base, int d, double alpha, std::uint64_t seed, int top, int threads) {
  theory::ModelConfig m = base;
  m.seed = seed;
  const est::Teacher t = est::make_teacher(m, d);
  est::SpectralConfig cfg;
  cfg.d = d;
  cfg.alpha = alpha;
  cfg.top = top;
  cfg.threads = threads;
  const est::SpectralResult r = est::run_spectral(t, cfg);
  SpectralRun out{d, alpha, seed, r.eig.values, r.metrics.overlap, r.metrics.subspace_overlap, 0.0};
  out.smallest = *std::min_element(r.eig.values.begin(), r.eig.values.end());
  return out;
}

nlohmann::json run_to_json(const SpectralRun& r) {
  return {{"d", r.d}, {"alpha", r.alpha}, {"seed", r.seed}, {"eigenvalues", r.eigenvalues}, {"overlap", r.overlap},
          {"subspace_overlap", r.subspace_overlap}, {"smallest", r.smallest}};
}

SpectralRun run_from_json(const nlohmann::json& j) {
  SpectralRun r;
  r.d = j["d"];
  r.alpha = j["alpha"];
  r.seed = j["seed"];
  r.eigenvalues = j["eigenvalues"].get<std::vector<double>>();
  r.overlap = j["overlap"].get<std::vector<double>>();
  r.subspace_overlap = j["subspace_overlap"].get<std::vector<double>>();
  r.smallest = j["smallest"];
  return r;
}

double delta_overlap(int d, double alpha, double threshold) {
  return std::pow(double(d), -1.0 / 3.0) * threshold / alpha + 0.01 * std::sqrt(500.0 / d);
}
double delta_outlier(int d) { return 0.04 * std::sqrt(1000.0 / d); }
double delta_edge(int d, double edge) { return 3.0 * std::pow(double(d), -2.0 / 3.0) * std::abs(edge); }

namespace {

const theory::CurvePoint& point_at(const theory::SpectralPrediction& pred, double alpha) {
  for (const auto& pt : pred.curve)
    if (std::abs(pt.alpha - alpha) <= 1e-12 * alpha) return pt;
  throw std::invalid_argument("prediction has no curve point at alpha = " + std::to_string(alpha));
}

int directions(const std::vector<Cell>& cells, const theory::SpectralPrediction& pred) {
  std::size_t k = pred.directions.size();
  for (const auto& c : cells)
    for (const auto& r : c.runs) k = std::min(k, r.overlap.size());
  return int(k);
}

std::vector<std::uint64_t> seeds_of(const std::vector<Cell>& cells) {
  std::vector<std::uint64_t> s;
  for (const auto& c : cells)
    for (const auto& r : c.runs)
      if (std::find(s.begin(), s.end(), r.seed) == s.end()) s.push_back(r.seed);
  return s;
}

// True when every size in the sweep was simulated at this alpha (drift compares like with like).
bool common_alpha(const std::vector<Cell>& cells, double alpha) {
  std::map<int, bool> has;
  for (const auto& c : cells) has[c.d] = has[c.d] || c.alpha == alpha;
  for (const auto& [d, h] : has)
    if (!h) return false;
  return true;
}

std::string label(const char* what, int k, int d, double a) {
  std::ostringstream s;
  s << what << k << " d=" << d << " alpha=" << a;
  return s.str();
}

}  // namespace

Side side(double alpha, double threshold) {
  if (alpha >= 1.5 * threshold) return Side::above;
  if (alpha <= 0.6 * threshold) return Side::below;
  return Side::near;
}

// --- C2: overlaps --------------------------------------------------------------------------
reports::ClaimReport compare_overlaps(const std::vector<Cell>& cells, const theory::SpectralPrediction& pred,
                                     const theory::SpectralPrediction& ref) {
  reports::ClaimReport r;
  r.claim = "C2";
  r.title = "Overlap curves q_k(alpha) of the spectral estimator match Theory B";
  r.seeds = seeds_of(cells);
  r.tolerance_reason =
      "3 sqrt(SE_seeds^2 + theory MC error^2) + d^(-1/3) alpha_k/alpha (the finite-d curve is the limit "
      "smoothed over a relative window d^(-1/3) in alpha; dq/dalpha ~ alpha_k/alpha^2) + 0.01 sqrt(500/d) "
      "(residual bias bound measured at d = 500..2000); compared only well above threshold (alpha >= 1.5 alpha_k) "
      "and where the predicted outlier is isolated (eigenvectors of spikes closer than 2 x 0.04 sqrt(1000/d) mix)";
  std::map<int, std::vector<double>> dev2;  // d -> squared deviations at alphas every d has
  std::map<int, std::vector<double>> se2;
  nlohmann::json below = nlohmann::json::array(), mixed = nlohmann::json::array();
  for (const auto& c : cells) {
    const auto& pt = point_at(pred, c.alpha);
    const auto& rp = point_at(ref, c.alpha);
    const int K = directions(cells, pred);
    for (int k = 0; k < K; ++k) {
      const Side s = side(c.alpha, ref.directions[k].alpha_threshold.value);
      if (s == Side::near) continue;
      std::vector<double> q;
      for (const auto& run : c.runs) q.push_back(run.overlap[k]);
      const auto st = verify::stats(q);
      if (s == Side::below) {
        // Below threshold the limit is q = 0, but at reachable d the max-overlap metric keeps
        // an edge-attraction term that decays slowly (measured 0.03-0.08 at d = 300-2000 for
        // alpha ~ 0.55 alpha_k). Not asserted here: the below-threshold side is asserted by C3
        // (no outlier). Recorded for the reader.
        below.push_back({{"label", label("q_", k + 1, c.d, c.alpha)}, {"measured", st.mean}, {"se", st.se}});
        continue;
      }
      // Isolation: the spike's predicted eigenvalue must be further than twice the eigenvalue
      // fluctuation scale from its neighbours' outliers, else single eigenvectors mix
      // (THEORY section 2: adjacent weak spikes have gaps ~ k^(-gamma-1)).
      bool isolated = rp.outlier[k].has_value();
      for (int j : {k - 1, k + 1})
        if (isolated && j >= 0 && j < K && rp.outlier[j] && std::abs(rp.outlier[j]->value - rp.outlier[k]->value) < 2 * delta_outlier(c.d))
          isolated = false;
      if (!isolated) {
        mixed.push_back({{"label", label("q_", k + 1, c.d, c.alpha)}, {"measured", st.mean}, {"se", st.se}});
        continue;
      }
      const double expected = pt.overlap[k].value;
      const double tol = 3 * std::hypot(st.se, pt.overlap[k].error) +
                         delta_overlap(c.d, c.alpha, ref.directions[k].alpha_threshold.value);
      r.check(label("q_", k + 1, c.d, c.alpha), c.alpha, st.mean, st.se, expected, tol);
      if (common_alpha(cells, c.alpha)) {
        dev2[c.d].push_back((st.mean - expected) * (st.mean - expected));
        se2[c.d].push_back(st.se * st.se);
      }
    }
  }
  r.extra["below_threshold_overlaps"] = below;
  r.extra["mixing_spikes_not_compared"] = mixed;
  // Finite-size drift: RMS deviation at the largest d <= at the smallest d (+ noise allowance).
  auto rms = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return std::sqrt(s / double(v.size()));
  };
  if (dev2.size() < 2) return r;  // one size: no drift to measure
  const int dmin = dev2.begin()->first, dmax = dev2.rbegin()->first;
  const double noise = 3 * std::sqrt(rms(se2[dmin]) * rms(se2[dmin]) + rms(se2[dmax]) * rms(se2[dmax]));
  nlohmann::json drift = nlohmann::json::object();
  for (const auto& [d, v] : dev2) drift[std::to_string(d)] = rms(v);
  r.extra["rms_deviation_above_threshold_by_d"] = drift;
  r.record({"rms deviation d=" + std::to_string(dmax) + " vs d=" + std::to_string(dmin), double(dmax), rms(dev2[dmax]),
            rms(se2[dmax]), rms(dev2[dmin]), noise, rms(dev2[dmax]) <= rms(dev2[dmin]) + noise});
  return r;
}

// --- C3: bulk edge, outliers, count ---------------------------------------------------------
reports::ClaimReport compare_spectrum(const std::vector<Cell>& cells, const theory::SpectralPrediction& pred,
                                     const theory::SpectralPrediction& ref) {
  reports::ClaimReport r;
  r.claim = "C3";
  r.title = "Spectral structure: bulk edges, outlier positions and outlier count match Theory B";
  r.seeds = seeds_of(cells);
  r.tolerance_reason =
      "3 sqrt(SE^2 + theory MC error^2) + finite size: 0.04 sqrt(1000/d) for outliers, 3 d^(-2/3)|edge| "
      "(Tracy-Widom scale) for edges; count: mean over seeds of #eigenvalues beyond edge(1 + 2 d^-2/3) "
      "within 0.5 of the predicted number, only where no direction is within [0.6, 1.5] alpha_k";
  for (const auto& c : cells) {
    const auto& pt = point_at(pred, c.alpha);
    int predicted = 0;
    bool ambiguous = false;
    for (int k = 0; k < directions(cells, pred); ++k) {
      const Side s = side(c.alpha, ref.directions[k].alpha_threshold.value);
      ambiguous = ambiguous || s == Side::near;
      if (s == Side::above) ++predicted;
    }
    std::vector<std::vector<double>> sorted;  // per seed, descending
    for (const auto& run : c.runs) {
      auto e = run.eigenvalues;
      std::sort(e.rbegin(), e.rend());
      sorted.push_back(e);
    }
    // Outlier positions of directions well above threshold: the k-th largest eigenvalue.
    for (int k = 0; k < directions(cells, pred); ++k) {
      if (side(c.alpha, ref.directions[k].alpha_threshold.value) != Side::above || !pt.outlier[k]) continue;
      std::vector<double> v;
      for (const auto& e : sorted) v.push_back(e[k]);
      const auto st = verify::stats(v);
      r.check(label("nu_", k + 1, c.d, c.alpha), c.alpha, st.mean, st.se, pt.outlier[k]->value,
              3 * std::hypot(st.se, pt.outlier[k]->error) + delta_outlier(c.d));
    }
    if (ambiguous) continue;
    // Top bulk edge: the largest eigenvalue after the predicted outliers.
    std::vector<double> top, low, count;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      top.push_back(sorted[i][predicted]);
      if (c.runs[i].smallest < 0) low.push_back(c.runs[i].smallest);  // true minimum (see spectral_sweep.hpp)
      const double cut = pt.bulk_edge.value * (1 + 2 * std::pow(double(c.d), -2.0 / 3.0));
      count.push_back(double(std::count_if(sorted[i].begin(), sorted[i].end(), [&](double x) { return x > cut; })));
    }
    auto st = verify::stats(top);
    r.check(label("edge", 0, c.d, c.alpha), c.alpha, st.mean, st.se, pt.bulk_edge.value,
            3 * std::hypot(st.se, pt.bulk_edge.error) + delta_edge(c.d, pt.bulk_edge.value));
    if (low.size() == sorted.size()) {
      st = verify::stats(low);
      r.check(label("lower edge", 0, c.d, c.alpha), c.alpha, st.mean, st.se, pt.bulk_edge_lower.value,
              3 * std::hypot(st.se, pt.bulk_edge_lower.error) + delta_edge(c.d, pt.bulk_edge_lower.value));
    }
    st = verify::stats(count);
    r.check(label("outlier count", 0, c.d, c.alpha), c.alpha, st.mean, st.se, predicted, 0.5);
  }
  return r;
}

// Blind spots, reported (known_blind_spot) instead of asserted. Calibration over 20 master
// seeds (hmi calibrate) found: C2 rejects Delta x 2 in 20/20, but gamma x 1.2 in 1/20 and
// mu_2 x 1.2 in 3/20 (they move the overlaps of directions far from threshold by 0.01-0.05,
// the size of the finite-size allowance); C3 rejects mu_2 x 1.2 and Delta x 2 in 20/20 but
// gamma x 1.2 in 1/20 (with normalized amplitudes Var T, hence the edges, does not depend on
// gamma). Seeing a 20% gamma error would take d ~ 8000 or points closer to thresholds.
// C4 (the risk curve of `hmi reproduce`'s risk experiment): Delta x 2 enters the excess risk
// only through the readout variance and the overlaps near thresholds; measured failing points
// 3/12 (quick), 1/18 (default), 0/27 (full, d = 600).
const std::vector<WrongModel>& wrong_predictions() {
  static const std::vector<WrongModel> w{
      {"gamma x 1.2", [](theory::ModelConfig& m) { m.gamma *= 1.2; }, {"C2", "C3"}},
      // mu_2 x 1.2 for he2: the Hermite series with c_2 = 1.2 sqrt(2) (he2 has c_2 = sqrt 2).
      {"mu_2 x 1.2", [](theory::ModelConfig& m) { m.activation = "hermite:0,0," + std::to_string(1.2 * std::sqrt(2.0)); }, {"C2"}},
      {"Delta x 2", [](theory::ModelConfig& m) { m.noise *= 2; }, {"C4"}},
  };
  return w;
}

reports::WrongPrediction::Kind WrongModel::kind_for(const std::string& claim) const {
  for (const auto& c : blind_spot_of)
    if (c == claim) return reports::WrongPrediction::Kind::blind_spot;
  return reports::WrongPrediction::Kind::asserted;
}

reports::ClaimReport judge_spectral(const std::vector<Cell>& cells, const theory::SpectralPrediction& truth,
                                    const std::vector<std::pair<std::string, theory::SpectralPrediction>>& wrong,
                                    SpectralCompare compare) {
  auto r = compare(cells, truth, truth);
  for (const auto& [name, pred] : wrong) {
    auto kind = reports::WrongPrediction::Kind::asserted;
    for (const auto& w : wrong_predictions())
      if (w.name == name) kind = w.kind_for(r.claim);
    r.reject(name, compare(cells, pred, truth), kind);
  }
  return r;
}

}  // namespace hmi::verify

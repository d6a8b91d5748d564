#include "theory/spectral.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <functional>
#include <stdexcept>
#include <thread>

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <boost/math/tools/roots.hpp>

namespace hmi::theory {

Method parse_method(const std::string& s) {
  if (s == "auto") return Method::automatic;
  if (s == "leading") return Method::leading;
  if (s == "exact") return Method::exact;
  throw std::invalid_argument("method = '" + s + "' (must be auto, leading or exact)");
}

std::string to_string(Method m) {
  switch (m) {
    case Method::leading: return "leading";
    case Method::exact: return "exact";
    default: return "auto";
  }
}

void TheoryOptions::validate() const {
  if (mc_samples < 4096 || mc_samples > (1ull << 26))
    throw std::invalid_argument("theory_samples = " + std::to_string(mc_samples) + " (must be in [4096, 67108864])");
  if (max_directions < 1)
    throw std::invalid_argument("max_directions = " + std::to_string(max_directions) + " (must be >= 1)");
}

bool exact_theory_applies(const ModelConfig& model) {
  return model.preprocessing().bounded() && make_activation(model.activation).even;
}

namespace {

constexpr int kBatches = 8;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Monte Carlo sample of the label law: t_i = T(y_i) - mean(T) and z_{ik}^2 for the first K
// directions (k-major, float: the overlaps need ~1e-3, float rounding is 1e-7).
struct LabelSample {
  std::size_t n = 0;
  int K = 0;
  double mean_T = 0;
  std::vector<double> t;
  std::vector<float> z2;
  const float* z2k(int k) const { return z2.data() + std::size_t(k) * n; }
};

LabelSample draw_label_sample(const ModelConfig& model, const Activation& sigma, const std::vector<double>& lam,
                              int K, const TheoryOptions& opt) {
  const Preprocess T = model.preprocessing();
  const int p = int(lam.size());
  LabelSample s;
  s.n = opt.mc_samples;
  s.K = K;
  s.t.resize(s.n);
  s.z2.resize(std::size_t(K) * s.n);
  const double sd = std::sqrt(model.noise);
  r123::Philox4x64 rng;
  const r123::Philox4x64::key_type key{{opt.mc_seed, 0x7468656f7279}};
  std::vector<double> g(p + 4);
  for (std::size_t i = 0; i < s.n; ++i) {
    // p + 1 normals for sample i: counter (i, j) -> 4 normals per Philox call.
    for (int j = 0; j < p + 1; j += 4) {
      const auto r = rng({{i, std::uint64_t(j), 0, 0}}, key);
      const auto a = r123::boxmuller(r[0], r[1]), b = r123::boxmuller(r[2], r[3]);
      g[j] = a.x; g[j + 1] = a.y; g[j + 2] = b.x; g[j + 3] = b.y;
    }
    double y = sd * g[p];
    for (int k = 0; k < p; ++k) y += lam[k] * sigma.value(g[k]);
    s.t[i] = T(y);
    for (int k = 0; k < K; ++k) s.z2[std::size_t(k) * s.n + i] = float(g[k] * g[k]);
  }
  double m = 0;
  for (double v : s.t) m += v;
  s.mean_T = m / double(s.n);
  for (double& v : s.t) v -= s.mean_T;
  return s;
}

// A view of the sample: every `stride`-th point from `offset` (batch b of 8, or everything),
// with the sign of t flipped to study the bottom of the spectrum as the top of -M.
struct View {
  const LabelSample* s;
  std::size_t offset, stride;
  double sign;
  std::size_t count() const { return (s->n - offset + stride - 1) / stride; }
  template <class F>
  double mean(F&& f) const {
    double acc = 0;
    for (std::size_t i = offset; i < s->n; i += stride) acc += f(i, sign * s->t[i]);
    return acc / double(count());
  }
};

struct Moments {
  double theta_k;  // E[t (z_k^2 - 1)] (sign-adjusted)
  double var;      // E[t^2]
};

// Theory B on one view: the functions of THEORY section 4 with psi/lambda and phi/lambda
// written through E1 = E[t/(l-t)], E2 = E[t^2/(l-t)^2], F = E[t z^2/(l-t)], G = E[t^2 z^2/(l-t)^2]:
//   psi = l (1/alpha + E1), psi' = 1/alpha - E2, phi_k = l F, phi_k' = -G.
struct ExactSolver {
  View v;
  double tau;  // sup of t in the view

  double E1(double l) const { return v.mean([&](std::size_t, double t) { return t / (l - t); }); }
  double E2(double l) const { return v.mean([&](std::size_t, double t) { const double r = t / (l - t); return r * r; }); }
  double H(double l, int k) const {  // E[t (1 - z^2)/(l - t)] = (psi - phi)/l - 1/alpha
    const float* z2 = v.s->z2k(k);
    return v.mean([&](std::size_t i, double t) { return t * (1.0 - z2[i]) / (l - t); });
  }
  double G(double l, int k) const {
    const float* z2 = v.s->z2k(k);
    return v.mean([&](std::size_t i, double t) { const double r = t / (l - t); return r * r * z2[i]; });
  }
  double R(double l, int k) const {  // E[t (z^2-1)/(l-t)] - E2: zero where the threshold sits
    const float* z2 = v.s->z2k(k);
    return v.mean([&](std::size_t i, double t) { const double r = t / (l - t); return r * (z2[i] - 1.0) - r * r; });
  }

  template <class F>
  static double root(F&& f, double a, double b) {
    std::uintmax_t iters = 200;
    auto [lo, hi] = boost::math::tools::toms748_solve(f, a, b, boost::math::tools::eps_tolerance<double>(48), iters);
    return 0.5 * (lo + hi);
  }

  // lambda_bar = argmin psi: psi'(l) = 0 <=> E2(l) = 1/alpha (E2 decreases on (tau, inf)).
  double lambda_bar(double alpha) const {
    const double var = v.mean([](std::size_t, double t) { return t * t; });
    const double hi = tau + std::sqrt(alpha * var) + 1e-12;  // E2(hi) <= var/(hi-tau)^2 <= 1/alpha
    const double lo = tau + 1e-9 * (hi - tau);
    if (E2(lo) <= 1.0 / alpha) return lo;
    return root([&](double l) { return E2(l) - 1.0 / alpha; }, lo, hi);
  }
  double psi(double l, double alpha) const { return l * (1.0 / alpha + E1(l)); }
  double edge(double alpha) const { return psi(lambda_bar(alpha), alpha); }

  struct Spike { bool present; double eigenvalue, overlap; };
  Spike spike(double alpha, int k) const { return spike(alpha, k, lambda_bar(alpha)); }
  Spike spike(double alpha, int k, double lb) const {
    auto h = [&](double l) { return 1.0 / alpha + H(l, k); };
    if (h(lb) >= 0) return {false, 0, 0};
    double a = lb, step = std::max(lb - tau, 1e-3), b = lb + step;
    while (h(b) < 0) {
      a = b;
      step *= 2;
      b = lb + step;
      if (step > 1e12) return {false, 0, 0};
    }
    const double ls = root(h, a, b);
    const double dpsi = 1.0 / alpha - E2(ls);
    return {true, psi(ls, alpha), dpsi / (dpsi + G(ls, k))};
  }

  // alpha_k: the alpha at which the spike reaches the edge. At that point psi'(l) = 0 and
  // psi = phi, i.e. E2(l) = E[t (z^2-1)/(l-t)] = 1/alpha: one root in l, then alpha = 1/E2.
  double threshold(int k, double theta_k) const {
    if (theta_k <= 0) return kInf;
    double lo = tau + 1e-9 * (1 + std::abs(tau)), hi = tau + 1.0;
    if (R(lo, k) > 0) return 1.0 / E2(lo);
    while (R(hi, k) < 0) {
      hi = tau + 2 * (hi - tau);
      if (hi - tau > 1e12) return kInf;
    }
    return 1.0 / E2(root([&](double l) { return R(l, k); }, lo, hi));
  }
};

// Mean over the full view with the batch standard error.
template <class F>
Estimate with_error(F&& per_view, const LabelSample& s, double sign, bool error_bars = true) {
  const double full = per_view(View{&s, 0, 1, sign});
  if (!error_bars) return {full, 0.0};
  double m = 0, m2 = 0;
  int finite = 0;
  for (int b = 0; b < kBatches; ++b) {
    const double x = per_view(View{&s, std::size_t(b), kBatches, sign});
    if (!std::isfinite(x)) continue;
    m += x;
    m2 += x * x;
    ++finite;
  }
  if (!std::isfinite(full) || finite < kBatches) return {full, std::isfinite(full) ? kInf : 0.0};
  m /= kBatches;
  const double var = std::max(0.0, (m2 / kBatches - m * m) * kBatches / (kBatches - 1));
  return {full, std::sqrt(var / kBatches)};
}

// values[0] from the full sample, values[1..] from the batches (if any): the full value with
// the batch standard error.
Estimate combine(const std::vector<double>& values) {
  const double full = values.at(0);
  if (values.size() == 1) return {full, 0.0};
  const std::size_t nb = values.size() - 1;
  double m = 0, m2 = 0;
  for (std::size_t i = 1; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) return {full, std::isfinite(full) ? kInf : 0.0};
    m += values[i];
    m2 += values[i] * values[i];
  }
  m /= double(nb);
  const double var = std::max(0.0, (m2 / double(nb) - m * m) * double(nb) / double(nb - 1));
  return {full, std::sqrt(var / double(nb))};
}

double tau_of(const View& v) {
  double tau = -kInf;
  for (std::size_t i = v.offset; i < v.s->n; i += v.stride) tau = std::max(tau, v.sign * v.s->t[i]);
  return tau;
}

void leading_order_curve(SpectralPrediction& out, const std::vector<double>& alphas) {
  const int K = int(out.directions.size());
  for (double alpha : alphas) {
    CurvePoint pt;
    pt.alpha = alpha;
    const double s2 = out.var_T.value / alpha, s = std::sqrt(s2);
    // Error propagation: d(2s)/dVar = s/Var.
    const double ds = 0.5 * s * out.var_T.error / std::max(out.var_T.value, 1e-300);
    pt.bulk_edge = {2 * s, 2 * ds};
    pt.bulk_edge_lower = {-2 * s, 2 * ds};
    for (int k = 0; k < K; ++k) {
      const Estimate th = out.directions[k].theta;
      if (std::abs(th.value) > s) {
        const double rel = th.error / std::abs(th.value) + out.var_T.error / std::max(out.var_T.value, 1e-300);
        pt.outlier.push_back(Estimate{th.value + s2 / th.value, std::abs(th.value) * rel + s2 / std::abs(th.value) * rel});
        pt.overlap.push_back({1 - s2 / (th.value * th.value), 2 * s2 / (th.value * th.value) * rel});
      } else {
        pt.outlier.push_back(std::nullopt);
        pt.overlap.push_back({0.0, 0.0});
      }
    }
    out.curve.push_back(pt);
  }
}

}  // namespace

double exact_bulk_edge(const std::vector<double>& t_values, double alpha) {
  if (t_values.empty()) throw std::invalid_argument("exact_bulk_edge: t_values is empty (must hold at least one value)");
  LabelSample s;
  s.n = t_values.size();
  s.t = t_values;
  const View v{&s, 0, 1, 1.0};
  return ExactSolver{v, tau_of(v)}.edge(alpha);
}

SpectralPrediction predict_spectral(const ModelConfig& model, const std::vector<double>& alphas, Method method,
                                    const TheoryOptions& opt) {
  model.validate();
  opt.validate();
  for (double a : alphas)
    if (!std::isfinite(a) || a <= 0)
      throw std::invalid_argument("alpha = " + format_number(a) + " (must be finite and > 0)");
  const Activation sigma = make_activation(model.activation);
  const std::vector<double> lam = model.lambdas();
  const Preprocess T = model.preprocessing();
  const int K = std::min<int>(int(lam.size()), opt.max_directions);

  SpectralPrediction out;
  out.activation = analyse(sigma);
  const bool applies = exact_theory_applies(model);
  if (method == Method::exact && !applies)
    throw std::invalid_argument("method = exact (needs a bounded preprocessing clip:C or square-clip:C and an even activation "
                                "he2|abs|he4|even hermite series; got preprocess " + model.preprocess +
                                ", activation " + model.activation + ")");
  out.method = (method == Method::exact || (method == Method::automatic && applies)) ? Method::exact : Method::leading;
  out.note = out.method == Method::exact
                 ? "Theory B (exact proportional limit) for the centred preprocessing T - E[T]"
                 : (applies ? "Theory A (leading order) by request"
                            : "Theory A (leading order): Theory B needs a bounded T and an even activation");

  for (int k = 0; k < K; ++k) {
    DirectionPrediction d;
    d.k = k + 1;
    d.lambda = lam[k];
    out.directions.push_back(d);
  }

  if (T.kind == Preprocess::Kind::identity) {
    // Closed forms: theta_k = lambda_k mu_2, Var y = sum lambda^2 Var sigma + Delta.
    double sum_l2 = 0, sum_l = 0;
    for (double l : lam) { sum_l2 += l * l; sum_l += l; }
    const auto& a = out.activation;
    out.mean_T = sum_l * a.mu[0].value;
    out.var_T = {sum_l2 * a.variance.value + model.noise, sum_l2 * a.variance.error};
    for (auto& d : out.directions) d.theta = {d.lambda * a.mu2(), std::abs(d.lambda) * a.mu[2].error};
  }

  LabelSample sample;
  if (T.kind != Preprocess::Kind::identity || out.method == Method::exact) {
    sample = draw_label_sample(model, sigma, lam, K, opt);
    out.mean_T = sample.mean_T;
    out.var_T = with_error([](const View& v) { return v.mean([](std::size_t, double t) { return t * t; }); }, sample, 1.0);
    for (int k = 0; k < K; ++k) {
      const float* z2 = sample.z2k(k);
      out.directions[k].theta = with_error(
          [&](const View& v) { return v.mean([&](std::size_t i, double t) { return t * (z2[i] - 1.0); }); }, sample, 1.0);
    }
  }

  // A threshold from a theta_k that its own error bar does not separate from 0 would be a
  // number made of noise (e.g. theta = -2e-16 +- 3e-16 for a constant sigma gave alpha = 2e30):
  // report it as unresolved instead.
  auto resolved = [](const DirectionPrediction& d) {
    const double th = d.theta.value, err = d.theta.error;
    return std::isfinite(th) && std::isfinite(err) && (std::abs(th) > kThetaResolution * err || (th == 0 && err == 0));
  };
  for (auto& d : out.directions) {
    if (resolved(d)) continue;
    d.threshold_status = "unresolved";
    d.threshold_reason = "theta_" + std::to_string(d.k) + " = " + format_number(d.theta.value) + " +- " +
                         format_number(d.theta.error) + " is within " + format_number(kThetaResolution) +
                         " error bars of 0: alpha_" + std::to_string(d.k) + " is not determined";
    d.alpha_threshold = {kInf, kInf};
  }
  auto mark_never = [](DirectionPrediction& d) {
    if (d.threshold_status == "resolved" && !std::isfinite(d.alpha_threshold.value)) d.threshold_status = "never";
  };

  if (out.method == Method::leading) {
    for (auto& d : out.directions) {
      if (d.threshold_status == "unresolved") continue;
      const double th = d.theta.value;
      d.alpha_threshold = {out.var_T.value / (th * th),
                           out.var_T.value / (th * th) * (out.var_T.error / out.var_T.value + 2 * d.theta.error / std::abs(th))};
      mark_never(d);
    }
    leading_order_curve(out, alphas);
  } else {
    // Solvers for the full sample and (with error bars) each of the 8 batches, for the top
    // of the spectrum (t) and the bottom (-t). Every quantity is solved once per view and
    // combined into an estimate with its batch standard error.
    auto views = [&](double sign) {
      std::vector<ExactSolver> v;
      auto add = [&](std::size_t off, std::size_t stride) {
        const View w{&sample, off, stride, sign};
        v.push_back(ExactSolver{w, tau_of(w)});
      };
      add(0, 1);
      if (opt.error_bars)
        for (int b = 0; b < kBatches; ++b) add(std::size_t(b), kBatches);
      return v;
    };
    const auto top = views(1.0), bottom = views(-1.0);
    auto side_of = [&](int k) -> const std::vector<ExactSolver>& { return out.directions[k].theta.value >= 0 ? top : bottom; };
    auto sign_of = [&](int k) { return out.directions[k].theta.value >= 0 ? 1.0 : -1.0; };
    // Directions are independent given the views: spread them over the cores.
    const int workers = std::max(1, std::min<int>(K, int(std::thread::hardware_concurrency())));
    parallel_for(K, workers, [&](int k) {
      auto& d = out.directions[k];
      if (d.threshold_status == "unresolved") return;
      std::vector<double> v;
      for (const auto& s : side_of(k)) v.push_back(s.threshold(k, sign_of(k) * d.theta.value));
      d.alpha_threshold = combine(v);
      mark_never(d);
    });
    for (double alpha : alphas) {
      CurvePoint pt;
      pt.alpha = alpha;
      std::vector<double> lb_top, lb_bottom, edge_top, edge_bottom;
      for (const auto& s : top) {
        lb_top.push_back(s.lambda_bar(alpha));
        edge_top.push_back(s.psi(lb_top.back(), alpha));
      }
      for (const auto& s : bottom) {
        lb_bottom.push_back(s.lambda_bar(alpha));
        edge_bottom.push_back(-s.psi(lb_bottom.back(), alpha));
      }
      pt.bulk_edge = combine(edge_top);
      pt.bulk_edge_lower = combine(edge_bottom);
      pt.outlier.assign(K, std::nullopt);
      pt.overlap.assign(K, Estimate{0.0, 0.0});
      parallel_for(K, workers, [&](int k) {
        const bool up = sign_of(k) > 0;
        const auto& S = up ? top : bottom;
        const auto& lb = up ? lb_top : lb_bottom;
        const auto& edge = up ? edge_top : edge_bottom;
        std::vector<double> nu, q;
        for (std::size_t i = 0; i < S.size(); ++i) {
          const auto sp = S[i].spike(alpha, k, lb[i]);
          if (i == 0 && !sp.present) return;  // below threshold: no outlier, overlap 0
          // A batch that falls below threshold counts as overlap 0 and eigenvalue at its edge.
          nu.push_back(sp.present ? sign_of(k) * sp.eigenvalue : edge[i]);
          q.push_back(sp.present ? sp.overlap : 0.0);
        }
        pt.outlier[k] = combine(nu);
        pt.overlap[k] = combine(q);
      });
      out.curve.push_back(pt);
    }
  }

  auto track = [&](const Estimate& e) {
    if (std::isfinite(e.value)) out.numerical_error = std::max(out.numerical_error, e.error);
  };
  track(out.var_T);
  for (const auto& d : out.directions) { track(d.theta); }
  for (const auto& pt : out.curve) {
    track(pt.bulk_edge);
    track(pt.bulk_edge_lower);
    for (const auto& o : pt.outlier) if (o) track(*o);
    for (const auto& q : pt.overlap) track(q);
  }
  return out;
}

}  // namespace hmi::theory

#include "theory/rate.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/math/tools/roots.hpp>

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>

#include "theory/activation.hpp"
#include "theory/spectral.hpp"
#include "theory/theory_b.hpp"

namespace hmi::theory {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kBatches = 8;
// Philox key word of the theory sample (independent of theory/spectral.cpp's).
constexpr std::uint64_t kRateStream = 0x72617465;  // "rate"

int worker_count(int threads, int jobs) {
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, std::min(jobs, threads > 0 ? threads : hw));
}

// values[0]: full sample; values[1..]: batches. The full value with the batch standard error.
Estimate combine(const std::vector<double>& values) {
  const double full = values.at(0);
  if (values.size() == 1) return {full, 0.0};
  const double nb = double(values.size() - 1);
  double m = 0, m2 = 0;
  for (std::size_t i = 1; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) return {full, std::isfinite(full) ? kInf : 0.0};
    m += values[i];
    m2 += values[i] * values[i];
  }
  m /= nb;
  const double var = std::max(0.0, (m2 / nb - m * m) * nb / (nb - 1));
  return {full, std::sqrt(var / nb)};
}

// T'(y) where it exists (the kinks have measure zero under the label law, which has the
// Gaussian noise in it when Delta > 0; with Delta = 0 the control variate is still exact for
// the first form, see sample_directions).
double dT(const Preprocess& T, double y) {
  switch (T.kind) {
    case Preprocess::Kind::clip: return std::abs(y) < T.c ? 1.0 : 0.0;
    case Preprocess::Kind::square: return 2 * y;
    case Preprocess::Kind::square_clip: return y * y < T.c ? 2 * y : 0.0;
    default: return 1.0;
  }
}

// ---- Monte Carlo sample with control variates (bounded T) ---------------------------------

// Node count of the Gauss-Hermite rule over z_k in the conditional (Rao-Blackwellised) theta_k,
// and the doubled rule of its error estimate. T(R + lambda sigma(z)) is piecewise polynomial in z
// for the built-in T and polynomial sigma, so the rule is exact except where a kink of T is
// crossed; the doubling difference measures that.
constexpr int kThetaNodes = 32;

struct Sample {
  std::size_t n = 0;
  int K = 0;
  bool second_order = false;  // mu2 = 0: residuals e = delta - T'(R) lambda sigma(z) stored
  double mean_T = 0;
  double sup_T = 0, inf_T = 0;  // range of T (bounded T)
  std::vector<double> t;        // T(y_i) - mean_T
  std::vector<float> xi;        // label noise (Stein estimates of E T', E T'')
  std::vector<float> z2;        // K x n: z_k^2
  std::vector<float> delta;     // K x n: T(y) - T(R_k)
  std::vector<float> resid;     // K x n: delta - T'(R_k) lambda_k sigma(z_k)   (second_order only)
  std::vector<double> h;        // K x n: E_z[(z^2 - 1) T(R_k + lambda_k sigma(z))] at R_k (48-node rule)
  std::vector<double> h2;       // K x n: the same with the 96-node rule (quadrature error)
  const float* z2k(int q) const { return z2.data() + std::size_t(q) * n; }
  const float* dk(int q) const { return delta.data() + std::size_t(q) * n; }
  const float* ek(int q) const { return resid.data() + std::size_t(q) * n; }
  const double* hk(int q) const { return h.data() + std::size_t(q) * n; }
  const double* h2k(int q) const { return h2.data() + std::size_t(q) * n; }
};

Sample draw_sample(const ModelConfig& model, const Activation& sigma, const std::vector<double>& lam,
                   const std::vector<int>& ks, bool second_order, const RateOptions& opt) {
  const Preprocess T = model.preprocessing();
  const int p = int(lam.size());
  Sample s;
  s.n = opt.mc_samples;
  s.K = int(ks.size());
  s.second_order = second_order;
  s.t.resize(s.n);
  s.xi.resize(s.n);
  s.z2.resize(std::size_t(s.K) * s.n);
  s.delta.resize(std::size_t(s.K) * s.n);
  if (second_order) s.resid.resize(std::size_t(s.K) * s.n);
  s.h.resize(std::size_t(s.K) * s.n);
  s.h2.resize(std::size_t(s.K) * s.n);
  const double sd = std::sqrt(model.noise);
  // Nodes of the conditional expectation over z_k: lambda_k sigma(z_i) and (z_i^2 - 1) w_i.
  struct Rule { std::vector<double> u, cw; };
  auto rule_for = [&](int nodes) {
    std::vector<Rule> r(s.K);
    const auto& gh = gauss_hermite(nodes);
    for (int q = 0; q < s.K; ++q)
      for (std::size_t i = 0; i < gh.nodes.size(); ++i) {
        const double z = gh.nodes[i];
        r[q].u.push_back(lam[ks[q] - 1] * sigma.value(z));
        r[q].cw.push_back((z * z - 1) * gh.weights[i]);
      }
    return r;
  };
  const std::vector<Rule> rule = rule_for(kThetaNodes), rule2 = rule_for(2 * kThetaNodes);
  auto conditional = [&](const Rule& r, double R) {
    double acc = 0;
    const double TR = T(R);  // sum of cw is 0: subtracting T(R) only removes rounding
    for (std::size_t i = 0; i < r.u.size(); ++i) acc += r.cw[i] * (T(R + r.u[i]) - TR);
    return acc;
  };
  // Sample i is a function of (seed, i) only: the split over threads does not change it. The
  // normals: Philox4x64 counter (i, j) -> four Box-Muller normals (theory/ does not use the data
  // generator of estimators/; this path is the fallback where the quadrature law does not apply).
  const std::size_t chunk = 4096;
  const int jobs = int((s.n + chunk - 1) / chunk);
  const r123::Philox4x64 rng;
  const r123::Philox4x64::key_type key{{opt.mc_seed, kRateStream}};
  parallel_for(jobs, worker_count(opt.threads, jobs), [&](int job) {
    std::vector<double> g(p + 1);
    for (std::size_t i = std::size_t(job) * chunk; i < std::min(s.n, std::size_t(job + 1) * chunk); ++i) {
      for (int j = 0; j < p + 1; j += 4) {
        const auto r = rng({{i, std::uint64_t(j), 0, 0}}, key);
        const auto a = r123::boxmuller(r[0], r[1]), b = r123::boxmuller(r[2], r[3]);
        g[j] = a.x;
        if (j + 1 < p + 1) g[j + 1] = a.y;
        if (j + 2 < p + 1) g[j + 2] = b.x;
        if (j + 3 < p + 1) g[j + 3] = b.y;
      }
      double y = sd * g[p];
      for (int k = 0; k < p; ++k) y += lam[k] * sigma.value(g[k]);
      const double Ty = T(y);
      s.t[i] = Ty;
      s.xi[i] = float(g[p]);
      for (int q = 0; q < s.K; ++q) {
        const int k = ks[q] - 1;
        const double u = lam[k] * sigma.value(g[k]);
        const double R = y - u;
        const double d = Ty - T(R);
        const std::size_t at = std::size_t(q) * s.n + i;
        s.z2[at] = float(g[k] * g[k]);
        s.delta[at] = float(d);
        if (second_order) s.resid[at] = float(d - dT(T, R) * u);
        s.h[at] = conditional(rule[q], R);
        s.h2[at] = conditional(rule2[q], R);
      }
    }
  });
  double m = 0;
  for (double v : s.t) m += v;
  s.mean_T = m / double(s.n);
  for (double& v : s.t) v -= s.mean_T;
  switch (T.kind) {
    case Preprocess::Kind::clip: s.sup_T = T.c; s.inf_T = -T.c; break;
    case Preprocess::Kind::square_clip: s.sup_T = T.c; s.inf_T = 0; break;
    default: s.sup_T = kInf; s.inf_T = -kInf;
  }
  return s;
}

// Every `stride`-th sample point from `offset`, for direction q, with T's sign flipped when the
// spike leaves the bottom of the spectrum (theta_k < 0).
struct View {
  const Sample* s;
  std::size_t offset, stride;
  double sign;
  std::size_t count() const { return (s->n - offset + stride - 1) / stride; }
  template <class F>
  double mean(F&& f) const {
    double acc = 0;
    for (std::size_t i = offset; i < s->n; i += stride) acc += f(i);
    return acc / double(count());
  }
  // sup of sign * t over the view, and over T's range (t - delta = T(R) - mean must stay below l).
  double tau() const {
    double tau = -kInf;
    for (std::size_t i = offset; i < s->n; i += stride) tau = std::max(tau, sign * s->t[i]);
    const double range = sign > 0 ? s->sup_T - s->mean_T : s->mean_T - s->inf_T;
    return std::max(tau, range);
  }
};

// How the right-hand side E[t (z_k^2 - 1)/(l - t)] of the Theory B equation is estimated:
// plain Monte Carlo, or with the first- or second-order control variate (header). All three are
// unbiased; the one whose theta_k has the smallest batch standard error is used. The control
// variates win for weak spikes; plain wins at small k when sigma has heavy tails (he4: there
// lambda sigma(z) is not small where |z| is large, and the residuals are not O(lambda^2)).
enum class Form { plain, first, second };

struct DirectionSolver {
  View v;
  int q;
  double tau;
  Form form = Form::first;

  double var() const { return v.mean([&](std::size_t i) { return v.s->t[i] * v.s->t[i]; }); }
  // theta_k = E[T(y)(z_k^2 - 1)] (with its sign) in the solver's form.
  double theta() const {
    const float* z2 = v.s->z2k(q);
    switch (form) {
      case Form::plain: return v.mean([&](std::size_t i) { return (double(z2[i]) - 1.0) * v.s->t[i]; });
      case Form::second: {
        const float* e = v.s->ek(q);
        return v.mean([&](std::size_t i) { return (double(z2[i]) - 1.0) * double(e[i]); });
      }
      default: {
        const float* d = v.s->dk(q);
        return v.mean([&](std::size_t i) { return (double(z2[i]) - 1.0) * double(d[i]); });
      }
    }
  }
  // theta_k by conditional Monte Carlo: E_R[E_z[(z^2 - 1) T(R + lambda sigma(z))]] with the
  // inner expectation by quadrature (doubled = the 96-node rule).
  double theta_conditional(bool doubled = false) const {
    const double* h = doubled ? v.s->h2k(q) : v.s->hk(q);
    return v.mean([&](std::size_t i) { return h[i]; });
  }
  double E2(double l) const {
    return v.mean([&](std::size_t i) {
      const double r = v.sign * v.s->t[i] / (l - v.sign * v.s->t[i]);
      return r * r;
    });
  }
  // E[t (z^2-1)/(l-t)] - E2(l). Control-variate forms: f(t) - f(t - delta) = l delta / (D0 D)
  // with D0 = l - t, D = D0 + delta; minus f'(t - delta) g (g = delta - e) it is
  // l (e D0 + delta^2) / (D0 D^2).
  double R(double l) const {
    const float* z2 = v.s->z2k(q);
    const float* dl = v.s->dk(q);
    const double sg = v.sign;
    switch (form) {
      case Form::plain:
        return v.mean([&](std::size_t i) {
          const double r = sg * v.s->t[i] / (l - sg * v.s->t[i]);
          return (double(z2[i]) - 1.0) * r - r * r;
        });
      case Form::second: {
        const float* e = v.s->ek(q);
        return v.mean([&](std::size_t i) {
          const double t = sg * v.s->t[i], d = sg * double(dl[i]), D0 = l - t, D = D0 + d;
          const double r = t / D0;
          return (double(z2[i]) - 1.0) * l * (sg * double(e[i]) * D0 + d * d) / (D0 * D * D) - r * r;
        });
      }
      default:
        return v.mean([&](std::size_t i) {
          const double t = sg * v.s->t[i], d = sg * double(dl[i]), D0 = l - t;
          const double r = t / D0;
          return (double(z2[i]) - 1.0) * l * d / (D0 * (D0 + d)) - r * r;
        });
    }
  }
  template <class F>
  static double root(F&& f, double a, double b) {
    std::uintmax_t iters = 200;
    auto [lo, hi] = boost::math::tools::toms748_solve(f, a, b, boost::math::tools::eps_tolerance<double>(48), iters);
    return 0.5 * (lo + hi);
  }
  // As ExactSolver::threshold in theory/spectral.cpp (same equation).
  double threshold() const {
    double lo = tau + 1e-9 * (1 + std::abs(tau)), hi = tau + 1.0;
    if (R(lo) > 0) return 1.0 / E2(lo);
    while (R(hi) < 0) {
      hi = tau + 2 * (hi - tau);
      if (hi - tau > 1e15) return kInf;
    }
    return 1.0 / E2(root([&](double l) { return R(l); }, lo, hi));
  }
};

// Var(y^2) and theta_k for T = y^2 in closed form (Gaussian quadrature of sigma's moments).
void square_closed_form(const ModelConfig& model, const Activation& sigma, const ActivationSummary& a,
                        const std::vector<double>& lam, SpectralThresholds& out, const std::vector<int>& ks) {
  const double mu0 = a.mu[0].value, mu2 = a.mu2();
  const Estimate m3 = gaussian_expectation([&](double z) { const double c = sigma.value(z) - mu0; return c * c * c; }, sigma.kinks);
  const Estimate m4 = gaussian_expectation([&](double z) { const double c = sigma.value(z) - mu0; return c * c * c * c; }, sigma.kinks);
  const Estimate kap = gaussian_expectation([&](double z) { const double v = sigma.value(z); return v * v * (z * z - 1); }, sigma.kinks);
  const double vs = a.variance.value;
  double c0 = 0, S2 = model.noise, S3 = 0, S4 = 3 * model.noise * model.noise, Q2 = model.noise * model.noise;
  double err = 0;
  for (double l : lam) {
    const double l2 = l * l;
    c0 += l * mu0;
    S2 += l2 * vs;
    S3 += l2 * l * m3.value;
    S4 += l2 * l2 * m4.value;
    Q2 += l2 * l2 * vs * vs;
    err += l2 * l2 * m4.error + std::abs(l2 * l) * m3.error;
  }
  // y = c0 + X, X a sum of independent zero-mean terms: E X^4 = sum m4 + 3 (S2^2 - sum m2^2).
  const double varX2 = S4 + 3 * (S2 * S2 - Q2) - S2 * S2;
  out.mean_T = c0 * c0 + S2;
  out.var_T = {4 * c0 * c0 * S2 + 4 * c0 * S3 + varX2, err + 4 * std::abs(c0) * err};
  out.mean_dT = {2 * c0, 0.0};
  out.mean_d2T = {2.0, 0.0};
  for (int k : ks) {
    SpectralThreshold d;
    d.k = k;
    d.lambda = lam[k - 1];
    const double ER = c0 - d.lambda * mu0;
    d.theta = {d.lambda * d.lambda * kap.value + 2 * d.lambda * mu2 * ER,
               d.lambda * d.lambda * kap.error + 2 * std::abs(d.lambda * ER) * a.mu[2].error};
    const double th = d.theta.value;
    d.alpha_leading = {out.var_T.value / (th * th),
                       out.var_T.value / (th * th) * (out.var_T.error / out.var_T.value + 2 * d.theta.error / std::abs(th))};
    d.alpha_exact = {kNaN, kNaN};
    out.directions.push_back(d);
  }
}

void check_ks(const std::vector<int>& ks, int p) {
  if (ks.empty()) throw std::invalid_argument("directions = {} (must list at least one k in [1, p])");
  for (int k : ks)
    if (k < 1 || k > p)
      throw std::invalid_argument("direction k = " + std::to_string(k) + " (must be in [1, p = " + std::to_string(p) + "])");
}

}  // namespace

void RateOptions::validate() const {
  if (mc_samples < 4096 || mc_samples > (1ull << 24))
    throw std::invalid_argument("RateOptions.mc_samples = " + std::to_string(mc_samples) + " (must be in [4096, 16777216])");
  if (threads < 0 || threads > 256)
    throw std::invalid_argument("RateOptions.threads = " + std::to_string(threads) + " (must be in [0, 256]; 0 = all cores)");
  quadrature.validate();
}

const Estimate& SpectralThreshold::alpha() const { return std::isnan(alpha_exact.value) ? alpha_leading : alpha_exact; }

SpectralThresholds spectral_thresholds(const ModelConfig& model, const std::vector<int>& ks, const RateOptions& opt) {
  model.validate();
  opt.validate();
  const std::vector<double> lam = model.lambdas();
  check_ks(ks, int(lam.size()));
  const Activation sigma = make_activation(model.activation);
  const ActivationSummary a = analyse(sigma);
  const Preprocess T = model.preprocessing();
  SpectralThresholds out;
  out.beta_star = a.beta_star;

  if (T.kind == Preprocess::Kind::identity) {
    out.method = "Theory A in closed form: alpha_k = Var y / (mu2 lambda_k)^2";
    double sum_l2 = 0, sum_l = 0;
    for (double l : lam) {
      sum_l2 += l * l;
      sum_l += l;
    }
    out.mean_T = sum_l * a.mu[0].value;
    out.var_T = {sum_l2 * a.variance.value + model.noise, sum_l2 * a.variance.error};
    out.mean_dT = {1.0, 0.0};
    out.mean_d2T = {0.0, 0.0};
    for (int k : ks) {
      SpectralThreshold d;
      d.k = k;
      d.lambda = lam[k - 1];
      d.theta = {d.lambda * a.mu2(), std::abs(d.lambda) * a.mu[2].error};
      const double th = d.theta.value;
      d.alpha_leading = {out.var_T.value / (th * th),
                         out.var_T.value / (th * th) * (out.var_T.error / out.var_T.value + 2 * d.theta.error / std::abs(th))};
      d.alpha_exact = {kNaN, kNaN};
      out.directions.push_back(d);
    }
    return out;
  }
  if (T.kind == Preprocess::Kind::square) {
    out.method = "Theory A in closed form from Gaussian moments of sigma (T = y^2 is unbounded: no Theory B)";
    square_closed_form(model, sigma, a, lam, out, ks);
    return out;
  }

  out.exact = exact_theory_applies(model);
  // Bounded T: the deterministic quadrature law (theory/theory_b.hpp) on two grids where it applies.
  if (opt.quadrature_law && quadrature_obstacle(model, int(ks.size())).empty()) {
    std::vector<int> dirs;  // distinct 0-based directions; slot[q] = row of ks[q]
    std::vector<int> slot;
    for (int k : ks) {
      auto it = std::find(dirs.begin(), dirs.end(), k - 1);
      slot.push_back(int(it - dirs.begin()));
      if (it == dirs.end()) dirs.push_back(k - 1);
    }
    std::vector<QuadratureLaw> law(2);
    parallel_for(2, worker_count(opt.threads, 2), [&](int i) { law[i] = build_quadrature_law(model, dirs, 1 - i); });
    auto two = [](double fine, double coarse) { return Estimate{fine, std::abs(fine - coarse)}; };
    out.method = std::string("deterministic quadrature of the law of (T(y), z_k) on two grids (docs/theory-b.md): Theory A") +
                 (out.exact ? " and Theory B" : " (Theory B needs an even sigma)");
    out.mean_T = law[0].mean_T;
    const BSolver<QuadratureLaw> f0{&law[0], 1.0, 0.0}, f1{&law[1], 1.0, 0.0};
    out.var_T = two(f0.var(), f1.var());
    out.mean_dT = two(law[0].mean_dT, law[1].mean_dT);
    out.mean_d2T = two(law[0].mean_d2T, law[1].mean_d2T);
    out.directions.resize(ks.size());
    parallel_for(int(ks.size()), worker_count(opt.threads, int(ks.size())), [&](int q) {
      SpectralThreshold& d = out.directions[q];
      d.k = ks[q];
      d.lambda = lam[ks[q] - 1];
      const int row = slot[q];
      d.theta = two(f0.theta(row), f1.theta(row));
      const double th0 = d.theta.value, th1 = f1.theta(row);
      d.alpha_leading = two(out.var_T.value / (th0 * th0), f1.var() / (th1 * th1));
      d.alpha_exact = {kNaN, kNaN};
      if (!out.exact || d.k > opt.exact_max_k) return;
      const double sign = th0 >= 0 ? 1.0 : -1.0;
      double a[2];
      for (int i = 0; i < 2; ++i) {
        const BSolver<QuadratureLaw> s{&law[i], sign, sign > 0 ? law[i].t_sup : -law[i].t_inf};
        a[i] = s.threshold(row, s.theta(row), 1e15);
      }
      d.alpha_exact = {a[0], std::isfinite(a[0] - a[1]) ? std::abs(a[0] - a[1]) : (a[0] == a[1] ? 0.0 : kInf)};
    });
    return out;
  }

  // Otherwise Monte Carlo with control variates.
  const bool second_order = a.beta_star >= 2;
  out.method = std::string("Monte Carlo over (y, z_k) with ") + (second_order ? "first- and second-order" : "first-order") +
               " control variates (" + std::to_string(opt.mc_samples) + " samples, seed " + std::to_string(opt.mc_seed) +
               "; errors from 8 batches): Theory A" + (out.exact ? " and Theory B" : " (Theory B needs an even sigma)");
  const Sample s = draw_sample(model, sigma, lam, ks, second_order, opt);
  out.mean_T = s.mean_T;
  auto views = [&](double sign) {
    std::vector<View> v{{&s, 0, 1, sign}};
    if (opt.error_bars)
      for (int b = 0; b < kBatches; ++b) v.push_back({&s, std::size_t(b), std::size_t(kBatches), sign});
    return v;
  };
  const auto plain = views(1.0);
  {
    std::vector<double> var, d1, d2;
    const double sd = std::sqrt(model.noise);
    for (const auto& v : plain) {
      var.push_back(v.mean([&](std::size_t i) { return s.t[i] * s.t[i]; }));
      if (model.noise > 0) {
        d1.push_back(v.mean([&](std::size_t i) { return s.t[i] * double(s.xi[i]); }) / sd);
        d2.push_back(v.mean([&](std::size_t i) { const double x = s.xi[i]; return s.t[i] * (x * x - 1); }) / model.noise);
      }
    }
    out.var_T = combine(var);
    out.mean_dT = model.noise > 0 ? combine(d1) : Estimate{kNaN, kNaN};
    out.mean_d2T = model.noise > 0 ? combine(d2) : Estimate{kNaN, kNaN};
  }
  out.directions.resize(ks.size());
  parallel_for(int(ks.size()), worker_count(opt.threads, int(ks.size())), [&](int q) {
    SpectralThreshold& d = out.directions[q];
    d.k = ks[q];
    d.lambda = lam[ks[q] - 1];
    // Theory A: theta_k by conditional Monte Carlo (quadrature over z_k), whose error does
    // not grow with k even for heavy-tailed sigma; quadrature error = |48 - 96 nodes|.
    std::vector<double> theta, lead, exact;
    for (const auto& v : plain) {
      const DirectionSolver ds{v, q, 0.0};
      const double th = ds.theta_conditional();
      theta.push_back(th);
      lead.push_back(ds.var() / (th * th));
    }
    d.theta = combine(theta);
    d.alpha_leading = combine(lead);
    {
      const DirectionSolver full{plain[0], q, 0.0};
      const double quad = std::abs(full.theta_conditional(true) - d.theta.value);
      const double th = d.theta.value;
      d.theta.error += quad;
      d.alpha_leading.error += d.alpha_leading.value * 2 * quad / std::abs(th);
    }
    d.alpha_exact = {kNaN, kNaN};
    if (!out.exact || d.k > opt.exact_max_k) return;
    // Theory B: the estimator form with the smallest standard error of theta_k.
    Form best = Form::plain;
    double best_se = kInf;
    for (Form f : {Form::plain, Form::first, Form::second}) {
      if (f == Form::second && !s.second_order) continue;
      std::vector<double> th{0.0};  // (the full-sample value does not enter the spread)
      for (int b = 0; b < kBatches; ++b)
        th.push_back(DirectionSolver{View{&s, std::size_t(b), std::size_t(kBatches), 1.0}, q, 0.0, f}.theta());
      const double se = combine(th).error;
      if (se < best_se) {
        best_se = se;
        best = f;
      }
    }
    // The spike leaves the top of the spectrum when theta_k > 0, else the bottom (T -> -T).
    for (auto v : plain) {
      v.sign = d.theta.value >= 0 ? 1.0 : -1.0;
      exact.push_back(DirectionSolver{v, q, v.tau(), best}.threshold());
    }
    d.alpha_exact = combine(exact);
  });
  return out;
}

std::vector<DirectionInformation> information_thresholds(const ModelConfig& model, int directions,
                                                         const ThresholdConfig& quadrature, int threads) {
  model.validate();
  quadrature.validate();
  const std::vector<double> lam = model.lambdas();
  if (directions < 1 || directions > int(lam.size()))
    throw std::invalid_argument("directions = " + std::to_string(directions) + " (must be in [1, p = " +
                                std::to_string(lam.size()) + "])");
  if (threads < 0 || threads > 256)
    throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be in [0, 256]; 0 = all cores)");
  const Activation sigma = make_activation(model.activation);
  // Quadrature can leave a constant sigma's variance at -1e-16: clamp (a variance is >= 0).
  const double var_sigma = std::max(0.0, analyse(sigma).variance.value);
  ThresholdConfig cfg = quadrature;
  cfg.kinks.insert(cfg.kinks.end(), sigma.kinks.begin(), sigma.kinks.end());
  double sum_l2 = 0;
  for (double l : lam) sum_l2 += l * l;
  std::vector<DirectionInformation> out(directions);
  parallel_for(directions, worker_count(threads, directions), [&](int i) {
    const int k = i + 1;
    DirectionInformation& d = out[i];
    d.k = k;
    d.oracle.alpha_c = d.agnostic.alpha_c = kInf;
    d.oracle_defined = model.noise > 0;
    if (d.oracle_defined) d.oracle = oracle_threshold(sigma.value, var_sigma, lam, k, model.noise, cfg);
    const double noise_var = model.noise + (sum_l2 - lam[i] * lam[i]) * var_sigma;
    d.agnostic_defined = noise_var > 0;
    if (d.agnostic_defined) d.agnostic = agnostic_threshold(sigma.value, var_sigma, lam, k, model.noise, cfg);
  });
  return out;
}

std::string information_status(const ThresholdResult& r, bool defined) {
  if (!defined) return "undefined";
  if (std::isinf(r.alpha_c) && r.alpha_c > 0) return "never";
  if (!std::isfinite(r.alpha_c) || !std::isfinite(r.error) || 3 * r.error >= r.alpha_c) return "unresolved";
  return "resolved";
}

std::string information_note(const ModelConfig& model) {
  model.validate();
  const ActivationSummary a = analyse(make_activation(model.activation));
  std::string note;
  if (model.noise <= 0) note += "Delta = 0: the oracle problem is noiseless, alpha_oracle is not defined (null). ";
  const double scale = std::sqrt(std::max(a.variance.value, 1e-300));
  if (std::abs(a.mu[1].value) > 1e-9 * scale)
    note += "mu1 != 0: a linear estimator recovers each direction at any alpha = O(1); alpha_oracle and alpha_agnostic "
            "are then the second-order (spectral-type) thresholds 1/E[(E[z^2-1|y])^2], not information-theoretic bounds. ";
  note += "alpha_agnostic treats the other directions as Gaussian noise of matching variance (an approximation, "
          "not a bound).";
  return note;
}

RateSequence rate_sequence(const ModelConfig& model, const std::vector<int>& ks, const RateOptions& opt) {
  RateSequence out;
  out.spectral = spectral_thresholds(model, ks, opt);
  out.beta_star = out.spectral.beta_star;
  out.rate_exponent = 2 * model.gamma * out.beta_star;
  const double Delta = model.noise;
  const auto& sp = out.spectral;
  // Predicted limit of the ratio (header): needs Delta > 0 and beta* in {1, 2}.
  out.ratio_limit = {kNaN, kNaN};
  if (Delta > 0 && out.beta_star == 1) {
    const double d1 = sp.mean_dT.value;
    if (std::abs(d1) <= 3 * sp.mean_dT.error || d1 == 0) {
      out.ratio_limit = {kInf, 0.0};
    } else {
      const double L = sp.var_T.value / (Delta * d1 * d1);
      out.ratio_limit = {L, L * (sp.var_T.error / sp.var_T.value + 2 * sp.mean_dT.error / std::abs(d1))};
    }
  } else if (Delta > 0 && out.beta_star == 2) {
    const double d2 = sp.mean_d2T.value;
    const double L = 2 * sp.var_T.value / (Delta * d2 * Delta * d2);
    out.ratio_limit = {L, L * (sp.var_T.error / sp.var_T.value + 2 * sp.mean_d2T.error / std::abs(d2))};
  }

  const Activation sigma = make_activation(model.activation);
  const double var_sigma = analyse(sigma).variance.value;
  const std::vector<double> lam = model.lambdas();
  ThresholdConfig cfg = opt.quadrature;
  cfg.kinks.insert(cfg.kinks.end(), sigma.kinks.begin(), sigma.kinks.end());
  double sum_l2 = 0;
  for (double l : lam) sum_l2 += l * l;
  out.points.resize(ks.size());
  parallel_for(int(ks.size()), worker_count(opt.threads, int(ks.size())), [&](int q) {
    RatePoint& pt = out.points[q];
    const auto& d = sp.directions[q];
    pt.k = d.k;
    pt.lambda = d.lambda;
    pt.alpha_spectral = d.alpha();
    pt.alpha_leading = d.alpha_leading;
    pt.oracle.alpha_c = pt.agnostic.alpha_c = kInf;
    if (opt.information) {
      if (Delta > 0) pt.oracle = oracle_threshold(sigma.value, var_sigma, lam, d.k, Delta, cfg);
      if (Delta + (sum_l2 - d.lambda * d.lambda) * var_sigma > 0)
        pt.agnostic = agnostic_threshold(sigma.value, var_sigma, lam, d.k, Delta, cfg);
    }
    auto ratio = [&](const ThresholdResult& r) -> Estimate {
      if (!opt.information || !std::isfinite(r.alpha_c)) return {kNaN, kNaN};
      const double v = pt.alpha_spectral.value / r.alpha_c;
      return {v, std::abs(v) * (pt.alpha_spectral.error / std::abs(pt.alpha_spectral.value) + r.error / r.alpha_c)};
    };
    pt.ratio_oracle = ratio(pt.oracle);
    pt.ratio_agnostic = ratio(pt.agnostic);
  });
  return out;
}

SlopeFit loglog_fit(const std::vector<double>& x, const std::vector<double>& y, double x_lo, double x_hi,
                    const std::vector<double>& y_err) {
  if (!y_err.empty() && y_err.size() != y.size())
    throw std::invalid_argument("loglog_fit: y_err has " + std::to_string(y_err.size()) + " points, y " +
                                std::to_string(y.size()) + " (must be equal, or empty)");
  if (x.size() != y.size())
    throw std::invalid_argument("loglog_fit: x has " + std::to_string(x.size()) + " points, y " + std::to_string(y.size()) +
                                " (must be equal)");
  SlopeFit f;
  f.x_lo = x_lo;
  f.x_hi = x_hi;
  std::vector<double> lx, ly, rel;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i]) && x[i] > 0 && y[i] > 0 && x[i] >= x_lo && x[i] <= x_hi) {
      lx.push_back(std::log(x[i]));
      ly.push_back(std::log(y[i]));
      rel.push_back(y_err.empty() ? 0.0 : y_err[i] / y[i]);
    }
  f.points = int(lx.size());
  if (f.points < 2) {
    f.slope = f.intercept = f.max_residual = kNaN;
    return f;
  }
  double mx = 0, my = 0;
  for (int i = 0; i < f.points; ++i) {
    mx += lx[i];
    my += ly[i];
  }
  mx /= f.points;
  my /= f.points;
  double sxx = 0, sxy = 0;
  for (int i = 0; i < f.points; ++i) {
    sxx += (lx[i] - mx) * (lx[i] - mx);
    sxy += (lx[i] - mx) * (ly[i] - my);
  }
  f.slope = sxy / sxx;
  double var = 0;
  for (int i = 0; i < f.points; ++i) var += std::pow((lx[i] - mx) / sxx * rel[i], 2);
  f.slope_error = std::sqrt(var);
  f.intercept = my - f.slope * mx;
  for (int i = 0; i < f.points; ++i) f.max_residual = std::max(f.max_residual, std::abs(ly[i] - f.intercept - f.slope * lx[i]));
  return f;
}

std::vector<int> k_grid(int kmax, int per_decade) {
  if (kmax < 1) throw std::invalid_argument("kmax = " + std::to_string(kmax) + " (must be >= 1)");
  if (per_decade < 1) throw std::invalid_argument("per_decade = " + std::to_string(per_decade) + " (must be >= 1)");
  std::set<int> ks;
  for (int k = 1; k <= std::min(kmax, 10); ++k) ks.insert(k);
  for (double e = 1.0; e < std::log10(double(kmax)); e += 1.0 / per_decade) ks.insert(std::min(kmax, int(std::lround(std::pow(10.0, e)))));
  ks.insert(kmax);
  return {ks.begin(), ks.end()};
}

}  // namespace hmi::theory

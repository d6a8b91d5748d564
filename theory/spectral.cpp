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

#include <Eigen/Dense>

#include "theory/theory_b.hpp"

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
  if (refine < -3 || refine > 3)
    throw std::invalid_argument("theory_refine = " + std::to_string(refine) + " (must be in [-3, 3])");
  if (threads < 0 || threads > 256)
    throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be in [0, 256]; 0 = all cores)");
}

bool odd_activation(const Activation& sigma) {
  for (int i = 1; i <= 64; ++i) {
    const double z = 0.125 * i, a = sigma.value(z), b = sigma.value(-z);
    if (std::abs(a + b) > 1e-14 * (std::abs(a) + std::abs(b)) || (a == 0 && b == 0 && i == 64)) return false;
  }
  return true;
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

// The Monte Carlo sample (or one of its 8 interleaved batches) as a law for BSolver
// (theory/theory_b.hpp): every point has weight 1/count.
struct McLaw {
  const LabelSample* s;
  std::size_t offset, stride;
  double inv;
  McLaw(const LabelSample* s_, std::size_t off, std::size_t str)
      : s(s_), offset(off), stride(str), inv(1.0 / double((s_->n - off + str - 1) / str)) {}
  std::size_t n() const { return (s->n - offset + stride - 1) / stride; }
  double t_at(std::size_t i) const { return s->t[offset + i * stride]; }
  double w_at(std::size_t) const { return inv; }
  double v_at(int q, std::size_t i) const { return (double(s->z2k(q)[offset + i * stride]) - 1.0) * inv; }
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
  const McLaw law(&s, 0, 1);
  return BSolver<McLaw>{&law, 1.0, *std::max_element(t_values.begin(), t_values.end())}.edge(alpha);
}

namespace {

// Theory B curve and thresholds from a list of laws: laws[0] gives the value; the error comes
// from `comb` over all of them (Monte Carlo: full sample + 8 batches, batch standard error;
// quadrature: fine + coarse grid, their difference). tau(law, sign) = sup of sign * t.
template <class Law, class Tau, class Comb>
void exact_curve(SpectralPrediction& out, const std::vector<Law>& laws, Tau&& tau, Comb&& comb,
                 const std::vector<double>& alphas, int workers) {
  const int K = int(out.directions.size());
  auto solvers = [&](double sign) {
    std::vector<BSolver<Law>> v;
    for (const auto& l : laws) v.push_back(BSolver<Law>{&l, sign, tau(l, sign)});
    return v;
  };
  const auto top = solvers(1.0), bottom = solvers(-1.0);
  auto sign_of = [&](int k) { return out.directions[k].theta.value >= 0 ? 1.0 : -1.0; };
  auto side_of = [&](int k) -> const std::vector<BSolver<Law>>& { return sign_of(k) > 0 ? top : bottom; };
  parallel_for(K, workers, [&](int k) {
    auto& d = out.directions[k];
    if (d.threshold_status != "resolved") return;
    std::vector<double> v;
    for (const auto& s : side_of(k)) v.push_back(s.threshold(k, sign_of(k) * d.theta.value));
    d.alpha_threshold = comb(v);
    if (d.threshold_status == "resolved" && !std::isfinite(d.alpha_threshold.value)) d.threshold_status = "never";
  });
  out.curve.resize(alphas.size());
  // Points are independent: spread them over the cores (each point's directions serially).
  parallel_for(int(alphas.size()), workers, [&](int ia) {
    const double alpha = alphas[ia];
    CurvePoint& pt = out.curve[ia];
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
    pt.bulk_edge = comb(edge_top);
    pt.bulk_edge_lower = comb(edge_bottom);
    pt.outlier.assign(K, std::nullopt);
    pt.overlap.assign(K, Estimate{0.0, 0.0});
    for (int k = 0; k < K; ++k) {
      const bool up = sign_of(k) > 0;
      const auto& S = up ? top : bottom;
      const auto& lb = up ? lb_top : lb_bottom;
      const auto& edge = up ? edge_top : edge_bottom;
      std::vector<double> nu, q;
      bool skip = false;
      for (std::size_t i = 0; i < S.size(); ++i) {
        const auto sp = S[i].spike(alpha, k, lb[i]);
        if (i == 0 && !sp.present) { skip = true; break; }  // below threshold: no outlier, overlap 0
        // A batch (or grid) below threshold counts as overlap 0 and eigenvalue at its edge.
        nu.push_back(sp.present ? sign_of(k) * sp.eigenvalue : edge[i]);
        q.push_back(sp.present ? sp.overlap : 0.0);
      }
      if (skip) continue;
      pt.outlier[k] = comb(nu);
      pt.overlap[k] = comb(q);
    }
  });
}

Estimate two_grid(const std::vector<double>& v);

// Non-even sigma on the quadrature laws (theory/theory_b.hpp GeneralSolver): outliers where an
// eigenvalue of the K x K matrix Phi(l) meets psi(l); direction k takes the outlier with the
// largest squared overlap Q_j u_jk^2.
void general_curve(SpectralPrediction& out, const std::vector<QuadratureLaw>& laws, const std::vector<double>& alphas,
                   int workers) {
  const int K = int(out.directions.size());
  std::vector<GeneralSolver> sol;  // law-major: (law 0, top), (law 0, bottom), (law 1, top), ...
  for (const auto& l : laws)
    for (double sign : {1.0, -1.0}) sol.push_back(GeneralSolver{{&l, sign, sign > 0 ? l.t_sup : -l.t_inf}, K});
  using Solver = BSolver<QuadratureLaw>;
  auto eig = [K](const std::vector<double>& M) {
    return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(Eigen::Map<const Eigen::MatrixXd>(M.data(), K, K));
  };
  struct Branch { double nu, Q; std::vector<double> u2; };
  auto outliers = [&](const GeneralSolver& g, double alpha, double lb) {
    std::vector<Branch> br;
    const double s = std::sqrt(g.b.var());
    for (int idx = K - 1; idx >= 0; --idx) {
      auto f = [&](double l) { return eig(g.Phi(l)).eigenvalues()[idx] - g.b.psi(l, alpha); };
      if (f(lb) <= 0) continue;
      double a = lb, step = std::max(lb - g.b.tau, 1e-3 * s), b = lb + step;
      bool found = true;
      while (f(b) > 0) {
        a = b;
        step *= 2;
        b = lb + step;
        if (step > 1e12 * s) { found = false; break; }
      }
      if (!found) continue;
      const double ls = Solver::root(f, a, b);
      const auto es = eig(g.Phi(ls));
      const Eigen::VectorXd u = es.eigenvectors().col(idx);
      const auto dP = g.dPhi(ls);
      double mu1 = 0;
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) mu1 += u[i] * dP[i * K + j] * u[j];
      const double dpsi = 1.0 / alpha - g.b.E2(ls);
      Branch B{g.b.sign * g.b.psi(ls, alpha), dpsi / (dpsi - mu1), std::vector<double>(K)};
      for (int k = 0; k < K; ++k) B.u2[k] = u[k] * u[k];
      br.push_back(std::move(B));
    }
    return br;
  };
  // Thresholds: at the threshold psi' = 0 (alpha = 1/E2(l)) and mu_j(l) = psi(l) = l (E1 + E2)(l).
  auto thresholds = [&](const GeneralSolver& g, std::vector<double>& th) {
    const double s = std::sqrt(g.b.var()), tau = g.b.tau;
    for (int idx = K - 1; idx >= 0; --idx) {
      auto f = [&](double l) { return eig(g.Phi(l)).eigenvalues()[idx] - l * (g.b.E1(l) + g.b.E2(l)); };
      double lo = tau + 1e-9 * (s + std::abs(tau)), hi = tau + s, l = lo;
      if (f(lo) <= 0) {
        bool found = true;
        while (f(hi) < 0) {
          hi = tau + 2 * (hi - tau);
          if (hi - tau > 1e12 * s) { found = false; break; }
        }
        if (!found) continue;
        l = Solver::root(f, lo, hi);
      }
      const Eigen::VectorXd u = eig(g.Phi(l)).eigenvectors().col(idx);
      int k = 0;
      for (int i = 1; i < K; ++i) if (u[i] * u[i] > u[k] * u[k]) k = i;
      th[k] = std::min(th[k], 1.0 / g.b.E2(l));
    }
  };
  {
    std::vector<std::vector<double>> per(sol.size(), std::vector<double>(K, kInf));
    parallel_for(int(sol.size()), std::min<int>(workers, int(sol.size())), [&](int i) { thresholds(sol[i], per[i]); });
    std::vector<std::vector<double>> th(laws.size(), std::vector<double>(K, kInf));
    for (std::size_t i = 0; i < sol.size(); ++i)
      for (int k = 0; k < K; ++k) th[i / 2][k] = std::min(th[i / 2][k], per[i][k]);  // both sides of law i / 2
    for (int k = 0; k < K; ++k) {
      auto& d = out.directions[k];
      if (d.threshold_status != "resolved") continue;
      d.alpha_threshold = two_grid({th[0][k], th[1][k]});
      if (!std::isfinite(d.alpha_threshold.value)) d.threshold_status = "never";
    }
  }
  out.curve.resize(alphas.size());
  parallel_for(int(alphas.size()), workers, [&](int ia) {
    const double alpha = alphas[ia];
    CurvePoint& pt = out.curve[ia];
    pt.alpha = alpha;
    std::vector<double> edge_top, edge_bottom;
    std::vector<std::vector<Branch>> br(laws.size());
    for (std::size_t L = 0; L < laws.size(); ++L)
      for (int side = 0; side < 2; ++side) {
        const auto& g = sol[2 * L + side];
        const double lb = g.b.lambda_bar(alpha);
        (side == 0 ? edge_top : edge_bottom).push_back(g.b.sign * g.b.psi(lb, alpha));
        for (auto& b : outliers(g, alpha, lb)) br[L].push_back(std::move(b));
      }
    pt.bulk_edge = two_grid(edge_top);
    pt.bulk_edge_lower = two_grid(edge_bottom);
    pt.outlier.assign(K, std::nullopt);
    pt.overlap.assign(K, Estimate{0.0, 0.0});
    // q_k = max over outliers j of Q_j u_jk^2 (the predicted max_j <v_j, w_k>^2); the outlier of
    // direction k is the one whose eigenvector u_j has its largest component on k.
    for (int k = 0; k < K; ++k) {
      std::vector<double> q, nu;
      for (std::size_t L = 0; L < laws.size(); ++L) {
        double best = 0, at = edge_top[L];
        bool own = false;
        for (const auto& b : br[L]) {
          best = std::max(best, b.Q * b.u2[k]);
          if (std::max_element(b.u2.begin(), b.u2.end()) - b.u2.begin() == k) { own = true; at = b.nu; }
        }
        if (L == 0 && best == 0) break;
        q.push_back(best);
        nu.push_back(own || L > 0 ? at : std::numeric_limits<double>::quiet_NaN());
      }
      if (q.size() < laws.size()) continue;
      pt.overlap[k] = two_grid(q);
      if (!std::isnan(nu[0])) pt.outlier[k] = two_grid(nu);
    }
  });
}

// Two grids: the fine value, error = |fine - coarse|.
Estimate two_grid(const std::vector<double>& v) {
  const double e = std::abs(v.at(0) - v.at(1));
  return {v[0], std::isfinite(e) ? e : (v[0] == v[1] ? 0.0 : kInf)};
}

}  // namespace

TheoryMethod parse_theory_method(const std::string& s) {
  if (s == "quadrature") return TheoryMethod::quadrature;
  if (s == "montecarlo") return TheoryMethod::montecarlo;
  throw std::invalid_argument("theory_method = '" + s + "' (must be quadrature or montecarlo)");
}

std::string to_string(TheoryMethod m) { return m == TheoryMethod::montecarlo ? "montecarlo" : "quadrature"; }

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
  // Non-even sigma: the K x K form on the quadrature law (docs/theory-b.md section 6), over all p
  // directions (they no longer decouple, so none may be left out of the matrix).
  const int p_all = int(lam.size());
  const bool general = T.bounded() && !sigma.even && opt.theory_method == TheoryMethod::quadrature && p_all <= 64 &&
                       quadrature_obstacle(model, p_all + p_all * (p_all - 1) / 2).empty();
  const int K = general ? p_all : std::min<int>(p_all, opt.max_directions);
  const int workers = std::max(1, std::min<int>(std::max<int>(K, int(alphas.size())),
                                                opt.threads > 0 ? opt.threads : int(std::thread::hardware_concurrency())));

  SpectralPrediction out;
  out.activation = analyse(sigma);
  const bool applies = exact_theory_applies(model) || general;
  if (method == Method::exact && !applies)
    throw std::invalid_argument("method = exact (needs a bounded preprocessing clip:C or square-clip:C, and for a non-even "
                                "activation theory_method quadrature with Delta > 0 and p <= 64; got preprocess " +
                                model.preprocess + ", activation " + model.activation + ")");
  out.method = (method == Method::exact || (method == Method::automatic && applies)) ? Method::exact : Method::leading;
  if (method != Method::automatic) {
    out.method_reason = "requested (--method " + to_string(method) + ")";
  } else if (applies) {
    out.method_reason = "auto: bounded T (" + model.preprocess + ") and " +
                        (general ? "non-even activation (" + model.activation + "): Theory B in its K x K form"
                                 : "even activation (" + model.activation + "): Theory B (exact proportional limit)");
  } else {
    std::string why;
    if (!T.bounded()) why = "T = " + model.preprocess + " is unbounded";
    if (!sigma.even) {
      why += std::string(why.empty() ? "" : " and ") + "activation " + model.activation + " is not even";
      if (T.bounded()) {  // its p x p form needs the quadrature law
        const std::string ob = opt.theory_method != TheoryMethod::quadrature ? "theory_method is montecarlo"
                               : p_all > 64 ? "p > 64"
                                            : quadrature_obstacle(model, p_all + p_all * (p_all - 1) / 2);
        why += " (its p x p form needs the quadrature law: " + ob + ")";
      }
    }
    out.method_reason = "auto: " + why + ": Theory B does not apply, fell back to Theory A (leading order)";
  }
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
    out.theory_method = "closed form";
  }

  // The law of (T(y), z_k): deterministic quadrature when it applies (bounded T, Delta > 0,
  // affordable), else the Monte Carlo sample.
  std::vector<QuadratureLaw> quad;
  LabelSample sample;
  if (T.kind != Preprocess::Kind::identity) {
    const std::string obstacle = quadrature_obstacle(model, K);
    if (opt.theory_method == TheoryMethod::quadrature && obstacle.empty()) {
      std::vector<int> dirs(K);
      for (int k = 0; k < K; ++k) dirs[k] = k;
      quad.resize(2);
      parallel_for(2, std::min(2, workers), [&](int i) {
        quad[i] = build_quadrature_law(model, dirs, opt.refine + 1 - i, kSupportTail, general);
      });
      out.theory_method = "quadrature";
      out.mean_T = quad[0].mean_T;
      const BSolver<QuadratureLaw> s0{&quad[0], 1.0, 0.0}, s1{&quad[1], 1.0, 0.0};
      out.var_T = two_grid({s0.var(), s1.var()});
      out.mean_T_error = std::abs(quad[0].mean_T - quad[1].mean_T);
      for (int k = 0; k < K; ++k) out.directions[k].theta = two_grid({s0.theta(k), s1.theta(k)});
    } else {
      if (opt.theory_method == TheoryMethod::quadrature && T.bounded())
        out.note += "; Monte Carlo instead of quadrature: " + obstacle;
      out.theory_method = "montecarlo";
      sample = draw_label_sample(model, sigma, lam, K, opt);
      out.mean_T = sample.mean_T;
      out.var_T = with_error([](const View& v) { return v.mean([](std::size_t, double t) { return t * t; }); }, sample, 1.0);
      for (int k = 0; k < K; ++k) {
        const float* z2 = sample.z2k(k);
        out.directions[k].theta = with_error(
            [&](const View& v) { return v.mean([&](std::size_t i, double t) { return t * (z2[i] - 1.0); }); }, sample, 1.0);
      }
    }
  }

  // A threshold from a theta_k that its own error bar does not separate from 0 would be a
  // number made of noise (e.g. theta = -2e-16 +- 3e-16 for a constant sigma gave alpha = 2e30):
  // report it as unresolved instead.
  auto resolved = [](const DirectionPrediction& d) {
    const double th = d.theta.value, err = d.theta.error;
    return std::isfinite(th) && std::isfinite(err) && (std::abs(th) > kThetaResolution * err || (th == 0 && err == 0));
  };
  // theta_k = 0 exactly by symmetry when sigma and T are both odd (z -> -z maps y -> -y and
  // T -> -T): a computed theta is then rounding residue and there is no outlier at any alpha.
  const bool odd_T = T.kind == Preprocess::Kind::identity || T.kind == Preprocess::Kind::clip;
  const bool zero_theta = odd_T && odd_activation(sigma);
  // T's scale below what products of doubles resolve (clip:1e-300: Var T underflows to 0).
  const bool underflow = T.kind != Preprocess::Kind::identity && !(out.var_T.value > 1e-280);
  for (auto& d : out.directions) {
    if (zero_theta) {
      d.theta = {0.0, 0.0};
      d.threshold_status = "never";
      d.threshold_reason = "theta_" + std::to_string(d.k) + " = 0 exactly (odd activation " + model.activation +
                           " and odd T " + model.preprocess + ")";
      d.alpha_threshold = {kInf, 0.0};
      continue;
    }
    if (underflow) {
      d.threshold_status = "unresolved";
      d.threshold_reason = "Var T = " + format_number(out.var_T.value) + " underflows double precision (T = " +
                           model.preprocess + "): alpha_" + std::to_string(d.k) + " is not determined";
      d.alpha_threshold = {kInf, kInf};
      continue;
    }
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
      if (d.threshold_status != "resolved") continue;
      const double th = d.theta.value;
      d.alpha_threshold = {out.var_T.value / (th * th),
                           out.var_T.value / (th * th) * (out.var_T.error / out.var_T.value + 2 * d.theta.error / std::abs(th))};
      mark_never(d);
    }
    leading_order_curve(out, alphas);
  } else if (general) {
    general_curve(out, quad, alphas, workers);
  } else if (!quad.empty()) {
    exact_curve(out, quad, [](const QuadratureLaw& l, double sign) { return sign > 0 ? l.t_sup : -l.t_inf; }, two_grid,
                alphas, workers);
  } else {
    // The full sample and (with error bars) each of the 8 batches.
    std::vector<McLaw> laws{McLaw(&sample, 0, 1)};
    if (opt.error_bars)
      for (int b = 0; b < kBatches; ++b) laws.emplace_back(&sample, std::size_t(b), std::size_t(kBatches));
    auto tau = [](const McLaw& l, double sign) {
      double t = -kInf;
      for (std::size_t i = 0; i < l.n(); ++i) t = std::max(t, sign * l.t_at(i));
      return t;
    };
    exact_curve(out, laws, tau, combine, alphas, workers);
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

#include "theory/bayes.hpp"

#include "theory/activation.hpp"
#include "theory/mesh.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace hmi::theory {
namespace {

constexpr double kZMax = 9.0;     // z-axis truncation (mass beyond: 2e-19), as theory/information
constexpr double kYPad = 10.0;    // y range: f's range plus this many sqrt(Delta)
constexpr double kCut = 9.5;      // Gaussian factors beyond 9.5 sd (e^-45) are skipped
constexpr std::size_t kMaxPanels = std::size_t(1) << 16;
constexpr double kInvSqrt2Pi = 0.398942280401432677939946059934;
constexpr double kSmallQ = 1e-6;  // probe of the slope of F at q = 0 (even f)

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] void fail(const std::string& where, const std::string& what, double value, const std::string& allowed) {
  throw std::invalid_argument(where + what + " = " + num(value) + " (" + allowed + ")");
}

// Nodes and weights of a mesh refined `level` times (each panel cut into 2^level equal ones).
void expand(const AdaptedMesh& mesh, const QuadratureRule& rule, int level, std::vector<double>& x,
            std::vector<double>& w) {
  const int split = 1 << level;
  x.clear();
  w.clear();
  for (std::size_t p = 0; p + 1 < mesh.edges.size(); ++p) {
    const double h = (mesh.edges[p + 1] - mesh.edges[p]) / split;
    for (int s = 0; s < split; ++s) {
      const double mid = mesh.edges[p] + (s + 0.5) * h;
      for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
        x.push_back(mid + 0.5 * h * rule.nodes[i]);
        w.push_back(0.5 * h * rule.weights[i]);
      }
    }
  }
}

struct Sums {
  double m = 0, psi = 0;
  std::int64_t work = 0;
};

// m(q) and Psi_out(q) at one level (see the header for the grids).
//   Z(y)  = sum_i b_i N(y; f_i, Delta),   Z'(y) = sum_i b_i (z_i - omega)/V N(y; f_i, Delta)
// with b_i = Gauss-Legendre weight * N(z_i; omega, V), normalised to sum 1 (d/d omega of
// N(z; omega, V) is (z - omega)/V times it), then g_out = Z'/Z, Z g_out^2 = Z'^2 / Z.
Sums integrate(const std::function<double(double)>& f, double Delta, double q, const BayesConfig& c, int level) {
  const std::string where = "bayes output_integrals: ";
  const QuadratureRule& rule = gauss_legendre(c.nodes_per_panel);
  const double sd = std::sqrt(Delta), V = 1.0 - q, sV = std::sqrt(V), sq = std::sqrt(q);
  const double dg = c.panel_resolution * sd;
  const AdaptedMesh zmesh = build_adapted_mesh(f, c.kinks, dg, rule, -kZMax, kZMax, std::min(1.0, sV), kMaxPanels, where);
  std::vector<double> z, wz;
  expand(zmesh, rule, level, z, wz);
  const std::size_t nz = z.size();
  std::vector<double> fz(nz);
  for (std::size_t i = 0; i < nz; ++i) fz[i] = checked_value(f, z[i], where, "[-9, 9]");

  // y: uniform panels dg wide (the Gaussian smoothing is the finest scale in y).
  const double y_lo = zmesh.g_min - kYPad * sd, y_hi = zmesh.g_max + kYPad * sd;
  const std::size_t y_panels = std::size_t(std::clamp(std::ceil((y_hi - y_lo) / dg), 4.0, double(kMaxPanels)));
  AdaptedMesh ymesh;
  for (std::size_t p = 0; p <= y_panels; ++p) ymesh.edges.push_back(y_lo + (y_hi - y_lo) * double(p) / double(y_panels));
  std::vector<double> y, wy;
  expand(ymesh, rule, level, y, wy);
  const std::size_t ny = y.size();

  // Band of y-nodes seen by each z atom, with its kernel N(y; f_i, Delta).
  std::vector<std::size_t> jlo(nz), off(nz + 1);
  std::vector<double> K;
  const double norm = kInvSqrt2Pi / sd, inv2D = 0.5 / Delta;
  for (std::size_t i = 0; i < nz; ++i) {
    const std::size_t lo = std::size_t(std::lower_bound(y.begin(), y.end(), fz[i] - kCut * sd) - y.begin());
    const std::size_t hi = std::size_t(std::upper_bound(y.begin(), y.end(), fz[i] + kCut * sd) - y.begin());
    jlo[i] = lo;
    off[i] = K.size();
    for (std::size_t j = lo; j < hi; ++j) {
      const double r = y[j] - fz[i];
      K.push_back(norm * std::exp(-r * r * inv2D));
    }
  }
  off[nz] = K.size();

  // omega ~ N(0, q): a single atom at q = 0, else panels of width sqrt(q) on [-9 sqrt q, 9 sqrt q].
  std::vector<double> om, wo;
  if (q == 0) {
    om = {0.0};
    wo = {1.0};
  } else {
    // As a function of omega the integrand is f's kink smoothed over sqrt(V): at small V a
    // near-kink that panels of f's scale resolve only algebraically. Edges every sqrt(V) within
    // 10 sqrt(V) of each kink restore Gauss-Legendre's convergence there.
    std::vector<double> breaks = c.kinks;
    for (double k : c.kinks)
      for (int j = -10; j <= 10; ++j) breaks.push_back(k + j * sV);
    const AdaptedMesh omesh = build_adapted_mesh(f, breaks, dg, rule, -kZMax * sq, kZMax * sq, sq, kMaxPanels, where);
    expand(omesh, rule, level, om, wo);
    double mass = 0;
    for (std::size_t t = 0; t < om.size(); ++t) {
      wo[t] *= std::exp(-0.5 * om[t] * om[t] / q);
      mass += wo[t];
    }
    for (double& v : wo) v /= mass;
  }

  Sums out;
  std::vector<double> Z(ny, 0.0), D(ny, 0.0), b, cz;
  const double inv2V = 0.5 / V;
  for (std::size_t t = 0; t < om.size(); ++t) {
    const double w = om[t];
    const std::size_t zl = std::size_t(std::lower_bound(z.begin(), z.end(), w - kCut * sV) - z.begin());
    const std::size_t zh = std::size_t(std::upper_bound(z.begin(), z.end(), w + kCut * sV) - z.begin());
    if (zl >= zh) continue;
    b.assign(zh - zl, 0.0);
    cz.assign(zh - zl, 0.0);
    double B = 0;
    for (std::size_t i = zl; i < zh; ++i) {
      const double u = z[i] - w;
      b[i - zl] = wz[i] * std::exp(-u * u * inv2V);
      cz[i - zl] = u / V;
      B += b[i - zl];
    }
    std::size_t jmin = ny, jmax = 0;
    for (std::size_t i = zl; i < zh; ++i) {
      const double bi = b[i - zl] / B, ci = bi * cz[i - zl];
      const std::size_t len = off[i + 1] - off[i], j0 = jlo[i];
      const double* k = K.data() + off[i];
      for (std::size_t s = 0; s < len; ++s) {
        Z[j0 + s] += bi * k[s];
        D[j0 + s] += ci * k[s];
      }
      out.work += std::int64_t(len);
      if (len > 0) {
        jmin = std::min(jmin, j0);
        jmax = std::max(jmax, j0 + len);
      }
    }
    double m = 0, psi = 0;
    for (std::size_t j = jmin; j < jmax; ++j) {
      if (Z[j] > 0) {
        m += wy[j] * D[j] * D[j] / Z[j];
        psi += wy[j] * Z[j] * std::log(Z[j]);
      }
      Z[j] = D[j] = 0.0;
    }
    out.m += wo[t] * m;
    out.psi += wo[t] * psi;
  }
  return out;
}

void check_channel(const std::string& where, const std::function<double(double)>& f, double Delta, double q) {
  if (!f) throw std::invalid_argument(where + "f is empty (must be a callable)");
  if (!(Delta > 0) || !std::isfinite(Delta)) fail(where, "Delta", Delta, "must be > 0 and finite");
  if (!(q >= 0 && q < 1)) fail(where, "q", q, "must be in [0, 1)");
}

struct Channel {
  const std::function<double(double)>& f;
  double Delta, alpha;
  const BayesConfig& c;
  double F(double q, int level) const {
    const double qh = alpha * output_m(f, Delta, q, c, level);
    return qh / (1.0 + qh);
  }
};

double free_entropy(double q_hat, double alpha, double psi_out, double q) {
  return 0.5 * (q_hat - std::log1p(q_hat)) + alpha * psi_out - 0.5 * q * q_hat;
}

// Root of h = F - q in [a, b] with h(a) > 0 > h(b) (Illinois regula falsi); slope from the bracket.
FixedPoint solve(const Channel& ch, double a, double ha, double b, double hb) {
  double side = 0;
  for (int it = 0; it < 100 && b - a > ch.c.root_tol; ++it) {
    const double x = (a * hb - b * ha) / (hb - ha);
    const double xm = std::clamp(x, a + 0.01 * (b - a), b - 0.01 * (b - a));  // keep progress on both ends
    const double hx = ch.F(xm, 0) - xm;
    if (hx > 0) {
      a = xm;
      ha = hx;
      if (side == 1) hb *= 0.5;
      side = 1;
    } else {
      b = xm;
      hb = hx;
      if (side == -1) ha *= 0.5;
      side = -1;
    }
  }
  FixedPoint p;
  const double qs = 0.5 * (a + b);
  const OutputIntegrals oi = output_integrals(ch.f, ch.Delta, qs, ch.c, 0);
  // One Newton step with the finer level's F moves the coarse root to the finer one; its size is
  // the quadrature error (h' = F' - 1 from the bracket: ha, hb may be halved, a rough slope).
  const double qh = ch.alpha * oi.m.value, F1 = qh / (1 + qh);
  const double hslope = std::min((hb - ha) / (b - a), -1e-12);
  const double step = (F1 - qs) / -hslope;
  p.slope = 1.0 + hslope;
  p.q = {std::clamp(qs + step, 0.0, 1.0), std::abs(step) + (b - a)};
  p.q_hat = qh;
  p.phi = {free_entropy(qh, ch.alpha, oi.psi_out.value, qs), ch.alpha * oi.psi_out.error};
  return p;
}

FixedPoint zero_point(const Channel& ch, double slope) {
  FixedPoint p;
  const OutputIntegrals oi = output_integrals(ch.f, ch.Delta, 0.0, ch.c, 0);
  p.q = {0.0, 0.0};
  p.q_hat = 0;
  p.slope = slope;
  p.phi = {ch.alpha * oi.psi_out.value, ch.alpha * oi.psi_out.error};
  return p;
}

double mean_df2(const std::function<double(double)>& f, const std::vector<double>& kinks) {
  const double h = 1e-5;
  return gaussian_expectation(
             [&f, h](double z) {
               const double d = (f(z + h) - f(z - h)) / (2 * h);
               return d * d;
             },
             kinks, 1e-10)
      .value;
}

}  // namespace

void BayesConfig::validate() const {
  const std::string w = "BayesConfig.";
  if (nodes_per_panel < 2 || nodes_per_panel > 64) fail(w, "nodes_per_panel", nodes_per_panel, "must be in [2, 64]");
  if (!(panel_resolution > 0 && panel_resolution <= 100)) fail(w, "panel_resolution", panel_resolution, "must be in (0, 100]");
  if (scan_points < 4 || scan_points > 400) fail(w, "scan_points", scan_points, "must be in [4, 400]");
  if (!(root_tol > 0 && root_tol <= 1e-2)) fail(w, "root_tol", root_tol, "must be in (0, 1e-2]");
  for (std::size_t i = 0; i < kinks.size(); ++i)
    if (!std::isfinite(kinks[i])) fail(w, "kinks[" + std::to_string(i) + "]", kinks[i], "must be finite");
}

double output_m(const std::function<double(double)>& f, double Delta, double q, const BayesConfig& config, int level) {
  check_channel("output_m: ", f, Delta, q);
  return integrate(f, Delta, q, config, level).m;
}

OutputIntegrals output_integrals(const std::function<double(double)>& f, double Delta, double q,
                                 const BayesConfig& config, int level) {
  check_channel("output_integrals: ", f, Delta, q);
  config.validate();
  if (level < 0 || level > 6) fail("output_integrals: ", "level", level, "must be in [0, 6]");
  const Sums s0 = integrate(f, Delta, q, config, level), s1 = integrate(f, Delta, q, config, level + 1);
  OutputIntegrals r;
  r.m = {s1.m, std::abs(s1.m - s0.m)};
  r.psi_out = {s1.psi, std::abs(s1.psi - s0.psi)};
  r.work = s0.work + s1.work;
  return r;
}

BayesPoint bayes_point(const std::function<double(double)>& f, double Delta, double alpha, const BayesConfig& config) {
  const std::string where = "bayes_point: ";
  check_channel(where, f, Delta, 0.0);
  config.validate();
  if (!(alpha > 0) || !std::isfinite(alpha)) fail(where, "alpha", alpha, "must be > 0 and finite");
  const double df2 = mean_df2(f, config.kinks);
  if (!(df2 / Delta >= 1e-8))
    fail(where, "E[f'^2] / Delta", df2 / Delta, "must be >= 1e-8: below, the plain sums lose their precision");
  const Channel ch{f, Delta, alpha, config};
  // Roots of h = F - q lie below 1 - 1/(1 + alpha E f'^2 / Delta): m(q) <= E[f'^2] / Delta (the
  // Fisher information of the location omega is not raised by the added noise).
  const double eps_min = 1.0 / (1.0 + alpha * df2 / Delta);
  const double u_lo = -std::log1p(-0.02), u_hi = -std::log(0.25 * eps_min);
  std::vector<double> qs, hs;
  qs.push_back(config.even ? kSmallQ : 0.0);
  for (int j = 0; j < config.scan_points; ++j) {
    const double u = u_lo + (u_hi - u_lo) * j / double(config.scan_points - 1);
    qs.push_back(-std::expm1(-u));
  }
  for (double q : qs) hs.push_back(ch.F(q, 0) - q);

  BayesPoint bp;
  bp.alpha = alpha;
  // Sign changes + -> - are stable fixed points (F' < 1).
  std::vector<std::size_t> down;
  for (std::size_t j = 0; j + 1 < qs.size(); ++j)
    if (hs[j] > 0 && hs[j + 1] <= 0) down.push_back(j);
  int changes = 0;
  for (std::size_t j = 0; j + 1 < qs.size(); ++j)
    if ((hs[j] > 0) != (hs[j + 1] > 0)) ++changes;
  bp.roots = changes + (config.even ? 1 : 0);
  const bool zero_stable = config.even && hs[0] <= 0;
  const double zero_slope = config.even ? 1.0 + hs[0] / kSmallQ : 0.0;
  // From 0+: q = 0 if it is stable, else the first + -> - change.
  if (zero_stable || down.empty())
    bp.algorithmic = zero_point(ch, zero_slope);
  else
    bp.algorithmic = solve(ch, qs[down.front()], hs[down.front()], qs[down.front() + 1], hs[down.front() + 1]);
  // From 1-: the last + -> - change (h < 0 near 1), else q = 0.
  if (down.empty())
    bp.informed = zero_point(ch, zero_slope);
  else if (!zero_stable && down.size() == 1)
    bp.informed = bp.algorithmic;
  else
    bp.informed = solve(ch, qs[down.back()], hs[down.back()], qs[down.back() + 1], hs[down.back() + 1]);
  bp.status = "ok";
  if (bp.informed.q.value == bp.algorithmic.q.value) {
    bp.bayes = bp.informed;
  } else {
    const double gap = bp.informed.phi.value - bp.algorithmic.phi.value;
    bp.bayes = gap >= 0 ? bp.informed : bp.algorithmic;
    if (std::abs(gap) <= bp.informed.phi.error + bp.algorithmic.phi.error) {
      bp.status = "ambiguous";
      bp.bayes = bp.informed;
    }
  }
  return bp;
}

std::vector<double> state_evolution(const std::function<double(double)>& f, double Delta, double alpha, double q0,
                                    int iterations, const BayesConfig& config) {
  check_channel("state_evolution: ", f, Delta, q0);
  config.validate();
  if (iterations < 0 || iterations > 10000) fail("state_evolution: ", "iterations", iterations, "must be in [0, 10000]");
  const Channel ch{f, Delta, alpha, config};
  std::vector<double> q{q0};
  for (int t = 0; t < iterations; ++t) q.push_back(ch.F(q.back(), 0));
  return q;
}

double bayes_asymptote_gap(double df2, double Delta, double alpha) {
  const std::string where = "bayes_asymptote_gap: ";
  if (!(df2 > 0) || !std::isfinite(df2)) fail(where, "mean_df2", df2, "must be > 0 and finite");
  if (!(Delta > 0) || !std::isfinite(Delta)) fail(where, "Delta", Delta, "must be > 0 and finite");
  if (!(alpha > 0) || !std::isfinite(alpha)) fail(where, "alpha", alpha, "must be > 0 and finite");
  return Delta / (alpha * df2);
}

double gaussian_channel_m(double lambda, double Delta, double q) {
  return lambda * lambda / (Delta + lambda * lambda * (1.0 - q));
}

double gaussian_channel_overlap(double lambda, double Delta, double alpha) {
  const double l2 = lambda * lambda, b = l2 * (1.0 + alpha) + Delta;
  // Smaller root of l2 q^2 - b q + alpha l2 = 0, written without cancellation.
  return 2.0 * alpha * l2 / (b + std::sqrt(b * b - 4.0 * alpha * l2 * l2));
}

Estimate bayes_threshold(const std::function<double(double)>& f, double Delta, const BayesConfig& config) {
  const OutputIntegrals m1 = output_integrals(f, Delta, kSmallQ, config, 0);
  const OutputIntegrals m2 = output_integrals(f, Delta, 2 * kSmallQ, config, 0);
  const double a1 = kSmallQ / m1.m.value, a2 = 2 * kSmallQ / m2.m.value;
  const double e1 = a1 * m1.m.error / m1.m.value, e2 = a2 * m2.m.error / m2.m.value;
  return {2 * a1 - a2, 2 * e1 + e2 + std::abs(a1 - a2)};
}

Estimate oracle_risk(const std::vector<double>& lambdas, const std::vector<Estimate>& q, const std::vector<Estimate>& mu,
                     Estimate var_sigma) {
  if (lambdas.size() != q.size())
    throw std::invalid_argument("oracle_risk: q has " + std::to_string(q.size()) + " values (must equal lambdas: " +
                                std::to_string(lambdas.size()) + ")");
  double captured = 0, captured_err = 0, fact = 1;
  for (std::size_t j = 1; j < mu.size(); ++j) {
    fact *= double(j);
    captured += mu[j].value * mu[j].value / fact;
    captured_err += 2 * std::abs(mu[j].value) * mu[j].error / fact;
  }
  const double tail = std::max(0.0, var_sigma.value - captured);
  const int J = int(mu.size());  // first index not in mu
  Estimate r;
  for (std::size_t k = 0; k < lambdas.size(); ++k) {
    const double qk = std::clamp(q[k].value, 0.0, 1.0), l2 = lambdas[k] * lambdas[k];
    double s = 0, ds = 0, fj = 1, qj = 1;
    for (std::size_t j = 1; j < mu.size(); ++j) {
      fj *= double(j);
      ds += mu[j].value * mu[j].value * double(j) * qj / fj;  // d/dq of -(1 - q^j): j q^(j-1)
      qj *= qk;
      s += mu[j].value * mu[j].value * (1.0 - qj) / fj;
    }
    const double lo = 1.0 - std::pow(qk, J);
    r.value += l2 * (s + tail * 0.5 * (1.0 + lo));
    r.error += l2 * (0.5 * tail * (1.0 - lo) + ds * q[k].error + captured_err + var_sigma.error);
  }
  return r;
}

BayesCurves bayes_curves(const ModelConfig& model, const std::vector<double>& alphas, int directions,
                         const BayesConfig& config, int threads) {
  model.validate();
  config.validate();
  const std::string where = "bayes_curves: ";
  if (!(model.noise > 0)) fail(where, "noise", model.noise, "must be > 0: the oracle channel needs Delta > 0");
  for (double a : alphas)
    if (!(a > 0) || !std::isfinite(a)) fail(where, "alpha", a, "must be > 0 and finite");
  const std::vector<double> lam = model.lambdas();
  if (directions < 1 || directions > int(lam.size()))
    fail(where, "directions", directions, "must be in [1, p = " + std::to_string(lam.size()) + "]");
  const Activation sigma = make_activation(model.activation);
  const ActivationSummary summary = analyse(sigma);
  BayesConfig cfg = config;
  cfg.kinks.insert(cfg.kinks.end(), sigma.kinks.begin(), sigma.kinks.end());
  cfg.even = sigma.even;
  BayesCurves out;
  out.alphas = alphas;
  out.directions.resize(directions);
  const int na = int(alphas.size()), jobs = directions * na;
  for (int k = 0; k < directions; ++k) {
    out.directions[k].k = k + 1;
    out.directions[k].lambda = lam[k];
    out.directions[k].points.resize(na);
  }
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  const int workers = std::max(1, std::min(jobs, threads > 0 ? threads : hw));
  parallel_for(jobs, workers, [&](int job) {
    const int k = job / na, a = job % na;
    const double l = lam[k];
    const std::function<double(double)> f = [&sigma, l](double z) { return l * sigma.value(z); };
    out.directions[k].points[a] = bayes_point(f, model.noise, alphas[a], cfg);
  });
  for (int a = 0; a < na; ++a) {
    std::vector<Estimate> q(lam.size(), Estimate{0.0, 0.0});
    for (int k = 0; k < directions; ++k) q[k] = out.directions[k].points[a].bayes.q;
    out.risk_oracle.push_back(oracle_risk(lam, q, summary.mu, summary.variance));
  }
  if (directions < int(lam.size()))
    out.note = "risk_oracle takes q = 0 for directions " + std::to_string(directions + 1) + ".." +
               std::to_string(lam.size()) + " (not computed): an upper bound";
  return out;
}

}  // namespace hmi::theory

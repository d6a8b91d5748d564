#include "estimators/amp.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "theory/mesh.hpp"
#include "theory/numerics.hpp"

namespace hmi::est {
namespace {

constexpr double kZMax = 12.0;  // z = omega + sqrt(V) u reaches past 9 when omega is in its tail
constexpr double kCut = 9.5;    // prior factors beyond 9.5 sd of omega (e^-45) are skipped
constexpr std::uint64_t kInitStream = 7;

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] void fail(const std::string& what, double value, const std::string& allowed) {
  throw std::invalid_argument("AmpConfig." + what + " = " + num(value) + " (" + allowed + ")");
}

}  // namespace

int AmpConfig::n() const { return int(std::llround(alpha * d)); }

void AmpConfig::validate(int p) const {
  if (d < 10 || d > 50000) fail("d", d, "must be in [10, 50000]");
  if (!(alpha > 0) || !std::isfinite(alpha)) fail("alpha", alpha, "must be > 0 and finite");
  if (double(n()) * d > 6e7) fail("alpha", alpha, "n d must be <= 6e7 (the data are held in memory: 480 MB)");
  if (n() < 1) fail("alpha", alpha, "alpha d must round to >= 1 sample");
  if (k < 1 || k > p) fail("k", k, "must be in [1, p = " + std::to_string(p) + "]");
  if (iterations < 1 || iterations > 1000) fail("iterations", iterations, "must be in [1, 1000]");
  if (!(q0 >= 0 && q0 < 1)) fail("q0", q0, "must be in [0, 1)");
  if (!std::isfinite(denoiser_noise) || denoiser_noise == 0) fail("denoiser_noise", denoiser_noise, "must be > 0, or < 0 for the model's Delta");
  if (nodes_per_panel < 2 || nodes_per_panel > 64) fail("nodes_per_panel", nodes_per_panel, "must be in [2, 64]");
  if (!(panel_resolution > 0 && panel_resolution <= 100)) fail("panel_resolution", panel_resolution, "must be in (0, 100]");
  if (threads < 1 || threads > 256) fail("threads", threads, "must be in [1, 256]");
}

OutputDenoiser::OutputDenoiser(const theory::Activation& sigma, double lambda, double Delta, double V,
                               int nodes_per_panel, double panel_resolution)
    : Delta_(Delta), V_(V) {
  const auto f = [&sigma, lambda](double z) { return lambda * sigma.value(z); };
  const theory::QuadratureRule& rule = theory::gauss_legendre(nodes_per_panel);
  // The panels of the state evolution (theory/bayes.cpp): f varies by <= panel_resolution sqrt(Delta)
  // across a panel, and panels are at most sqrt(V) wide so that N(z; omega, V) is resolved.
  const theory::AdaptedMesh mesh =
      theory::build_adapted_mesh(f, sigma.kinks, panel_resolution * std::sqrt(Delta), rule, -kZMax, kZMax,
                                 std::min(1.0, std::sqrt(V)), std::size_t(1) << 16, "amp output denoiser: ");
  for (std::size_t p = 0; p + 1 < mesh.edges.size(); ++p) {
    const double mid = 0.5 * (mesh.edges[p] + mesh.edges[p + 1]), half = 0.5 * (mesh.edges[p + 1] - mesh.edges[p]);
    for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
      z_.push_back(mid + half * rule.nodes[i]);
      w_.push_back(std::log(half * rule.weights[i]));
      f_.push_back(f(z_.back()));
    }
  }
}

// Z(omega) = Int dz N(z; omega, V) N(y; f(z), Delta); d/d omega of N(z; omega, V) is (z - omega)/V
// times it and the second derivative ((z - omega)^2 - V)/V^2 times it. Exponents are summed
// relative to their maximum (a y far from f's values must not underflow every term).
void OutputDenoiser::operator()(double y, double omega, double& g, double& dg) const {
  const double sV = std::sqrt(V_);
  const std::size_t lo = std::size_t(std::lower_bound(z_.begin(), z_.end(), omega - kCut * sV) - z_.begin());
  const std::size_t hi = std::size_t(std::upper_bound(z_.begin(), z_.end(), omega + kCut * sV) - z_.begin());
  g = dg = 0;
  if (lo >= hi) return;
  double emax = -std::numeric_limits<double>::infinity();
  const double i2V = 0.5 / V_, i2D = 0.5 / Delta_;
  for (std::size_t i = lo; i < hi; ++i) {
    const double u = z_[i] - omega, r = y - f_[i];
    emax = std::max(emax, w_[i] - u * u * i2V - r * r * i2D);
  }
  double Z = 0, Z1 = 0, Z2 = 0;
  for (std::size_t i = lo; i < hi; ++i) {
    const double u = z_[i] - omega, r = y - f_[i];
    const double e = std::exp(w_[i] - u * u * i2V - r * r * i2D - emax);
    Z += e;
    Z1 += e * u;
    Z2 += e * u * u;
  }
  const double m1 = Z1 / Z, m2 = Z2 / Z;  // E[u | y], E[u^2 | y] under the tilted measure
  g = m1 / V_;
  dg = (m2 - V_) / (V_ * V_) - g * g;
}

AmpResult run_amp(const Teacher& t, const AmpConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  cfg.validate(t.p);
  if (cfg.d != t.d) fail("d", cfg.d, "must equal the teacher's d = " + std::to_string(t.d));
  if (!(t.noise > 0)) throw std::invalid_argument("run_amp: noise = " + num(t.noise) + " (must be > 0: the oracle channel)");
  const int d = cfg.d, n = cfg.n(), k = cfg.k - 1, p = t.p;
  const double Delta = cfg.denoiser_noise > 0 ? cfg.denoiser_noise : t.noise;
  std::vector<double> X(std::size_t(n) * d), Z(std::size_t(n) * p), y(n);
  generate_inputs(t, 0, n, X.data(), cfg.threads);
  labels(t, 0, n, X.data(), Z.data(), y.data());
  // The oracle channel: subtract the other directions' exact contributions.
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < p; ++j)
      if (j != k) y[i] -= t.lambda[j] * t.sigma.value(Z[std::size_t(i) * p + j]);

  const double sd = std::sqrt(double(d));
  std::vector<double> wstar(d), w(d), xi(d);
  for (int j = 0; j < d; ++j) wstar[j] = sd * t.W(j, k);
  fill_gaussian_row(t.seed, kInitStream, std::uint64_t(cfg.k), d, xi.data());
  double v;
  if (cfg.q0 > 0) {
    // w_hat = E[w | r], r = w* + xi / sqrt(q_hat0), q_hat0 = q0 / (1 - q0): overlap and self-overlap q0.
    const double qh = cfg.q0 / (1 - cfg.q0);
    for (int j = 0; j < d; ++j) w[j] = cfg.q0 * (wstar[j] + xi[j] / std::sqrt(qh));
    v = 1 - cfg.q0;
  } else {
    for (int j = 0; j < d; ++j) w[j] = xi[j] / sd;
    v = 1;
  }

  AmpResult res;
  res.n = n;
  res.status = "ok";
  std::vector<double> gprev(n, 0.0), g(n), dg(n), omega(n), atg(d);
  const double alpha = double(n) / d;
  for (int it = 0;; ++it) {
    double ov = 0, so = 0, ws = 0;
    for (int j = 0; j < d; ++j) {
      ov += w[j] * wstar[j];
      so += w[j] * w[j];
      ws += wstar[j] * wstar[j];
    }
    res.trajectory.push_back({it, ov / d, so / d, ov / std::sqrt(so * ws), v});
    if (!std::isfinite(ov) || !std::isfinite(so)) {
      res.status = "non_finite";
      break;
    }
    if (it == cfg.iterations) break;
    const OutputDenoiser den(t.sigma, t.lambda[k], Delta, v, cfg.nodes_per_panel, cfg.panel_resolution);
    // omega = A w_hat - V g_prev (the Onsager term), then g_out per sample.
    theory::parallel_for(cfg.threads, cfg.threads, [&](int job) {
      for (int i = job; i < n; i += cfg.threads) {
        const double* x = X.data() + std::size_t(i) * d;
        double s = 0;
        for (int j = 0; j < d; ++j) s += x[j] * w[j];
        omega[i] = s / sd - v * gprev[i];
        den(y[i], omega[i], g[i], dg[i]);
      }
    });
    double mdg = 0, mg2 = 0;
    for (int i = 0; i < n; ++i) {
      mdg -= dg[i];
      mg2 += g[i] * g[i];
    }
    mdg /= n;
    mg2 /= n;
    // E[-dg] = E[g^2] at the Nishimori point; from a random start (even f, g ~ 0) the sample mean
    // of -dg can come out <= 0, and then the always-positive mean of g^2 stands in for it.
    if (!(mdg > 0)) mdg = mg2;
    const double tau = 1.0 / (alpha * mdg);  // 1 / sum_i A_ij^2 (-dg_i), A_ij^2 ~ 1/d
    if (!(tau > 0) || !std::isfinite(tau)) {  // E[-dg] = E[g^2] > 0 only on average
      res.status = "non_finite";
      break;
    }
    std::fill(atg.begin(), atg.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      const double* x = X.data() + std::size_t(i) * d;
      const double gi = g[i] / sd;
      for (int j = 0; j < d; ++j) atg[j] += x[j] * gi;
    }
    // Gaussian prior N(0, 1): posterior mean r / (1 + tau), variance tau / (1 + tau).
    for (int j = 0; j < d; ++j) w[j] = (w[j] + tau * atg[j]) / (1 + tau);
    v = tau / (1 + tau);
    gprev = g;
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace hmi::est

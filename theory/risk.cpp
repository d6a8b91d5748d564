#include "theory/risk.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace hmi::theory {
namespace {

constexpr int kHermiteOrder = 60;  // Hermite coefficients kept for Cov(sigma(z), sigma(s))
constexpr int kKappaNodes = 100;   // 2-D Gauss-Hermite rule for kappa (exact for degree < 200)

// E[sigma(z) h_j(z)] with the orthonormal Hermite functions h_j = He_j / sqrt(j!) (stable
// recurrence h_{j+1} = (z h_j - sqrt(j) h_{j-1}) / sqrt(j+1)); w_j = that squared = mu_j^2/j!.
double orthonormal_hermite(int j, double z) {
  double hm = 0, h = 1;
  for (int i = 0; i < j; ++i) {
    const double next = (z * h - std::sqrt(double(i)) * hm) / std::sqrt(double(i + 1));
    hm = h;
    h = next;
  }
  return h;
}

}  // namespace

ReadoutCalculus::ReadoutCalculus(const Activation& sigma, int linear_term) : sigma_(sigma) {
  for (int j = 0; j <= kHermiteOrder; ++j) {
    const Estimate c = gaussian_expectation([&](double z) { return sigma.value(z) * orthonormal_hermite(j, z); },
                                            sigma.kinks, 1e-12);
    weight_.push_back(c.value * c.value);
    if (j == 0) mu0_ = c.value;
    if (j == 1) mu1_ = c.value;
  }
  const Estimate m2 = gaussian_expectation([&](double z) { const double s = sigma.value(z); return s * s; }, sigma.kinks);
  var_sigma_ = m2.value - mu0_ * mu0_;
  if (!(var_sigma_ > 0)) throw std::invalid_argument("activation = '" + sigma.name + "' (must have Var sigma > 0)");
  linear_ = linear_term < 0 ? std::abs(mu1_) > 1e-10 * std::sqrt(var_sigma_) : linear_term > 0;
  he2_ = sigma.name == "he2";
}

double ReadoutCalculus::covariance(double c) const {
  // sum_{j>=1} w_j c^j, with the tail beyond order J (mass Var sigma - sum_{j<=J} w_j, exact
  // by Parseval) placed at order J+1: its error is below tail * |c|^(J+1).
  double s = 0, cj = 1, mass = 0;
  for (int j = 1; j <= kHermiteOrder; ++j) {
    cj *= c;
    s += weight_[j] * cj;
    mass += weight_[j];
  }
  return s + std::max(0.0, var_sigma_ - mass) * cj * c;
}

double ReadoutCalculus::explained(double q) const {
  q = std::clamp(q, 0.0, 1.0);
  if (he2_) return q * q;  // rho = q exactly (mu_2^2/2! = Var sigma = 1, no other orders)
  const double c = std::sqrt(q), cov = covariance(c);
  double r2;
  if (!linear_) {
    r2 = cov * cov / (var_sigma_ * var_sigma_);
  } else {
    // Features (sigma(s) - mu_0, s): Sigma = [[V, mu1], [mu1, 1]], b = (cov, mu1 c).
    const double V = var_sigma_, det = V - mu1_ * mu1_;
    const double b1 = cov, b2 = mu1_ * c;
    r2 = det > 1e-14 * V ? (b1 * b1 - 2 * mu1_ * b1 * b2 + V * b2 * b2) / det / V : b2 * b2 / V;  // sigma linear: one feature
  }
  return std::clamp(r2, 0.0, 1.0);
}

double ReadoutCalculus::heteroscedastic(double q) const {
  q = std::clamp(q, 0.0, 1.0);
  if (he2_) return 8 * q * (1 - q);  // closed form, theory/RISK.md
  if (q == 0) return 0;               // features independent of the target
  const auto& rule = gauss_hermite(kKappaNodes);
  const double c = std::sqrt(q), r = std::sqrt(1 - q);
  const double V = var_sigma_, cov = covariance(c);
  // Regression coefficients of t = sigma(z) - mu0 on the centred features (one or two).
  double b_f, b_s = 0, i11, i12 = 0, i22 = 0;  // beta and Sigma^-1
  if (!linear_ || V - mu1_ * mu1_ <= 1e-14 * V) {
    b_f = cov / V;
    i11 = 1 / V;
  } else {
    const double det = V - mu1_ * mu1_;
    i11 = 1 / det;
    i12 = -mu1_ / det;
    i22 = V / det;
    b_f = i11 * cov + i12 * mu1_ * c;
    b_s = i12 * cov + i22 * mu1_ * c;
  }
  const int dim = linear_ ? 2 : 1;
  double eu2 = 0, eu2q = 0;
  for (int a = 0; a < kKappaNodes; ++a) {
    const double s = rule.nodes[a], f = sigma_.value(s) - mu0_;
    const double quad = linear_ ? i11 * f * f + 2 * i12 * f * s + i22 * s * s : i11 * f * f;
    for (int b = 0; b < kKappaNodes; ++b) {
      const double w = rule.weights[a] * rule.weights[b];
      const double u = sigma_.value(c * s + r * rule.nodes[b]) - mu0_ - b_f * f - b_s * s;
      eu2 += w * u * u;
      eu2q += w * u * u * quad;
    }
  }
  return std::max(0.0, eu2q - dim * eu2);
}

RiskTerms risk_from_overlaps(const std::vector<double>& lambda, const std::vector<double>& q, int width,
                             double readout_samples, double noise, const ReadoutCalculus& rc) {
  if (width < 1) throw std::invalid_argument("width = " + std::to_string(width) + " (must be >= 1)");
  if (!(readout_samples >= 0)) throw std::invalid_argument("readout_samples = " + format_number(readout_samples) + " (must be >= 0)");
  if (!(noise >= 0)) throw std::invalid_argument("noise = " + format_number(noise) + " (must be >= 0)");
  RiskTerms r;
  const double V = rc.variance();
  double kappa = 0;
  for (std::size_t k = 0; k < lambda.size(); ++k) {
    const double l2 = lambda[k] * lambda[k];
    if (int(k) >= width) {
      r.unlearned += l2 * V;
      continue;
    }
    const double qk = k < q.size() ? q[k] : 0.0;
    if (!(qk >= 0 && qk <= 1)) throw std::invalid_argument("q_" + std::to_string(k + 1) + " = " + format_number(qk) + " (must be in [0, 1])");
    r.learned += l2 * V * (1 - rc.explained(qk));
    if (readout_samples > 0) kappa += l2 * rc.heteroscedastic(qk);  // 2-D quadrature: only when needed
  }
  r.parameters = 1 + width * rc.features_per_direction();
  if (readout_samples > 0) r.variance = (r.parameters * (noise + r.bias()) + kappa) / readout_samples;
  return r;
}

void RiskConfig::validate(int p) const {
  if (width < 0 || width > 100000) throw std::invalid_argument("width = " + std::to_string(width) + " (must be in [0, 100000]; 0 = p)");
  if (d < 0 || d > 50000) throw std::invalid_argument("d = " + std::to_string(d) + " (must be in [0, 50000]; 0 = no readout variance)");
  if (linear_term < -1 || linear_term > 1)
    throw std::invalid_argument("linear_term = " + std::to_string(linear_term) + " (must be -1 (auto), 0 or 1)");
  (void)p;
}

RiskPrediction risk_from_spectral(const ModelConfig& model, SpectralPrediction spectral, const RiskConfig& cfg) {
  model.validate();
  const int p = model.num_directions();
  cfg.validate(p);
  RiskPrediction out;
  out.width = cfg.width > 0 ? cfg.width : p;
  const int K = std::min(p, out.width);
  if (int(spectral.directions.size()) < K)
    throw std::invalid_argument("spectral directions = " + std::to_string(spectral.directions.size()) +
                                " (must be >= min(p, width) = " + std::to_string(K) + ")");
  out.spectral = std::move(spectral);
  const Activation sigma = make_activation(model.activation);
  const ReadoutCalculus rc(sigma, cfg.linear_term);
  out.linear_term = rc.linear_term();
  const std::vector<double> lam = model.lambdas();
  for (double l : lam) out.target_variance += l * l * rc.variance();
  out.note = "overlaps from " + out.spectral.note + "; readout variance " +
             (cfg.d > 0 ? "asymptotic least squares (sandwich), n_r = " +
                              (cfg.readout_samples ? std::to_string(cfg.readout_samples) : std::string("alpha d"))
                        : std::string("omitted (d = 0: infinite readout sample)"));
  if (!sigma.even) out.note += "; sigma not even: overlaps assumed sign-aligned";
  for (const auto& pt : out.spectral.curve) {
    RiskPoint rp;
    rp.alpha = pt.alpha;
    for (int k = 0; k < K; ++k) rp.overlap.push_back(std::clamp(pt.overlap[k].value, 0.0, 1.0));
    const double nr = cfg.d > 0 ? (cfg.readout_samples ? double(cfg.readout_samples) : std::round(pt.alpha * cfg.d)) : 0.0;
    rp.terms = risk_from_overlaps(lam, rp.overlap, out.width, nr, model.noise, rc);
    // Numerical error: |dR/dq_k| err_k summed (the overlaps share one Monte Carlo sample, so
    // their errors are not independent: the sum is the conservative choice).
    double err = 0;
    for (int k = 0; k < K; ++k) {
      const double qk = rp.overlap[k], e = pt.overlap[k].error;
      if (!(e > 0)) continue;
      const double h = std::max(1e-6, std::min(e, 1e-3));
      const double lo = std::max(0.0, qk - h), hi = std::min(1.0, qk + h);
      const double slope = hi > lo ? (rc.explained(hi) - rc.explained(lo)) / (hi - lo) : 0.0;
      err += lam[k] * lam[k] * rc.variance() * std::abs(slope) * e;
    }
    rp.risk = {rp.terms.total(), err};
    out.curve.push_back(rp);
  }
  return out;
}

RiskPrediction predict_risk(const ModelConfig& model, const std::vector<double>& alphas, const RiskConfig& cfg,
                            Method method, TheoryOptions opt) {
  model.validate();
  const int p = model.num_directions();
  cfg.validate(p);
  opt.max_directions = std::min(p, cfg.width > 0 ? cfg.width : p);
  return risk_from_spectral(model, predict_spectral(model, alphas, method, opt), cfg);
}

double asymptotic_risk_exponent(double gamma) {
  return gamma > 0.5 ? -(1.0 - 1.0 / (2.0 * gamma)) : std::numeric_limits<double>::quiet_NaN();
}

ExponentFit fit_log_slope(const std::vector<double>& x, const std::vector<double>& y, double lo, double hi) {
  if (x.size() != y.size()) throw std::invalid_argument("fit_log_slope: x and y sizes differ");
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  std::vector<std::pair<double, double>> pts;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] < lo || x[i] > hi || !(x[i] > 0) || !(y[i] > 0)) continue;
    const double a = std::log(x[i]), b = std::log(y[i]);
    pts.emplace_back(a, b);
    sx += a; sy += b; sxx += a * a; sxy += a * b;
    ++n;
  }
  ExponentFit f;
  f.points = n;
  if (n < 2) {
    f.slope = f.intercept = f.rms_residual = std::numeric_limits<double>::quiet_NaN();
    return f;
  }
  const double den = n * sxx - sx * sx;
  f.slope = (n * sxy - sx * sy) / den;
  f.intercept = (sy - f.slope * sx) / n;
  double r2 = 0;
  for (auto [a, b] : pts) r2 += (b - f.intercept - f.slope * a) * (b - f.intercept - f.slope * a);
  f.rms_residual = std::sqrt(r2 / n);
  return f;
}

std::vector<RiskPoint> leading_order_bias_curve(const ModelConfig& model, double alpha_lo, double alpha_hi, int per_decade) {
  model.validate();
  if (!(alpha_lo > 0) || !(alpha_hi > alpha_lo))
    throw std::invalid_argument("alpha range = [" + std::to_string(alpha_lo) + ", " + std::to_string(alpha_hi) +
                                "] (must satisfy 0 < alpha_lo < alpha_hi)");
  if (per_decade < 1 || per_decade > 1000)
    throw std::invalid_argument("per_decade = " + std::to_string(per_decade) + " (must be in [1, 1000])");
  const Activation sigma = make_activation(model.activation);
  const ActivationSummary a = analyse(sigma);
  const ReadoutCalculus rc(sigma);
  const std::vector<double> lam = model.lambdas();
  double sum_l2 = 0;
  for (double l : lam) sum_l2 += l * l;
  // Theory A with T = identity: theta_k = lambda_k mu_2, Var T = sum lambda^2 Var sigma + Delta.
  const double var_T = sum_l2 * a.variance.value + model.noise;
  const int steps = int(std::ceil(per_decade * std::log10(alpha_hi / alpha_lo)));
  std::vector<RiskPoint> out;
  std::vector<double> q(lam.size());  // reused: p may be ~1e6 (the overlaps are not stored per point)
  for (int i = 0; i <= steps; ++i) {
    RiskPoint rp;
    rp.alpha = alpha_lo * std::pow(alpha_hi / alpha_lo, double(i) / steps);
    for (std::size_t k = 0; k < lam.size(); ++k) {
      const double th = lam[k] * a.mu2();
      q[k] = std::max(0.0, 1.0 - var_T / (rp.alpha * th * th));
    }
    rp.terms = risk_from_overlaps(lam, q, int(lam.size()), 0.0, model.noise, rc);
    rp.risk = {rp.terms.total(), 0.0};
    out.push_back(rp);
  }
  return out;
}

}  // namespace hmi::theory

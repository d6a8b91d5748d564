#include "theory/activation.hpp"

#include "theory/model.hpp"  // brief_text

#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace hmi::theory {

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names{"he2", "relu", "abs", "tanh", "he4", "quadratic-relu"};
  return names;
}

namespace {

Activation hermite_series(const std::string& spec, const std::string& list) {
  std::vector<double> c;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || !std::isfinite(v))
      throw std::invalid_argument("activation = '" + brief_text(spec, 1 << 20) +
                                  "' (hermite coefficients must be finite numbers separated by commas)");
    c.push_back(v);
  }
  if (c.empty() || c.size() > 13)
    throw std::invalid_argument("activation = '" + brief_text(spec, 1 << 20) + "' (hermite list needs 1 to 13 coefficients)");
  bool even = true;
  for (std::size_t j = 1; j < c.size(); j += 2) even = even && c[j] == 0.0;
  // sigma = sum_j c_j/j! He_j ; sigma' = sum_{j>=1} c_j/(j-1)! He_{j-1}.
  auto value = [c](double z) {
    double s = 0, fact = 1;
    for (std::size_t j = 0; j < c.size(); ++j) {
      if (j > 0) fact *= double(j);
      s += c[j] / fact * hermite_he(int(j), z);
    }
    return s;
  };
  auto deriv = [c](double z) {
    double s = 0, fact = 1;
    for (std::size_t j = 1; j < c.size(); ++j) {
      if (j > 1) fact *= double(j - 1);
      s += c[j] / fact * hermite_he(int(j) - 1, z);
    }
    return s;
  };
  return {spec, value, deriv, {}, even};
}

}  // namespace

Activation make_activation(const std::string& spec) {
  const double r2 = std::numbers::sqrt2, r24 = std::sqrt(24.0);
  if (spec == "he2") return {spec, [=](double z) { return (z * z - 1) / r2; }, [=](double z) { return 2 * z / r2; }, {}, true};
  if (spec == "relu") return {spec, [](double z) { return z > 0 ? z : 0.0; }, [](double z) { return z > 0 ? 1.0 : 0.0; }, {0.0}, false};
  if (spec == "abs") return {spec, [](double z) { return std::abs(z); }, [](double z) { return z > 0 ? 1.0 : -1.0; }, {0.0}, true};
  if (spec == "tanh")
    return {spec, [](double z) { return std::tanh(z); }, [](double z) { const double t = std::tanh(z); return 1 - t * t; }, {}, false};
  if (spec == "he4")
    return {spec, [=](double z) { const double q = z * z; return (q * q - 6 * q + 3) / r24; },
            [=](double z) { return (4 * z * z * z - 12 * z) / r24; }, {}, true};
  if (spec == "quadratic-relu")
    return {spec, [](double z) { return z > 0 ? z * z : 0.0; }, [](double z) { return z > 0 ? 2 * z : 0.0; }, {0.0}, false};
  if (spec.rfind("hermite:", 0) == 0) return hermite_series(spec, spec.substr(8));
  std::string allowed;
  for (const auto& n : activation_names()) allowed += n + "|";
  throw std::invalid_argument("activation = '" + brief_text(spec, 1 << 20) + "' (must be one of " + allowed + "hermite:c0,c1,...)");
}

ActivationSummary analyse(const Activation& sigma) {
  ActivationSummary out;
  for (int j = 0; j <= 8; ++j)
    out.mu.push_back(gaussian_expectation([&](double z) { return sigma.value(z) * hermite_he(j, z); }, sigma.kinks));
  const Estimate m1 = out.mu[0];
  const Estimate m2 = gaussian_expectation([&](double z) { const double s = sigma.value(z); return s * s; }, sigma.kinks);
  out.variance = {m2.value - m1.value * m1.value, m2.error + 2 * std::abs(m1.value) * m1.error};
  out.mean_dsigma_sq = gaussian_expectation([&](double z) { const double s = sigma.derivative(z); return s * s; }, sigma.kinks);
  // beta*: the first power of sigma whose correlation with He_2 is non-zero. "Zero" means
  // below 1e-9 relative to sqrt(E[sigma^(2 beta)]) sqrt(E[He_2^2]) (Cauchy-Schwarz bound on
  // |E[sigma^beta He_2]|; smooth integrand, unlike |sigma|^beta), far above quadrature error.
  for (int beta = 1; beta <= 4 && out.beta_star == 0; ++beta) {
    const auto c = gaussian_expectation([&](double z) { return std::pow(sigma.value(z), beta) * (z * z - 1); }, sigma.kinks);
    const auto m2b = gaussian_expectation([&](double z) { return std::pow(sigma.value(z), 2 * beta); }, sigma.kinks);
    if (std::abs(c.value) > 1e-9 * std::sqrt(2.0 * std::max(m2b.value, 1e-300))) out.beta_star = beta;
  }
  return out;
}

}  // namespace hmi::theory

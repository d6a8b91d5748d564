#pragma once
// Activation calculus (THEORY.md section 1).
// mu_j = E[sigma(z) He_j(z)], so sigma = sum_j mu_j / j! He_j; Var sigma = sum_{j>=1} mu_j^2/j!;
// E[sigma'^2] = sum_{j>=1} mu_j^2/(j-1)!; beta* = min{beta : E[sigma^beta (z^2-1)] != 0}.
#include <functional>
#include <string>
#include <vector>

#include "theory/numerics.hpp"

namespace hmi::theory {

/// A shared activation sigma with its derivative and the points where it is not smooth.
struct Activation {
  std::string name;
  std::function<double(double)> value;
  std::function<double(double)> derivative;
  std::vector<double> kinks;  ///< where sigma or sigma' jump (quadrature splits there)
  bool even = false;          ///< sigma(-z) = sigma(z): directions decouple in Theory B
};

/// Names accepted by make_activation (besides "hermite:c0,c1,...").
const std::vector<std::string>& activation_names();

/// Built-in activation by name: he2 (default), relu, abs, tanh, he4, quadratic-relu
/// (max(z,0)^2), or "hermite:c0,c1,...,cJ", the user's Hermite series sigma = sum_j c_j/j! He_j
/// (so c_j = mu_j). Throws std::invalid_argument naming the value and what is allowed.
Activation make_activation(const std::string& spec);

/// What the spectral theory needs to know about sigma, each with its quadrature error.
struct ActivationSummary {
  std::vector<Estimate> mu;  ///< mu_0 .. mu_8
  Estimate variance;         ///< Var sigma(z)
  Estimate mean_dsigma_sq;   ///< E[sigma'(z)^2]
  int beta_star = 0;         ///< 1..4, or 0 when E[sigma^b (z^2-1)] vanishes for every b <= 4
  double mu2() const { return mu.at(2).value; }
};

ActivationSummary analyse(const Activation& sigma);

}  // namespace hmi::theory

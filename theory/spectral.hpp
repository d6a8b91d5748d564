#pragma once
// Predictions for the centred spectral estimator M = (1/n) sum_i (T(y_i) - mean T) x_i x_i^T
// (THEORY.md sections 2-4). Conventions: alpha = n/d; eigenvalues are those of the centred M;
// overlaps are squared, q_k = <v, w_k>^2; directions are 1-based in output.
//
// Theory A (leading order, BBP): theta_k = E[T (z_k^2 - 1)], s^2 = Var T / alpha,
//   outlier theta_k + s^2/theta_k and overlap 1 - s^2/theta_k^2 for |theta_k| > s; edge 2 s.
// Theory B (exact proportional limit, bounded T; non-even sigma in its p x p form on the
// quadrature law, docs/theory-b.md section 6, reporting all p directions): the Lu-Li / Mondelli-Montanari
//   equations of section 4, applied to the *centred* preprocessing T' = T - E[T]. Centring is
//   itself a preprocessing: M has exactly the law of D built with T', so the exact theory of
//   M uses T' (not "the spectrum of D shifted by mean T", which ignores that the sample
//   covariance in mean(T) * (1/n) sum x x^T is not the identity).
//
// Expectations over (T(y), z_k) for bounded T: by default a deterministic quadrature of their
// law (theory/theory_b.hpp, docs/theory-b.md) computed on two grids, each number carrying the
// difference of the two as its error; or (TheoryOptions.theory_method = montecarlo, and where
// the quadrature does not apply: Delta = 0, T = square) by Monte Carlo on a fixed seed, each
// number carrying a standard error from 8 interleaved batches (error of the full-sample
// estimate = spread of the batch estimates / sqrt(8)). For T = identity Theory A is exact in closed form
// (theta_k = lambda_k mu_2, Var T = sum lambda_k^2 Var sigma + Delta) up to quadrature error.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "theory/activation.hpp"
#include "theory/model.hpp"
#include "theory/numerics.hpp"

namespace hmi::theory {

enum class Method { automatic, leading, exact };
Method parse_method(const std::string& s);  ///< "auto" | "leading" | "exact"
std::string to_string(Method m);

/// How the expectations over (T(y), z_k) are computed for a non-identity T.
enum class TheoryMethod { quadrature, montecarlo };
TheoryMethod parse_theory_method(const std::string& s);  ///< "quadrature" | "montecarlo"
std::string to_string(TheoryMethod m);

struct TheoryOptions {
  TheoryMethod theory_method = TheoryMethod::quadrature;  ///< falls back to Monte Carlo where quadrature does not apply
  int refine = 0;       ///< quadrature grids: refine and refine + 1 (each +1 halves every step); in [-3, 3]
  int threads = 0;      ///< worker threads (0 = hardware concurrency); results do not depend on it
  std::uint64_t mc_samples = 1u << 20;  ///< Monte Carlo sample of (T(y), z_k) (theory seed below)
  std::uint64_t mc_seed = 20260205;     ///< fixed, independent of the model seed
  int max_directions = 64;              ///< directions for which curves are computed
  bool error_bars = true;               ///< batch standard errors (doubles the cost; off for plotting)
  void validate() const;
};

/// theta_k is resolved when it lies more than this many error bars from 0; otherwise its sign
/// and size, hence alpha_k, are not determined by the numerics (Monte Carlo or quadrature).
inline constexpr double kThetaResolution = 3.0;

struct DirectionPrediction {
  int k = 0;
  double lambda = 0;
  Estimate theta;            ///< E[T(y) (z_k^2 - 1)]
  Estimate alpha_threshold;  ///< where direction k's outlier appears (inf if never, or unresolved)
  /// "resolved" (finite alpha_threshold), "never" (theta resolved, no outlier at any alpha), or
  /// "unresolved" (|theta| <= kThetaResolution x its error: alpha_threshold is {inf, inf}, not
  /// a number, and threshold_reason says why).
  std::string threshold_status = "resolved";
  std::string threshold_reason;
};

struct CurvePoint {
  double alpha = 0;
  Estimate bulk_edge;        ///< top edge of the bulk of centred M
  Estimate bulk_edge_lower;  ///< bottom edge
  std::vector<std::optional<Estimate>> outlier;  ///< nu_k, or none below threshold
  std::vector<Estimate> overlap;                 ///< q_k
};

struct SpectralPrediction {
  Method method = Method::leading;  ///< what was actually used
  std::string method_reason;        ///< why that method (requested, or what auto found)
  ActivationSummary activation;
  double mean_T = 0;        ///< E[T(y)] (the centring constant)
  double mean_T_error = 0;  ///< its numerical error (quadrature)
  std::string theory_method;  ///< "closed form" (identity T), "quadrature" or "montecarlo"
  Estimate var_T;           ///< Var T(y)
  std::vector<DirectionPrediction> directions;
  std::vector<CurvePoint> curve;
  double numerical_error = 0;  ///< largest error bar among all reported numbers
  std::string note;            ///< why a method was chosen, caveats
};

/// Throws std::invalid_argument on invalid config/alphas, or when `exact` is asked for a
/// model it does not cover (unbounded T or non-even sigma).
SpectralPrediction predict_spectral(const ModelConfig& model, const std::vector<double>& alphas,
                                    Method method = Method::automatic, const TheoryOptions& opt = {});

/// Theory B bulk edge psi(lambda_bar) for the *un-centred* preprocessing whose law is the
/// empirical law of `t_values` (e.g. {1.0} for T = 1, whose edge is Marchenko-Pastur's
/// (1 + alpha^(-1/2))^2). Exposed for the closed-form checks.
double exact_bulk_edge(const std::vector<double>& t_values, double alpha);

/// sigma(-z) = -sigma(z) (checked at 64 points to 1e-14; a zero function is not odd here).
bool odd_activation(const Activation& sigma);

/// True when Theory B applies: bounded T (clip) and even sigma.
bool exact_theory_applies(const ModelConfig& model);

}  // namespace hmi::theory

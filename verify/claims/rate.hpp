#pragma once
// Claim C5 (rate optimality of the spectral thresholds) as pure comparisons, shared by the test
// suite (verify/test_c5_rate_optimality.cpp, test_c8_beta_star_two.cpp) and `hmi reproduce`
// (app/experiments_information.cpp). Tolerances and their reasons are in rate.cpp.
#include <string>
#include <vector>

#include "reports/report.hpp"
#include "theory/rate.hpp"
#include "verify/claims/spectral.hpp"

namespace hmi::verify {

// ---- theory side: exponents and the ratio's limit ---------------------------------------

/// What a rate sequence is compared with.
struct RateExpectation {
  double exponent = 0;          ///< law of alpha_k(spectral) and alpha_k(oracle): k^exponent
  theory::Estimate ratio_limit; ///< lim_k alpha_k(spectral) / alpha_k(oracle)
};

/// Where and how tightly: slopes fitted over k in [k_lo, k_hi]; the ratio compared at every k
/// there. Margins are the modelling allowances on top of 3 x the numerical error (rate.cpp).
struct RateWindow {
  double k_lo = 100, k_hi = 1000;
  double slope_margin = 0.01;  ///< absolute, on each fitted exponent
  double ratio_margin = 0.01;  ///< relative, on the ratio
  bool leading = false;        ///< compare Theory A (alpha_leading) instead of alpha_spectral
};

/// Adds to `r`: the fitted exponents of the spectral and oracle thresholds against
/// `expect.exponent`, and alpha_spectral / alpha_oracle at each k of the window against the
/// limit (label prefix `name`). Returns whether all of them passed.
bool check_rate(reports::ClaimReport& r, const std::string& name, const theory::RateSequence& seq,
                const RateExpectation& expect, const RateWindow& w);

/// The weak-signal oracle law alpha_c ~ Delta / (mu2 lambda_k)^2 (beta* = 1) or
/// 2 Delta^2 / (kappa lambda_k^2)^2 (beta* = 2), times `factor`, at each k of the window,
/// relative tolerance `margin` + 3 x the quadrature error.
bool check_oracle_law(reports::ClaimReport& r, const std::string& name, const theory::ModelConfig& model,
                      const theory::RateSequence& seq, double factor, const RateWindow& w, double margin);

/// JSON of a sequence (k, lambda, thresholds with errors, ratios) for reports and figures.
nlohmann::json rate_json(const theory::RateSequence& seq);

// ---- simulation side: the bracket around alpha_k --------------------------------------------

/// Bracket rule: direction k has no outlier at alpha <= kBelow alpha_k and has one at alpha >=
/// kAbove alpha_k (why 2 and not 1.5: rate.cpp).
inline constexpr double kBelow = 0.65;
inline constexpr double kAbove = 2.0;
/// Overlap at which a direction counts as found (below threshold q_k stays at 0.015-0.075 at d = 1000).
inline constexpr double kFound = 0.1;

/// Runs of one direction k at one alpha, with the predicted (true) bulk edge there.
struct BracketCell {
  int k = 0;
  double alpha = 0;
  double edge = 0;  ///< predicted top bulk edge (Theory B) at alpha: the counting cut is edge (1 + 2 d^-2/3)
  std::vector<SpectralRun> runs;
};

/// Eigenvalues above edge (1 + 2 d^(-2/3)) (compare_spectrum's margin).
int count_outliers(const SpectralRun& run, double edge);

/// Direction k has an outlier in `run`: at least k eigenvalues beyond the cut, and a top
/// eigenvector aligned with w_k (q_k >= kFound).
bool has_outlier(const SpectralRun& run, double edge, int k);

/// For each cell, with thresholds[k-1] = the prediction's alpha_k. A run has an outlier for
/// direction k when count_outliers >= k and its top eigenvectors reach q_k >= kFound. Where
/// alpha <= kBelow alpha_k the fraction of seeds with one must be < 0.5; where alpha >= kAbove
/// alpha_k it must be > 0.5. Other cells are not compared.
/// alpha_oracle (optional, by k) is recorded with each point (the gap: alpha_oracle < alpha).
reports::ClaimReport compare_bracket(const std::vector<BracketCell>& cells, const std::vector<double>& thresholds,
                                     const std::vector<double>& alpha_oracle = {});

/// The eigenvector side of the bracket, per cell (thresholds[k-1] = alpha_k of the truth):
/// at 1.5 alpha_k <= alpha < 2 alpha_k the mean overlap q_k over seeds must reach kFound (the
/// direction is found: below threshold q_k stays at 0.03-0.05 at d = 1000, a random direction
/// at ~0.01); at alpha >= 2 alpha_k the mean q_k is compared with Theory B's predicted[i] with
/// C2's tolerance 3 sqrt(SE^2 + err^2) + 0.03 sqrt(1000/d). Returns the verdict.
bool check_bracket_overlaps(reports::ClaimReport& r, const std::vector<BracketCell>& cells, const std::vector<double>& thresholds,
                            const std::vector<theory::Estimate>& predicted);

}  // namespace hmi::verify

#pragma once
// Claims C2 (overlap curves) and C3 (spectral structure) as pure comparisons of measured
// runs with a prediction, shared by the test suite (verify/test_spectral_claims.cpp) and by
// `hmi reproduce`. Tolerances and their reasons are documented in spectral.cpp.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "estimators/spectral.hpp"
#include "reports/report.hpp"
#include "theory/model.hpp"
#include "theory/spectral.hpp"

namespace hmi::verify {

struct SpectralRun {
  int d = 0;
  double alpha = 0;
  std::uint64_t seed = 0;
  std::vector<double> eigenvalues;  ///< top K by |value|
  std::vector<double> overlap;      ///< q_k
  std::vector<double> subspace_overlap;
  double smallest = 0;  ///< most negative computed eigenvalue (the true minimum when < 0)
};

/// JSON form of a run (the stored sweep points of `hmi reproduce`).
nlohmann::json run_to_json(const SpectralRun& r);
SpectralRun run_from_json(const nlohmann::json& j);

/// One run of the estimator (threads = 2, top-K eigenpairs).
SpectralRun simulate_once(const theory::ModelConfig& base, int d, double alpha, std::uint64_t seed, int top,
                          int threads = 2);

/// All seeds at one (d, alpha).
struct Cell {
  int d = 0;
  double alpha = 0;
  std::vector<SpectralRun> runs;
};

/// Finite-size allowances (see spectral.cpp for where the constants come from).
/// Overlap allowance at dimension d, for a direction with threshold alpha_k seen at alpha.
double delta_overlap(int d, double alpha, double threshold);
double delta_outlier(int d);
double delta_edge(int d, double edge);

/// Where a direction sits relative to its threshold: compared only well above
/// (alpha >= 1.5 alpha_k) or well below (alpha <= 0.6 alpha_k).
enum class Side { below, near, above };
Side side(double alpha, double threshold);

/// `pred` supplies expected values (its curve must contain every cell's alpha); `ref` fixes
/// which points are compared, so a wrong prediction cannot shrink its own test.
reports::ClaimReport compare_overlaps(const std::vector<Cell>& cells, const theory::SpectralPrediction& pred,
                                      const theory::SpectralPrediction& ref);
reports::ClaimReport compare_spectrum(const std::vector<Cell>& cells, const theory::SpectralPrediction& pred,
                                      const theory::SpectralPrediction& ref);

/// Deliberately wrong predictions every spectral claim is run against: a changed model, and the
/// claims (report claim ids) for which it is a declared blind spot at reachable sizes.
struct WrongModel {
  std::string name;
  std::function<void(theory::ModelConfig&)> change;
  std::vector<std::string> blind_spot_of = {};
  reports::WrongPrediction::Kind kind_for(const std::string& claim) const;
};
const std::vector<WrongModel>& wrong_predictions();

using SpectralCompare = reports::ClaimReport (*)(const std::vector<Cell>&, const theory::SpectralPrediction&,
                                                 const theory::SpectralPrediction&);
/// The claim protocol for C2/C3: `compare` against the truth, then against each wrong
/// prediction (name, its prediction) with the same cells, recorded with the declared kind.
/// The test suite and `hmi reproduce` both call this, so they report the claim alike.
reports::ClaimReport judge_spectral(const std::vector<Cell>& cells, const theory::SpectralPrediction& truth,
                                    const std::vector<std::pair<std::string, theory::SpectralPrediction>>& wrong,
                                    SpectralCompare compare);

}  // namespace hmi::verify

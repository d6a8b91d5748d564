#pragma once
// The claim report: what every verification run writes (schema in reports/report_schema.json).
//   {schema_version, claim, title, config, seeds, points: [{x, measured, expected, tolerance,
//    pass, ...}], pass, tolerance_reason, provenance: {git_commit, compiler, build_type, blas,
//    versions, date}}
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hmi::reports {

inline constexpr int kSchemaVersion = 1;

struct Point {
  std::string label;  ///< what is compared, e.g. "q_1 d=1000 alpha=8"
  double x = 0;       ///< the abscissa (alpha, k, d, ...)
  double measured = 0;
  double measured_error = 0;  ///< standard error over seeds
  double expected = 0;
  double tolerance = 0;
  bool pass = false;
};

/// A deliberately wrong prediction, compared with the same measurements as the true one: the
/// evidence that a claim's comparison can fail. `hmi calibrate` counts how often each is
/// rejected over master seeds.
struct WrongPrediction {
  std::string name;
  bool rejected = false;
  /// How the suite treats it: asserted (its test fails unless rejected), a declared blind spot
  /// (a known limit at reachable sizes, recorded and not asserted), or recorded only (neither).
  enum class Kind { asserted, blind_spot, recorded } kind = Kind::asserted;
  int failed_points = -1, points = -1;  ///< of the wrong prediction's own comparison; -1 if none
  std::string rejected_by;              ///< which parts rejected it, when the claim has parts
};

struct ClaimReport {
  std::string claim;  ///< C1..C8
  std::string title;
  nlohmann::json config = nlohmann::json::object();
  std::vector<std::uint64_t> seeds;
  std::vector<Point> points;
  std::string tolerance_reason;
  nlohmann::json extra = nlohmann::json::object();  ///< claim-specific details (fits, brackets)
  std::vector<WrongPrediction> wrong_predictions;  ///< serialised as extra.wrong_predictions

  /// Adds a point; pass = |measured - expected| <= tolerance. Returns that verdict.
  bool check(std::string label, double x, double measured, double measured_error, double expected, double tolerance);
  /// Adds a point whose verdict was decided by the caller (brackets, counts).
  bool record(Point p);
  bool pass() const;
  /// Records a wrong prediction judged by its own comparison (rejected = `bad` fails), with
  /// its failing-point count and, when labels start with a part tag "(a)", the parts that failed.
  const WrongPrediction& reject(std::string name, const ClaimReport& bad,
                                WrongPrediction::Kind kind = WrongPrediction::Kind::asserted);
  /// Records a wrong prediction whose verdict the caller decided (a count, a bracket).
  const WrongPrediction& reject(std::string name, bool rejected, WrongPrediction::Kind kind = WrongPrediction::Kind::asserted);
  /// The asserted wrong predictions that were not rejected (a suite fails on any).
  std::vector<std::string> missed_rejections() const;
  nlohmann::json to_json() const;
  /// The inverse of to_json for the fields above (provenance and schema_version are not kept).
  /// Throws std::invalid_argument naming the field on a malformed report.
  static ClaimReport from_json(const nlohmann::json& j);
};

/// Build and run facts: git commit, compiler, build type, BLAS, library versions, date.
nlohmann::json provenance();

/// Writes text to `path` atomically: a temporary file in the same directory, flushed, then
/// renamed over the target. A crash leaves either the old file or the new one, never half.
void write_atomic(const std::filesystem::path& path, const std::string& text);
void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j);

/// Directory where verification reports go: $HMI_REPORT_DIR or "verify-reports".
std::filesystem::path report_dir();

}  // namespace hmi::reports

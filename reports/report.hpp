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

struct ClaimReport {
  std::string claim;  ///< C1..C8
  std::string title;
  nlohmann::json config = nlohmann::json::object();
  std::vector<std::uint64_t> seeds;
  std::vector<Point> points;
  std::string tolerance_reason;
  nlohmann::json extra = nlohmann::json::object();  ///< claim-specific details (fits, brackets)

  /// Adds a point; pass = |measured - expected| <= tolerance. Returns that verdict.
  bool check(std::string label, double x, double measured, double measured_error, double expected, double tolerance);
  /// Adds a point whose verdict was decided by the caller (brackets, counts).
  bool record(Point p);
  bool pass() const;
  nlohmann::json to_json() const;
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

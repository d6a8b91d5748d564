#pragma once
// `hmi reproduce`: the full reproduction. A run is a list of experiments; each experiment
// plans its sweep points (tasks), the engine runs the tasks with progress and an estimate of
// the time left, writing each finished point atomically to RUN/points/<key>.json (a rerun
// skips finished points), then each experiment assembles its figure data (RUN/data/F*.json)
// and its claims from the points. report.json is written last, labelled complete only when
// every point and figure exists; the renderer (reports/render.py) then draws the figures
// and the HTML page.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/report.hpp"
#include "theory/model.hpp"

namespace hmi::app {

/// One sweep point: a stable key (its file name), a relative cost for the time estimate, and
/// the computation (returns the JSON stored for the point).
struct Task {
  std::string key;
  double cost = 1;
  std::string description;
  std::function<nlohmann::json()> run;
};

/// A point file's state: absent, finished, or present but damaged (recomputed, with a note).
enum class PointState { missing, done, damaged };

class RunContext {
 public:
  RunContext(std::filesystem::path dir, nlohmann::json config, int threads)
      : dir_(std::move(dir)), config_(std::move(config)), threads_(threads) {}
  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  int threads() const { return threads_; }
  /// The run's model (the validated "model" section).
  theory::ModelConfig model() const;
  /// The stored point (after the tasks ran). Throws if missing.
  nlohmann::json point(const std::string& key) const;
  bool has_point(const std::string& key) const;
  /// `why` receives the reason when damaged.
  PointState point_state(const std::string& key, std::string* why = nullptr) const;
  std::filesystem::path point_file(const std::string& key) const;
  void write_point(const std::string& key, const nlohmann::json& j) const;

 private:
  std::filesystem::path dir_;
  nlohmann::json config_;
  int threads_;
};

/// What an experiment produces: figure data per reports/FIGURES.md and claim reports.
struct Assembled {
  std::vector<nlohmann::json> figures;
  std::vector<reports::ClaimReport> claims;
};

struct Experiment {
  std::string name;  ///< the config section it reads ("cascade", "spectrum", ...)
  std::function<std::vector<Task>(const RunContext&)> plan;
  std::function<Assembled(const RunContext&)> assemble;
};

/// Experiments register themselves here (one file each).
std::vector<Experiment>& experiment_registry();
struct RegisterExperiment {
  explicit RegisterExperiment(Experiment e) { experiment_registry().push_back(std::move(e)); }
};

/// Built-in configurations: "quick", "default", "full".
nlohmann::json builtin_config(const std::string& preset);

/// The effective configuration of a run: the preset's with the user's object merged over it
/// (RFC 7386 merge patch: a section set to null is removed, its experiment skipped), then
/// validated: unknown keys, types and ranges. Throws UsageError "field = value (rule)";
/// `source` names the user's file in messages.
nlohmann::json reproduce_config(const std::string& preset, const nlohmann::json& user, const std::string& source);

/// Figure-data helpers.
nlohmann::json series(const std::string& label, const std::string& style, const std::vector<double>& x,
                      const std::vector<double>& y, const std::vector<double>& yerr = {}, int color_index = -1);
std::vector<double> logspace(double lo, double hi, int n);

}  // namespace hmi::app

#pragma once
// Shared command-line plumbing: every experiment flag is also a JSON config key (same name,
// '-' in flags for '_' in keys). A --config file is read first; flags given on the command
// line override it. Values are validated by the configs themselves (field = value (rule)).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "theory/model.hpp"

namespace hmi::app {

/// Invalid input: printed as one line, exit status 2.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// Collects the flags of one subcommand and merges them with a --config file.
class ConfigFlags {
 public:
  explicit ConfigFlags(CLI::App* cmd);
  void add_string(const std::string& key, const std::string& help, const std::string& def);
  void add_int(const std::string& key, const std::string& help, long long def);
  void add_double(const std::string& key, const std::string& help, double def);
  /// Adds the shared model flags (--activation, --p, --gamma, ... --seed).
  void add_model_flags();
  /// After parsing: defaults <- config file <- explicit flags. Unknown or mistyped keys in
  /// the file throw UsageError.
  nlohmann::json merged() const;
  theory::ModelConfig model() const;  ///< validated

 private:
  struct Entry {
    std::string key, kind;
    nlohmann::json def;
    std::string text;
    CLI::Option* opt = nullptr;
  };
  CLI::App* cmd_;
  std::string config_file_;
  std::vector<Entry> entries_;
  void add(const std::string& key, const std::string& kind, const std::string& help, nlohmann::json def);
};

/// Every key some subcommand accepts (a shared config file may carry keys of other commands).
const std::vector<std::string>& known_config_keys();

/// "1,2.5,10" -> numbers; throws UsageError naming `field`.
std::vector<double> parse_number_list(const std::string& field, const std::string& text);

/// Prints JSON to stdout, or writes it atomically to `out` when non-empty.
void emit_json(const nlohmann::json& j, const std::string& out);

/// Numbers in JSON: NaN/Inf become null.
nlohmann::json number_or_null(double v);

using Runner = std::function<int()>;
void register_theory(CLI::App& app, Runner& run);
void register_simulate(CLI::App& app, Runner& run);
void register_verify(CLI::App& app, Runner& run);
void register_reproduce(CLI::App& app, Runner& run);

}  // namespace hmi::app

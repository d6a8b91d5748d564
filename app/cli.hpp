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

/// Invalid input: printed as one line, exit status 2. Control characters of the user's text are
/// made visible ("\x00", theory::printable_text), so a NUL byte cannot cut the message short
/// (what() is a C string) and a newline cannot break the one-line rule.
struct UsageError : std::invalid_argument {
  explicit UsageError(const std::string& what) : std::invalid_argument(theory::printable_text(what)) {}
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
  /// merged() with the file's content given (the parsing part, shared with the fuzz target).
  nlohmann::json merged_with(const nlohmann::json& file, const std::string& source) const;
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
  CLI::Option* config_opt_ = nullptr;
  std::vector<Entry> entries_;
  void add(const std::string& key, const std::string& kind, const std::string& help, nlohmann::json def);
};

/// Every key some subcommand accepts (a shared config file may carry keys of other commands).
const std::vector<std::string>& known_config_keys();

/// Reads a JSON config file for `flag` (e.g. "--config"): must exist, parse, hold an object and
/// nest at most 32 levels (deeper input would only serve to exhaust the stack of a recursive
/// dump). Throws UsageError naming the flag, the file and the problem.
nlohmann::json read_json_config(const std::string& flag, const std::string& path);
/// The parsing part of read_json_config (`path` only names the source in messages).
nlohmann::json parse_json_config(const std::string& flag, const std::string& path, const std::string& text);

/// A JSON value for a one-line message: its dump, shortened to about 60 characters.
std::string brief(const nlohmann::json& v);

/// The validated model of a merged flag/config object (keys of theory::model_config_keys()
/// are read, others ignored). Throws UsageError "field = value (rule)".
theory::ModelConfig model_from_json(const nlohmann::json& merged);

/// The verification suites built next to this executable (<dir of hmi>/verify/test_*),
/// sorted; optionally only those whose name contains `filter`.
std::vector<std::string> verify_suites(const std::string& filter = "");

/// "1,2.5,10" -> numbers; throws UsageError naming `field`.
std::vector<double> parse_number_list(const std::string& field, const std::string& text);

/// A program to run with an argument vector (no shell: no argument is ever parsed as shell text).
struct ProgramRun {
  std::vector<std::string> argv = {};                        ///< argv[0] is the executable's path
  std::vector<std::pair<std::string, std::string>> env = {}; ///< set on top of this process's environment
  std::string log = {};                                      ///< stdout and stderr to this file (empty: inherited)
  std::function<bool()> stop = {};                           ///< polled while it runs: true sends it SIGTERM once
};
/// Runs it and waits. Returns its exit status, 128 + N if killed by signal N, 127 if it cannot start.
int run_program(const ProgramRun& run);

/// Checks, before any work, that `path` (given with `flag`, e.g. "--out") can receive a file:
/// not an existing directory, and its parent an existing directory. Throws UsageError.
void check_output_file(const std::string& flag, const std::string& path);

/// Threads to use by default: the CPUs this process may run on (its affinity mask), or
/// OMP_NUM_THREADS / OPENBLAS_NUM_THREADS when set to a positive integer (the smaller of them).
int default_threads();

/// "20.3 GiB", "512 MiB": for messages.
std::string format_bytes(double bytes);

/// Prints JSON to stdout, or writes it atomically to `out` when non-empty.
void emit_json(const nlohmann::json& j, const std::string& out);

/// A duration for progress lines: "42s", "3m07s", "1h05m".
std::string format_duration(double seconds);

/// Numbers in JSON: NaN/Inf become null.
nlohmann::json number_or_null(double v);

using Runner = std::function<int()>;
void register_theory(CLI::App& app, Runner& run);
void register_simulate(CLI::App& app, Runner& run);
void register_verify(CLI::App& app, Runner& run);
void register_reproduce(CLI::App& app, Runner& run);
void register_calibrate(CLI::App& app, Runner& run);
void register_report(CLI::App& app, Runner& run);

}  // namespace hmi::app

#include "app/cli.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/report.hpp"

extern char** environ;

namespace hmi::app {

const std::vector<std::string>& known_config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = theory::model_config_keys();
    for (const char* extra : {"d", "alpha", "top", "threads", "block", "method", "theory_samples", "width", "learner",
                              "lr", "steps", "init_scale", "readout", "ridge", "test_samples", "batch", "readout_samples",
                              "engine", "blocks", "complement", "tol"})
      k.emplace_back(extra);
    return k;
  }();
  return keys;
}

ConfigFlags::ConfigFlags(CLI::App* cmd) : cmd_(cmd) {
  config_opt_ = cmd_->add_option("--config", config_file_, "JSON file with the same keys as the flags (flags override it)");
}

void ConfigFlags::add(const std::string& key, const std::string& kind, const std::string& help, nlohmann::json def) {
  std::string flag = "--" + key;
  for (auto& c : flag)
    if (c == '_') c = '-';
  // Values are kept as text and converted in merged(), so every message has the same shape.
  entries_.push_back({key, kind, def, "", nullptr});
  const std::size_t idx = entries_.size() - 1;
  auto* opt = cmd_->add_option_function<std::string>(
      flag, [this, idx](const std::string& v) { entries_[idx].text = v; }, help + " (default " + def.dump() + ")");
  opt->type_name(kind == "string" ? "TEXT" : (kind == "int" ? "INT" : "NUM"));
  entries_[idx].opt = opt;
}

void ConfigFlags::add_string(const std::string& key, const std::string& help, const std::string& def) {
  add(key, "string", help, def);
}
void ConfigFlags::add_int(const std::string& key, const std::string& help, long long def) { add(key, "int", help, def); }
void ConfigFlags::add_double(const std::string& key, const std::string& help, double def) { add(key, "double", help, def); }

void ConfigFlags::add_model_flags() {
  const theory::ModelConfig d;
  add_string("activation", "teacher activation: he2|relu|abs|tanh|he4|quadratic-relu|hermite:c0,c1,...", d.activation);
  add_int("p", "number of teacher directions", d.p);
  add_double("gamma", "power-law exponent of the amplitudes lambda_k ~ k^-gamma (> 0)", d.gamma);
  add_string("amplitudes", "normalized|raw|a1,a2,... (an explicit list overrides p and gamma)", d.amplitudes);
  add_string("signs", "signs of the amplitudes: positive|random", d.signs);
  add_double("noise", "label noise variance Delta (>= 0)", d.noise);
  add_string("preprocess", "label preprocessing T: identity|clip:C|square|square-clip:C (min(y^2, C))", d.preprocess);
  add_int("seed", "seed of the teacher and the data (>= 0)", (long long)d.seed);
}

namespace {

std::string flag_of(const std::string& key) {
  std::string f = "--" + key;
  for (auto& c : f)
    if (c == '_') c = '-';
  return f;
}

// Flag text -> JSON number. Whole text only; numbers must be finite (NaN, Inf and overflow
// are refused here, once, for every numeric flag); integers must fit in 64 bits.
nlohmann::json convert(const std::string& key, const std::string& kind, const std::string& text) {
  if (kind == "string") return text;
  const bool blank = text.empty() || std::isspace(static_cast<unsigned char>(text.front()));
  if (kind == "int") {
    errno = 0;
    char* end = nullptr;
    const long long v = blank ? 0 : std::strtoll(text.c_str(), &end, 10);
    if (!blank && end == text.c_str() + text.size()) {
      if (errno != ERANGE) return v;
      throw UsageError(flag_of(key) + " = '" + text + "' (must be an integer in [-2^63, 2^63 - 1])");
    }
    throw UsageError(flag_of(key) + " = '" + text + "' (must be an integer)");
  }
  errno = 0;
  char* end = nullptr;
  const double v = blank ? 0 : std::strtod(text.c_str(), &end);
  const bool whole = !blank && end == text.c_str() + text.size();
  // Underflow to a subnormal is a valid tiny number; underflow to 0 would silently change the
  // value (1e-400 read as 0), and overflow and NaN/Inf are not numbers here.
  if (whole && errno == ERANGE && v == 0)
    throw UsageError(flag_of(key) + " = '" + text + "' (underflows to 0: must be 0 or a finite number of magnitude >= 4.9e-324)");
  if (whole && std::isfinite(v) && !(errno == ERANGE && std::abs(v) > 1)) return v;
  throw UsageError(flag_of(key) + " = '" + text + "' (must be a finite number)");
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "" : ", ") + k;
  return s;
}

bool fits_int64(const nlohmann::json& v) {
  return v.is_number_integer() &&
         !(v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<long long>::max()));
}

}  // namespace

nlohmann::json read_json_config(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path))
    throw UsageError(flag + " = '" + path + "' (cannot be read: must be an existing JSON file)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_json_config(flag, path, text.str());
}

nlohmann::json parse_json_config(const std::string& flag, const std::string& path, const std::string& text) {
  constexpr int kMaxDepth = 32;
  nlohmann::json file;
  // Keys seen in each open object: a key given twice is refused (the parser would keep the
  // last one silently, so the file would not mean what it says).
  std::vector<std::set<std::string>> open_objects;
  using Event = nlohmann::json::parse_event_t;
  try {
    file = nlohmann::json::parse(text, [&](int depth, Event event, nlohmann::json& parsed) {
      if (depth > kMaxDepth)
        throw UsageError(flag + " = '" + path + "' (nested deeper than " + std::to_string(kMaxDepth) +
                         " levels: must be a flat JSON object of config keys)");
      if (event == Event::object_start) open_objects.emplace_back();
      if (event == Event::object_end && !open_objects.empty()) open_objects.pop_back();
      if (event == Event::key && !open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
        throw UsageError(flag + " = '" + path + "' (key '" + theory::brief_text(parsed.get<std::string>()) +
                         "' appears twice in one object: each key must appear once)");
      return true;
    });
  } catch (const nlohmann::json::exception& err) {  // parse errors and number overflow (1e400)
    throw UsageError(flag + " = '" + path + "' (malformed JSON: " + std::string(err.what()) + ")");
  }
  if (!file.is_object()) throw UsageError(flag + " = '" + path + "' (must hold a JSON object)");
  return file;
}

std::string brief(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

nlohmann::json ConfigFlags::merged() const {
  nlohmann::json file = nlohmann::json::object();
  if (config_opt_->count() > 0 && config_file_.empty()) throw UsageError("--config = '' (must name a JSON file)");
  if (!config_file_.empty()) file = read_json_config("--config", config_file_);
  return merged_with(file, config_file_);
}

nlohmann::json ConfigFlags::merged_with(const nlohmann::json& file, const std::string& source) const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& e : entries_) j[e.key] = e.def;
  const auto& known = known_config_keys();
  for (const auto& item : file.items()) {  // not a structured binding: clang < 16 cannot capture one
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    if (it == entries_.end()) {
      std::vector<std::string> mine;
      for (const auto& e : entries_) mine.push_back(e.key);
      const bool elsewhere = std::find(known.begin(), known.end(), key) != known.end();
      // A key of another subcommand is refused too: silently ignoring it would run something
      // other than what the file says.
      throw UsageError("config key '" + theory::brief_text(key) + "' in " + source + " (" +
                       (elsewhere ? "belongs to another hmi subcommand, not " + cmd_->get_name() : std::string("unknown key")) +
                       ": must be one of " + join_keys(mine) + ")");
    }
    const bool ok = (it->kind == "string" && (value.is_string() || (key == "amplitudes" && value.is_array()))) ||
                    (it->kind == "int" && fits_int64(value)) || (it->kind == "double" && value.is_number());
    if (!ok)
      throw UsageError("config key '" + key + "' = " + brief(value) + " (must be " +
                       (it->kind == "string" ? (key == "amplitudes" ? "a string or a list of numbers" : "a string")
                        : it->kind == "int"  ? (value.is_number_integer() ? "an integer in [-2^63, 2^63 - 1]" : "an integer")
                                             : "a number") +
                       ")");
    j[key] = value;
  }
  for (const auto& e : entries_)
    if (e.opt && e.opt->count() > 0) j[e.key] = convert(e.key, e.kind, e.text);
  return j;
}

theory::ModelConfig ConfigFlags::model() const { return model_from_json(merged()); }

theory::ModelConfig model_from_json(const nlohmann::json& j) {
  nlohmann::json m = nlohmann::json::object();
  for (const auto& key : theory::model_config_keys())
    if (j.contains(key)) m[key] = j[key];
  if (m.contains("seed") && m["seed"].is_number_integer() && !m["seed"].is_number_unsigned() &&
      m["seed"].get<long long>() < 0)
    throw UsageError("seed = " + m["seed"].dump() + " (must be an integer >= 0)");
  // p is an int in ModelConfig: range-check the 64-bit value before it is narrowed.
  if (m.contains("p") && m["p"].is_number_integer() &&
      (!fits_int64(m["p"]) || m["p"].get<long long>() < 1 || m["p"].get<long long>() > 100000))
    throw UsageError("p = " + m["p"].dump() + " (must be an integer in [1, 100000])");
  theory::ModelConfig cfg;
  try {
    from_json(m, cfg);
    cfg.validate();
  } catch (const UsageError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  } catch (const nlohmann::json::exception& e) {  // a conversion the strict reader missed
    throw UsageError(std::string("config (") + e.what() + ")");
  }
  return cfg;
}

std::vector<std::string> verify_suites(const std::string& filter) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path dir = (ec ? fs::current_path() : exe.parent_path()) / "verify";
  std::vector<std::string> suites;
  if (fs::is_directory(dir, ec))
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && name.rfind("test_", 0) == 0 &&
          (e.status().permissions() & fs::perms::owner_exec) != fs::perms::none &&
          (filter.empty() || name.find(filter) != std::string::npos))
        suites.push_back(e.path().string());
    }
  std::sort(suites.begin(), suites.end());
  return suites;
}

std::vector<double> parse_number_list(const std::string& field, const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    double v = NAN;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v))
      throw UsageError(field + " = '" + text + "' (must be a comma-separated list of finite numbers)");
    out.push_back(v);
  }
  if (out.empty() || text.back() == ',')
    throw UsageError(field + " = '" + text + "' (must be a comma-separated list of finite numbers)");
  return out;
}

int run_program(const ProgramRun& run) {
  std::vector<char*> args;
  for (const auto& a : run.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The environment: ours, with run.env replacing or adding variables.
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) {
    const std::string var(*e);
    bool replaced = false;
    for (const auto& [k, v] : run.env) replaced = replaced || var.rfind(k + "=", 0) == 0;
    if (!replaced) env_text.push_back(var);
  }
  for (const auto& [k, v] : run.env) env_text.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!run.log.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, run.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) return 127;
  int status = 0;
  bool stopped = false;
  for (;;) {
    const pid_t r = waitpid(pid, &status, run.stop ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return 127;
    if (run.stop && !stopped && run.stop()) {
      kill(pid, SIGTERM);  // the child may not share our terminal's process group (nohup)
      stopped = true;
    }
    if (run.stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void check_output_file(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw UsageError(flag + " = '' (must be a file path)");
  if (fs::is_directory(path, ec))
    throw UsageError(flag + " = '" + theory::brief_text(path) + "' (is a directory: must be a file path)");
  const fs::path parent = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec))
    throw UsageError(flag + " = '" + theory::brief_text(path) + "' (its folder " + theory::brief_text(parent.string()) +
                     " does not exist: must be a file in an existing folder)");
}

int default_threads() {
  int n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n < 1) n = int(std::max(1u, std::thread::hardware_concurrency()));
  for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end == '\0' && x >= 1) n = std::min<int>(n, int(std::min<long>(x, 256)));
  }
  return std::clamp(n, 1, 256);
}

std::string format_bytes(double bytes) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  if (bytes >= 1024.0 * 1024 * 1024) o << bytes / (1024.0 * 1024 * 1024) << " GiB";
  else o << std::setprecision(0) << bytes / (1024.0 * 1024) << " MiB";
  return o.str();
}

void emit_json(const nlohmann::json& j, const std::string& out) {
  if (out.empty())
    std::cout << j.dump(2) << std::endl;
  else
    reports::write_json_atomic(out, j);
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string format_duration(double seconds) {
  std::ostringstream o;
  if (seconds >= 3600)
    o << int(seconds / 3600) << "h" << std::setw(2) << std::setfill('0') << int(seconds / 60) % 60 << "m";
  else if (seconds >= 60)
    o << int(seconds / 60) << "m" << std::setw(2) << std::setfill('0') << int(seconds) % 60 << "s";
  else
    o << int(seconds) << "s";
  return o.str();
}

}  // namespace hmi::app


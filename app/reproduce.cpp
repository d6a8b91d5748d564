// The reproduction engine and the `hmi reproduce` command (see reproduce.hpp).
#include "app/reproduce.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/cli.hpp"
#include "build_info.hpp"
#include "estimators/data.hpp"
#include "numerics/interrupt.hpp"

namespace hmi::app {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<Experiment>& experiment_registry() {
  static std::vector<Experiment> registry;
  return registry;
}

namespace {
// FNV-1a over the point's JSON text without its checksum field: a point file edited or damaged
// by anything but write_point (writes are atomic, so only foreign damage) is recomputed, not
// assembled into a figure with a raw message naming no file. dump() of a parsed point gives the
// written text back (sorted keys, shortest round-trip numbers).
std::string point_checksum(nlohmann::json j) {
  j.erase("checksum");
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : j.dump()) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

theory::ModelConfig RunContext::model() const {
  theory::ModelConfig m;
  from_json(config_.at("model"), m);
  return m;
}

fs::path RunContext::point_file(const std::string& key) const { return dir_ / "points" / (key + ".json"); }

PointState RunContext::point_state(const std::string& key, std::string* why) const {
  std::ifstream in(point_file(key));
  if (!in) return PointState::missing;
  auto damaged = [&](const std::string& reason) {
    if (why) *why = reason;
    return PointState::damaged;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return damaged("not valid JSON");
  }
  if (!j.is_object() || !j.value("complete", false)) return damaged("not marked complete");
  if (!j.contains("key") || j["key"] != key) return damaged("its key is not " + key);
  if (!j.contains("checksum") || j["checksum"] != point_checksum(j)) return damaged("checksum mismatch");
  return PointState::done;
}

nlohmann::json RunContext::point(const std::string& key) const {
  std::string why;
  if (point_state(key, &why) != PointState::done)
    throw std::runtime_error("point file " + point_file(key).string() + " is " + (why.empty() ? "missing" : "damaged (" + why + ")") +
                             ": rerun the same command to recompute it");
  std::ifstream in(point_file(key));
  return nlohmann::json::parse(in);
}

bool RunContext::has_point(const std::string& key) const { return point_state(key) == PointState::done; }

void RunContext::write_point(const std::string& key, const nlohmann::json& j) const {
  nlohmann::json out = j;
  out["complete"] = true;
  out["key"] = key;
  out["checksum"] = point_checksum(out);
  reports::write_json_atomic(point_file(key), out);
}

nlohmann::json series(const std::string& label, const std::string& style, const std::vector<double>& x,
                      const std::vector<double>& y, const std::vector<double>& yerr, int color_index) {
  auto clean = [](const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double d : v) a.push_back(number_or_null(d));
    return a;
  };
  nlohmann::json s = {{"label", label}, {"style", style}, {"x", clean(x)}, {"y", clean(y)}};
  if (!yerr.empty()) s["yerr"] = clean(yerr);
  if (color_index >= 0) s["color_index"] = color_index;
  return s;
}

std::vector<double> logspace(double lo, double hi, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(lo * std::pow(hi / lo, n == 1 ? 0.0 : double(i) / (n - 1)));
  return v;
}

namespace {

// Run folder format: 2 = points carry their key and a checksum (2026-12); a folder of format 1
// is refused with a message rather than half-resumed.
constexpr int kRunFormat = 2;

// Presets. Sizes are chosen for the time budgets of the issue on a 2-core machine:
// quick < 3 min, default < 10 min, full < 1 h.
const char* kDefault = R"({
  "threads": 2,
  "model": {"activation": "he2", "p": 8, "gamma": 1.0, "noise": 0.5, "preprocess": "clip:3", "amplitudes": "normalized"},
  "theory_samples": 1048576,
  "cascade": {"d": 800, "alphas": [1.5, 2.5, 4, 6, 10, 16, 25, 40, 63, 100, 160, 250], "seeds": 3, "top": 24},
  "spectrum": {"d": 1000, "alphas": [3, 20, 100], "bins": 80},
  "thresholds": {"gammas": [0.75, 1.0, 1.5], "p": 8,
                 "measure": {"d": 500, "seeds": 10, "noise": 0.1, "directions": [7, 6, 5], "alpha_max": [75, 120, 270]}},
  "finite_size": {"ds": [250, 500, 1000, 2000], "alphas": [2, 3, 4, 5, 6, 8, 10, 13, 16, 20], "seeds": 2, "direction": 2},
  "risk": {"gammas": [0.75, 1.0, 1.5], "p": 30, "noise": 0.1, "width": 15, "d": 300, "alphas": [10, 25, 50, 100, 200, 400], "seeds": 3, "test_samples": 20000},
  "gd": {"p": 4, "d": 100, "alpha": 50, "width": 4, "lr": 0.05, "steps": 700, "seeds": 3},
  "information": {"gammas": [0.75, 1.0, 1.5], "kmax": 1000, "per_decade": 8, "mc_samples": 262144,
                  "bracket": {"directions": [2, 3], "d": 1000, "seeds": 3}},
  "optimality": {"directions": 4, "alphas": [1.5, 2.5, 4, 6, 10, 16, 25, 40, 63, 100, 160, 250]},
  "suites": {"names": ["test_c6_gd", "test_c7_readout", "test_c8_beta_star_two", "test_c9_optimality"], "master_seed": 1}
})";

nlohmann::json preset_changes(const std::string& preset) {
  if (preset == "quick")
    return nlohmann::json::parse(R"({
      "theory_samples": 262144,
      "cascade": {"d": 300, "alphas": [1.5, 3, 6, 12, 25, 50, 100, 200], "seeds": 2, "top": 20},
      "spectrum": {"d": 400, "alphas": [3, 20, 100], "bins": 50},
      "thresholds": {"measure": {"d": 300, "seeds": 6}},
      "finite_size": {"ds": [250, 500, 1000], "alphas": [2, 3, 5, 8, 13, 20], "seeds": 2, "direction": 2},
      "risk": {"d": 150, "alphas": [10, 30, 100, 300], "seeds": 2},
      "gd": {"steps": 500, "seeds": 2},
      "information": {"kmax": 1000, "per_decade": 6, "bracket": {"directions": [2], "d": 1000, "seeds": 2}},
      "optimality": {"directions": 3, "alphas": [1.5, 3, 6, 12, 25, 50, 100, 200]}
    })");
  if (preset == "full")
    return nlohmann::json::parse(R"({
      "theory_samples": 4194304,
      "cascade": {"d": 2000, "alphas": [1.5, 2, 2.5, 3.2, 4, 5, 6.3, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 80, 100, 130, 160, 200, 250, 320], "seeds": 5, "top": 30},
      "spectrum": {"d": 2000, "alphas": [3, 20, 100], "bins": 120},
      "thresholds": {"measure": {"d": 1000, "seeds": 12}},
      "finite_size": {"ds": [250, 500, 1000, 2000, 4000], "alphas": [2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 25], "seeds": 4, "direction": 2},
      "risk": {"d": 600, "alphas": [10, 17, 25, 40, 63, 100, 160, 250, 400], "seeds": 5},
      "gd": {"d": 200, "seeds": 5}
    })");
  return nlohmann::json::object();
}

// ---- validation of a run configuration ------------------------------------------------------
// Every key of the user's file must exist in the preset (sections one level down; the model
// section is read by the strict model reader), and every field of the known sections is
// range-checked here, before anything is created, so a bad file never starts a run that fails
// (or, worse, misbehaves) half-way. A section set to null is removed: that experiment is skipped.

[[noreturn]] void refuse(const std::string& field, const nlohmann::json& v, const std::string& rule) {
  throw UsageError(field + " = " + brief(v) + " (" + rule + ")");
}

bool int_in(const nlohmann::json& v, long long lo, long long hi) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() <= std::uint64_t(hi) && (lo <= 0 || v.get<std::uint64_t>() >= std::uint64_t(lo));
  const long long x = v.get<long long>();
  return x >= lo && x <= hi;
}


std::string range(long long lo, long long hi) { return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]"; }

// A required integer field of `sec` (named `name`) in [lo, hi].
long long need_int(const nlohmann::json& sec, const std::string& name, const char* key, long long lo, long long hi,
                   bool required = true, long long def = 0) {
  const std::string field = name.empty() ? std::string(key) : name + "." + key;
  if (!sec.contains(key)) {
    if (required) refuse(field, nullptr, "missing: must be an integer in " + range(lo, hi));
    return def;
  }
  if (!int_in(sec[key], lo, hi)) refuse(field, sec[key], "must be an integer in " + range(lo, hi));
  return sec[key].get<long long>();
}

// A required non-empty list of numbers in (lo, hi] (or of integers in [lo, hi] when `integers`).
std::vector<double> need_list(const nlohmann::json& sec, const std::string& name, const char* key, double lo, double hi,
                              bool integers = false) {
  const std::string field = name + "." + key;
  const std::string rule = integers ? "must be a non-empty list of integers in " + range((long long)lo, (long long)hi)
                                    : "must be a non-empty list of numbers in (" + theory::format_number(lo) + ", " + theory::format_number(hi) + "]";
  if (!sec.contains(key) || !sec[key].is_array() || sec[key].empty() || sec[key].size() > 10000)
    refuse(field, sec.contains(key) ? sec[key] : nlohmann::json(nullptr), rule);
  std::vector<double> out;
  for (const auto& v : sec[key]) {
    const bool ok = integers ? int_in(v, (long long)lo, (long long)hi)
                             : v.is_number() && v.get<double>() > lo && v.get<double>() <= hi;
    if (!ok) refuse(field, sec[key], rule);
    out.push_back(v.get<double>());
  }
  return out;
}

// alpha d must give at least two samples at every (d, alpha) of a sweep.
void need_samples(const std::string& name, const std::vector<double>& ds, const std::vector<double>& alphas) {
  const double d = *std::min_element(ds.begin(), ds.end());
  const double a = *std::min_element(alphas.begin(), alphas.end());
  if (std::llround(a * d) < 2)
    refuse(name + ".alphas", a, "alpha * d must give at least 2 samples: alpha >= " + theory::format_number(1.5 / d) + " at d = " + theory::format_number(d));
}

// Sections without rules here (added by an experiment since): every field present in the preset
// must keep its JSON type, integers and numbers that are positive in the preset must stay
// positive (and finite), and lists must stay non-empty lists of such values. Cross-field rules
// (d >= p, ...) are the experiment's own.
void check_like_preset(const std::string& name, const nlohmann::json& s, const nlohmann::json& preset) {
  auto like = [](const nlohmann::json& v, const nlohmann::json& ref) {
    if (ref.is_number_integer()) return v.is_number_integer() && (ref.get<long long>() <= 0 || int_in(v, 1, (1ll << 62)));
    if (ref.is_number()) return v.is_number() && std::isfinite(v.get<double>()) && (ref.get<double>() <= 0 || v.get<double>() > 0);
    return v.type() == ref.type();
  };
  for (const auto& [key, ref] : preset.items()) {
    const std::string field = name + "." + key;
    if (!s.contains(key)) refuse(field, nullptr, "missing: must be like the preset's " + brief(ref));
    const auto& v = s[key];
    bool ok = true;
    if (ref.is_object() && v.is_object()) {
      check_like_preset(field, v, ref);  // nested groups (e.g. information.bracket)
      continue;
    }
    if (ref.is_array() && !ref.empty()) {
      ok = v.is_array() && !v.empty() && v.size() <= 10000;
      if (ok)
        for (const auto& x : v) ok = ok && like(x, ref[0]);
    } else {
      ok = like(v, ref);
    }
    if (!ok) refuse(field, v, "must be like the preset's " + brief(ref) + ": same type, positive where it is positive");
  }
}

std::string keys_of(const nlohmann::json& obj) {
  std::string s;
  for (const auto& [k, v] : obj.items()) s += (s.empty() ? "" : ", ") + (obj.is_array() ? v.get<std::string>() : k);
  return s;
}

// Unknown keys at any depth of a section (sections may hold groups, e.g. information.bracket).
void check_section_keys(const std::string& name, const nlohmann::json& base, const nlohmann::json& user,
                        const std::string& source) {
  for (const auto& [sub, v] : user.items()) {
    if (!base.contains(sub))
      throw UsageError("config key '" + name + "." + sub + "' in " + source + " (unknown key: allowed are " +
                       keys_of(base) + ")");
    if (base[sub].is_object() && v.is_object()) check_section_keys(name + "." + sub, base[sub], v, source);
  }
}

void check_user_keys(const nlohmann::json& base, const nlohmann::json& user, const std::string& source) {
  for (const auto& [key, value] : user.items()) {
    if (!base.contains(key))
      throw UsageError("config key '" + key + "' in " + source + " (unknown key: allowed are " + keys_of(base) + ")");
    if (key == "model") {
      if (!value.is_object()) continue;  // reported below with the rule
      const auto& known = theory::model_config_keys();
      for (const auto& [sub, v] : value.items())
        if (std::find(known.begin(), known.end(), sub) == known.end())
          throw UsageError("config key 'model." + sub + "' in " + source + " (unknown key: allowed are " +
                           keys_of(nlohmann::json(known)) + ")");
    } else if (base[key].is_object() && value.is_object()) {
      check_section_keys(key, base[key], value, source);
    }
  }
}

void validate_config(const nlohmann::json& c, const std::string& preset) {
  if (c.value("preset", nlohmann::json()) != preset)
    refuse("preset", c.value("preset", nlohmann::json()), "set by --quick/--full: must be \"" + preset + "\" or absent");
  need_int(c, "", "threads", 1, 256);
  need_int(c, "", "theory_samples", 4096, 1 << 26);
  if (!c.contains("model") || !c["model"].is_object())
    refuse("model", c.value("model", nlohmann::json()), "must be an object of model keys");
  theory::ModelConfig m;
  try {
    m = model_from_json(c["model"]);
  } catch (const UsageError& e) {
    throw UsageError(std::string("model.") + e.what());
  }
  const int P = m.num_directions();
  // Every sweep has p <= d <= 20000: a larger p leaves no valid d (say so here, not as a
  // contradictory range on the first section's d).
  if (P > 20000) refuse("model.p", P, "must be <= 20000 in hmi reproduce: every sweep needs d >= p and d <= 20000");
  const nlohmann::json preset_config = builtin_config(preset);
  bool any = false;
  for (const auto& [name, s] : c.items()) any = any || (preset_config.contains(name) && preset_config[name].is_object() && name != "model");
  if (!any) {
    std::string names;
    for (const auto& e : experiment_registry()) names += (names.empty() ? "" : ", ") + e.name;
    throw UsageError("config = every experiment section null (nothing would run: must keep at least one of " + names + ")");
  }
  for (const auto& [name, s] : c.items()) {
    if (name == "model" || !preset_config.contains(name) || !preset_config[name].is_object()) continue;
    if (!s.is_object()) refuse(name, s, "must be an object (or null to skip this experiment)");
    if (name == "risk") {  // F4 / C4: its own p, gamma and noise over the run's model
      const long long p = need_int(s, name, "p", 1, 100000);
      const long long d = need_int(s, name, "d", p, 20000);
      need_samples(name, {double(d)}, need_list(s, name, "alphas", 0, 1e5));
      need_list(s, name, "gammas", 0, 20);
      if (!s.contains("noise") || !s["noise"].is_number() || !(s["noise"].get<double>() >= 0) ||
          !std::isfinite(s["noise"].get<double>()))
        refuse(name + ".noise", s.value("noise", nlohmann::json()), "must be a finite number >= 0");
      need_int(s, name, "width", 1, d);
      need_int(s, name, "seeds", 2, 100);
      need_int(s, name, "test_samples", 1000, 1000000000);
      continue;
    }
    if (name == "gd") {  // F6: plain GD on its own small model
      const long long p = need_int(s, name, "p", 1, 100000);
      const long long d = need_int(s, name, "d", p, 20000);
      if (!s.contains("alpha") || !s["alpha"].is_number() || !(s["alpha"].get<double>() > 0) || s["alpha"].get<double>() > 1e5)
        refuse(name + ".alpha", s.value("alpha", nlohmann::json()), "must be a number in (0, 100000]");
      need_samples(name, {double(d)}, {s["alpha"].get<double>()});
      need_int(s, name, "width", 1, std::min<long long>(d, 10000));
      if (!s.contains("lr") || !s["lr"].is_number() || !(s["lr"].get<double>() > 0) || !std::isfinite(s["lr"].get<double>()))
        refuse(name + ".lr", s.value("lr", nlohmann::json()), "must be a finite number > 0");
      need_int(s, name, "steps", 1, 100000000);
      need_int(s, name, "seeds", 1, 100);
      continue;
    }
    if (!(name == "cascade" || name == "spectrum" || name == "thresholds" || name == "finite_size")) {
      check_like_preset(name, s, preset_config[name]);  // a section this file has no rules for yet
      continue;
    }
    if (name == "thresholds") {
      const auto gammas = need_list(s, name, "gammas", 0, 20);
      const long long p = need_int(s, name, "p", 1, 1000, false, 8);
      if (s.contains("measure")) {  // C1: optional (null or absent: F3 shows the theory only)
        const std::string mn = name + ".measure";
        const auto& ms = s["measure"];
        if (!ms.is_object()) refuse(mn, ms, "must be an object (or null to skip the C1 measurement)");
        need_int(ms, mn, "d", std::max<long long>(p, 8), 20000);
        need_int(ms, mn, "seeds", 2, 100);  // the claim needs an SE over seeds
        if (!ms.contains("noise") || !ms["noise"].is_number() || !(ms["noise"].get<double>() >= 0) ||
            !std::isfinite(ms["noise"].get<double>()))
          refuse(mn + ".noise", ms.value("noise", nlohmann::json()), "must be a finite number >= 0");
        const auto K = need_list(ms, mn, "directions", 3, std::min<long long>(p, 100), true);
        const auto amax = need_list(ms, mn, "alpha_max", 1.2, 1e5);
        if (K.size() != gammas.size())
          refuse(mn + ".directions", ms["directions"], "must have one entry per thresholds.gammas (" + std::to_string(gammas.size()) + ")");
        if (amax.size() != gammas.size())
          refuse(mn + ".alpha_max", ms["alpha_max"], "must have one entry per thresholds.gammas (" + std::to_string(gammas.size()) + ")");
      }
      continue;
    }
    const auto alphas = need_list(s, name, "alphas", 0, 1e5);
    std::vector<double> ds;
    if (name == "finite_size") {
      ds = need_list(s, name, "ds", P, 20000, true);
      need_int(s, name, "direction", 1, P, false);
    } else {
      ds = {double(need_int(s, name, "d", P, 20000))};
    }
    need_samples(name, ds, alphas);
    if (name == "cascade" || name == "finite_size") need_int(s, name, "seeds", 2, 100);  // claims need an SE over seeds
    if (name == "cascade") need_int(s, name, "top", 1, 20000);
    if (name == "spectrum") need_int(s, name, "bins", 1, 10000, false);
  }
}

volatile std::sig_atomic_t g_interrupted = 0;
// First signal: stop at the next safe point (between points). A second one kills at once (the
// default action): every file is written by rename, so that too leaves nothing half-written.
void on_signal(int sig) {
  g_interrupted = 1;
  request_interrupt();  // inner loops stop within about a second (numerics/interrupt.hpp)
  std::signal(sig, SIG_DFL);
}

// Temporaries of write_atomic (".<name>.tmp.<pid>.<random>") left by a killed run.
bool is_temporary(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.size() > 1 && n[0] == '.' && n.find(".tmp.") != std::string::npos;
}

bool is_bookkeeping(const fs::path& p) { return is_temporary(p) || p.filename() == ".lock"; }

void remove_stale_temporaries(const fs::path& dir) {
  for (const fs::path& sub : {dir, dir / "points", dir / "data"}) {
    std::error_code ec;
    if (!fs::is_directory(sub, ec)) continue;
    for (const auto& e : fs::directory_iterator(sub, ec))
      if (e.is_regular_file() && is_temporary(e.path())) fs::remove(e.path(), ec);
  }
}

// One writer per run folder: an exclusive lock held for the life of the process.
void lock_run_folder(const fs::path& dir) {
  const fs::path lock = dir / ".lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + lock.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
    throw std::runtime_error("--out = '" + dir.string() + "' is in use by another hmi reproduce: wait for it or choose another folder");
}

}  // namespace

nlohmann::json builtin_config(const std::string& preset) {
  nlohmann::json c = nlohmann::json::parse(kDefault);
  c.merge_patch(preset_changes(preset));
  c["preset"] = preset;
  c["threads"] = default_threads();  // not part of a run's identity: results do not depend on it
  return c;
}

nlohmann::json reproduce_config(const std::string& preset, const nlohmann::json& user, const std::string& source) {
  nlohmann::json config = builtin_config(preset);
  if (!user.is_object()) throw UsageError("--config = '" + source + "' (must hold a JSON object)");
  check_user_keys(config, user, source);
  config.merge_patch(user);
  validate_config(config, preset);
  return config;
}

void register_reproduce(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("reproduce", "Full reproduction: sweeps, figures, claims report and HTML page");
  struct Opts {
    bool quick = false, full = false, no_render = false, print_config = false;
    std::string config, out;
    int threads = 0;
    CLI::Option* threads_opt = nullptr;
    CLI::Option* config_opt = nullptr;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--quick", o->quick, "small sizes, same figures (CI smoke test, < 3 min)");
  cmd->add_flag("--full", o->full, "publication scale (larger d, more seeds; < 1 h here)");
  o->config_opt = cmd->add_option("--config", o->config,
                  "JSON file merged over the built-in configuration (see --print-config; a section set to null is skipped)");
  cmd->add_option("--out", o->out,
                  "run folder (default runs/<preset>); an interrupted run (Ctrl-C: exit 130) resumes there");
  o->threads_opt = cmd->add_option("--threads", o->threads, "threads in [1, 256] (overrides the configuration)");
  cmd->add_flag("--no-render", o->no_render, "skip figures and HTML (data and report only)");
  cmd->add_flag("--print-config", o->print_config, "print the effective configuration and exit");
  cmd->callback([&run, o] {
    run = [o] {
      if (o->quick && o->full) throw UsageError("--quick and --full (choose at most one)");
      const std::string preset = o->quick ? "quick" : (o->full ? "full" : "default");
      nlohmann::json user = nlohmann::json::object();
      if (o->config_opt->count() > 0 && o->config.empty()) throw UsageError("--config = '' (must name a JSON file)");
      if (!o->config.empty()) user = read_json_config("--config", o->config);
      if (o->threads_opt->count() > 0) {
        if (o->threads < 1 || o->threads > 256)
          throw UsageError("--threads = " + std::to_string(o->threads) + " (must be an integer in [1, 256])");
        user["threads"] = o->threads;
      }
      const nlohmann::json config = reproduce_config(preset, user, o->config.empty() ? "--threads" : o->config);
      const fs::path dir = o->out.empty() ? fs::path("runs") / preset : fs::path(o->out);
      // Plan every experiment before anything is created: an experiment's own checks (e.g.
      // information.bracket.d) refuse bad input here, so a refused run leaves no folder behind,
      // and --print-config accepts exactly what a run accepts.
      RunContext ctx(dir, config, config["threads"]);
      std::vector<Task> tasks;
      for (const auto& e : experiment_registry())
        if (config.contains(e.name))
          for (auto& t : e.plan(ctx)) tasks.push_back(std::move(t));
      if (o->print_config) {
        std::cout << config.dump(2) << std::endl;
        return 0;
      }
      // A folder holding another configuration's run is not touched: nothing the user kept is lost.
      const fs::path cfg_file = dir / "config.json";
      // What the folder records: the configuration and the data generator its points were drawn with.
      nlohmann::json on_disk = config;
      on_disk["data_generator"] = est::kGeneratorId;
      on_disk["run_format"] = kRunFormat;
      if (fs::exists(dir) && !fs::is_directory(dir))
        throw UsageError("--out = '" + dir.string() + "' (is a file: must be a run folder or a new path)");
      if (fs::exists(cfg_file)) {
        std::ifstream in(cfg_file);
        nlohmann::json old;
        try {
          old = nlohmann::json::parse(in);
        } catch (const std::exception&) {
          throw UsageError("--out = '" + dir.string() + "' (holds an unreadable config.json: choose another folder)");
        }
        // Folders from before the generator was recorded were drawn with Box-Muller.
        const std::string generator = old.value("data_generator", std::string("philox4x32-10 box-muller"));
        if (generator != est::kGeneratorId)
          throw UsageError("--out = '" + dir.string() + "' (holds a run made with the data generator '" + generator +
                           "', this build uses '" + est::kGeneratorId +
                           "': its points cannot be mixed; choose another folder or delete it)");
        // The thread count is not part of a run's identity: results do not depend on it.
        nlohmann::json old_id = old, new_id = on_disk;
        old_id.erase("threads");
        new_id.erase("threads");
        if (old.value("run_format", 1) != kRunFormat)
          throw UsageError("--out = '" + dir.string() + "' (holds a run of an older format (" +
                           std::to_string(old.value("run_format", 1)) + ", this build writes " + std::to_string(kRunFormat) +
                           "): its points cannot be resumed; choose another folder or delete it)");
        if (old_id != new_id)
          throw UsageError("--out = '" + dir.string() +
                           "' (holds a run with a different configuration: choose another folder or delete it)");
      } else if (fs::exists(dir)) {
        for (const auto& e : fs::directory_iterator(dir))
          if (!is_bookkeeping(e.path()))
            throw UsageError("--out = '" + dir.string() + "' (exists and is not a run folder: choose another folder)");
      }
      fs::create_directories(dir);
      lock_run_folder(dir);
      remove_stale_temporaries(dir);  // safe under the lock: no other writer
      if (!fs::exists(cfg_file)) reports::write_json_atomic(cfg_file, on_disk);  // first: from here on the folder is a run folder
      fs::create_directories(dir / "points");

      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      const auto t0 = Clock::now();
      double total = 0, done_cost = 0, skipped_cost = 0;
      int skipped = 0;
      for (const auto& t : tasks) {
        total += t.cost;
        std::string why;
        const PointState st = ctx.point_state(t.key, &why);
        if (st == PointState::done) {
          skipped_cost += t.cost;
          ++skipped;
        } else if (st == PointState::damaged) {
          std::cerr << "[reproduce] point file " << ctx.point_file(t.key).string() << " is damaged (" << why
                    << "): recomputing it" << std::endl;
        }
      }
      std::cerr << "[reproduce] " << preset << " run in " << dir.string() << ": " << tasks.size() << " points"
                << (skipped ? " (" + std::to_string(skipped) + " already done, skipped)" : std::string()) << std::endl;
      const auto t_tasks = Clock::now();
      std::size_t index = 0;
      for (const auto& t : tasks) {
        ++index;
        if (ctx.has_point(t.key)) continue;
        if (g_interrupted) {
          std::cerr << "[reproduce] interrupted: finished points are kept; rerun the same command to resume" << std::endl;
          return 130;
        }
        try {
          ctx.write_point(t.key, t.run());
        } catch (const Interrupted&) {  // a signal inside the point: it is dropped, the finished ones kept
          std::cerr << "[reproduce] interrupted: finished points are kept; rerun the same command to resume" << std::endl;
          return 130;
        }
        done_cost += t.cost;
        const double el = std::chrono::duration<double>(Clock::now() - t_tasks).count();
        const double left = (total - skipped_cost - done_cost) * el / done_cost;
        std::cerr << "[reproduce] " << index << "/" << tasks.size() << " " << t.description << "  elapsed "
                  << format_duration(el) << ", about " << format_duration(left) << " left" << std::endl;
      }

      // Assemble figures and claims from the stored points.
      nlohmann::json claims = nlohmann::json::array(), figures = nlohmann::json::array();
      int failed = 0;
      for (const auto& e : experiment_registry()) {
        if (!config.contains(e.name)) continue;
        if (g_interrupted) {
          std::cerr << "[reproduce] interrupted: every point is kept; rerun the same command to finish" << std::endl;
          return 130;
        }
        std::cerr << "[reproduce] assembling " << e.name << std::endl;
        Assembled a;
        try {
          a = e.assemble(ctx);
        } catch (const Interrupted&) {
          std::cerr << "[reproduce] interrupted: every point is kept; rerun the same command to finish" << std::endl;
          return 130;
        }
        for (const auto& f : a.figures) {
          reports::write_json_atomic(dir / "data" / (f["id"].get<std::string>() + ".json"), f);
          figures.push_back(f["id"]);
        }
        for (const auto& c : a.claims) {
          claims.push_back(c.to_json());
          failed += !c.pass();
        }
      }
      std::string command = "hmi reproduce";
      if (preset != "default") command += " --" + preset;
      if (!o->config.empty()) command += " --config " + o->config;
      command += " --out " + dir.string();
      const nlohmann::json report = {{"schema_version", reports::kSchemaVersion},
                                     {"command", command},
                                     {"preset", preset},
                                     {"provenance", reports::provenance()},
                                     {"config", config},
                                     {"claims", claims},
                                     {"figures", figures},
                                     {"wall_time_s", std::chrono::duration<double>(Clock::now() - t0).count()},
                                     {"complete", true}};
      reports::write_json_atomic(dir / "report.json", report);
      std::cerr << "[reproduce] report: " << (dir / "report.json").string() << std::endl;
      if (!o->no_render) {
        // An argument vector, never a shell: the folder name is the user's text (quotes, $(...),
        // newlines); made absolute so that a name starting with '-' is not read as an option.
        const std::string script = std::string(build::source_dir) + "/reports/render.py";
        const int rc = run_program({.argv = {"/usr/bin/python3", script, fs::absolute(dir).string(), "--quiet"}});
        if (rc != 0)
          throw std::runtime_error("rendering failed (reports/render.py exit " + std::to_string(rc) +
                                   "); the data and report.json are complete");
        std::cerr << "[reproduce] open " << (fs::absolute(dir) / "index.html").string() << std::endl;
      }
      std::cout << claims.size() - failed << " passed, " << failed << " failed" << std::endl;
      return failed == 0 ? 0 : 1;
    };
  });
}

}  // namespace hmi::app

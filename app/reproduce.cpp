// The reproduction engine and the `hmi reproduce` command (see reproduce.hpp).
#include "app/reproduce.hpp"

#include <unistd.h>

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

namespace hmi::app {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<Experiment>& experiment_registry() {
  static std::vector<Experiment> registry;
  return registry;
}

nlohmann::json RunContext::point(const std::string& key) const {
  std::ifstream in(dir_ / "points" / (key + ".json"));
  if (!in) throw std::runtime_error("point " + key + " is missing from " + dir_.string());
  return nlohmann::json::parse(in);
}

bool RunContext::has_point(const std::string& key) const {
  std::ifstream in(dir_ / "points" / (key + ".json"));
  if (!in) return false;
  try {
    const auto j = nlohmann::json::parse(in);
    return j.is_object() && j.value("complete", false);
  } catch (const std::exception&) {
    return false;  // unreadable: recompute (writes are atomic, so this means foreign damage)
  }
}

void RunContext::write_point(const std::string& key, const nlohmann::json& j) const {
  nlohmann::json out = j;
  out["complete"] = true;
  reports::write_json_atomic(dir_ / "points" / (key + ".json"), out);
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

// Presets. Sizes are chosen for the time budgets of the issue on a 2-core machine:
// quick < 3 min, default < 10 min, full < 1 h.
const char* kDefault = R"({
  "threads": 2,
  "model": {"activation": "he2", "p": 8, "gamma": 1.0, "noise": 0.5, "preprocess": "clip:3", "amplitudes": "normalized"},
  "theory_samples": 1048576,
  "cascade": {"d": 800, "alphas": [1.5, 2.5, 4, 6, 10, 16, 25, 40, 63, 100, 160, 250], "seeds": 3, "top": 24},
  "spectrum": {"d": 1000, "alphas": [3, 20, 100], "bins": 80},
  "thresholds": {"gammas": [0.75, 1.0, 1.5], "p": 8},
  "finite_size": {"ds": [250, 500, 1000, 2000], "alphas": [2, 3, 4, 5, 6, 8, 10, 13, 16, 20], "seeds": 2, "direction": 2}
})";

nlohmann::json preset_changes(const std::string& preset) {
  if (preset == "quick")
    return nlohmann::json::parse(R"({
      "theory_samples": 262144,
      "cascade": {"d": 300, "alphas": [1.5, 3, 6, 12, 25, 50, 100, 200], "seeds": 2, "top": 20},
      "spectrum": {"d": 400, "alphas": [3, 20, 100], "bins": 50},
      "finite_size": {"ds": [250, 500, 1000], "alphas": [2, 3, 5, 8, 13, 20], "seeds": 2, "direction": 2}
    })");
  if (preset == "full")
    return nlohmann::json::parse(R"({
      "theory_samples": 4194304,
      "cascade": {"d": 2000, "alphas": [1.5, 2, 2.5, 3.2, 4, 5, 6.3, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 80, 100, 130, 160, 200, 250, 320], "seeds": 5, "top": 30},
      "spectrum": {"d": 2000, "alphas": [3, 20, 100], "bins": 120},
      "finite_size": {"ds": [250, 500, 1000, 2000, 4000], "alphas": [2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 25], "seeds": 4, "direction": 2}
    })");
  return nlohmann::json::object();
}

void validate_config(const nlohmann::json& c) {
  auto need = [&](bool ok, const std::string& field, const nlohmann::json& v, const std::string& rule) {
    if (!ok) throw UsageError(field + " = " + v.dump() + " (" + rule + ")");
  };
  need(c.contains("threads") && c["threads"].is_number_integer() && c["threads"] >= 1 && c["threads"] <= 256, "threads",
       c.value("threads", nlohmann::json()), "must be an integer in [1, 256]");
  need(c.contains("theory_samples") && c["theory_samples"].is_number_integer() && c["theory_samples"] >= 4096 &&
           c["theory_samples"] <= (1 << 26),
       "theory_samples", c.value("theory_samples", nlohmann::json()), "must be an integer in [4096, 67108864]");
  theory::ModelConfig m;
  try {
    from_json(c.at("model"), m);
    m.validate();
  } catch (const std::exception& e) {
    throw UsageError(std::string("model.") + e.what());
  }
  for (const char* sec : {"cascade", "spectrum", "finite_size"}) {
    if (!c.contains(sec)) continue;
    const auto& s = c[sec];
    need(s.is_object(), sec, s, "must be an object");
    if (s.contains("d"))
      need(s["d"].is_number_integer() && s["d"] >= m.p && s["d"] <= 20000, std::string(sec) + ".d", s["d"],
           "must be an integer in [p, 20000]");
    if (s.contains("ds"))
      for (const auto& d : s["ds"])
        need(d.is_number_integer() && d >= m.p && d <= 20000, std::string(sec) + ".ds", s["ds"], "must be integers in [p, 20000]");
    need(s.contains("alphas") && s["alphas"].is_array() && !s["alphas"].empty(), std::string(sec) + ".alphas",
         s.value("alphas", nlohmann::json()), "must be a non-empty list of numbers > 0");
    for (const auto& a : s["alphas"])
      need(a.is_number() && a.get<double>() > 0 && a.get<double>() <= 1e5, std::string(sec) + ".alphas", s["alphas"],
           "must be numbers in (0, 1e5]");
    if (s.contains("seeds"))
      need(s["seeds"].is_number_integer() && s["seeds"] >= 2 && s["seeds"] <= 100, std::string(sec) + ".seeds", s["seeds"],
           "must be an integer in [2, 100]: claims need a standard error over seeds");
  }
}

std::string fmt_duration(double s) {
  std::ostringstream o;
  if (s >= 3600) o << int(s / 3600) << "h" << std::setw(2) << std::setfill('0') << int(s / 60) % 60 << "m";
  else if (s >= 60) o << int(s / 60) << "m" << std::setw(2) << std::setfill('0') << int(s) % 60 << "s";
  else o << int(s) << "s";
  return o.str();
}

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }

}  // namespace

nlohmann::json builtin_config(const std::string& preset) {
  nlohmann::json c = nlohmann::json::parse(kDefault);
  c.merge_patch(preset_changes(preset));
  c["preset"] = preset;
  return c;
}

void register_reproduce(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("reproduce", "Full reproduction: sweeps, figures, claims report and HTML page");
  struct Opts {
    bool quick = false, full = false, no_render = false, print_config = false;
    std::string config, out;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--quick", o->quick, "small sizes, same figures (CI smoke test, < 3 min)");
  cmd->add_flag("--full", o->full, "publication scale (larger d, more seeds; < 1 h here)");
  cmd->add_option("--config", o->config, "JSON file merged over the built-in configuration (see --print-config)");
  cmd->add_option("--out", o->out, "run folder (default runs/<preset>); an interrupted run resumes there");
  cmd->add_option("--threads", o->threads, "threads (overrides the configuration)");
  cmd->add_flag("--no-render", o->no_render, "skip figures and HTML (data and report only)");
  cmd->add_flag("--print-config", o->print_config, "print the effective configuration and exit");
  cmd->callback([&run, o] {
    run = [o] {
      if (o->quick && o->full) throw UsageError("--quick and --full (choose at most one)");
      const std::string preset = o->quick ? "quick" : (o->full ? "full" : "default");
      nlohmann::json config = builtin_config(preset);
      if (!o->config.empty()) {
        std::ifstream in(o->config);
        if (!in) throw UsageError("--config = '" + o->config + "' (cannot be read: must be an existing JSON file)");
        nlohmann::json user;
        try {
          user = nlohmann::json::parse(in);
        } catch (const nlohmann::json::parse_error& e) {
          throw UsageError("--config = '" + o->config + "' (malformed JSON: " + e.what() + ")");
        }
        if (!user.is_object()) throw UsageError("--config = '" + o->config + "' (must hold a JSON object)");
        for (const auto& [key, value] : user.items())
          if (!config.contains(key)) throw UsageError("config key '" + key + "' in " + o->config + " (unknown key)");
        config.merge_patch(user);
      }
      if (o->threads != 0) config["threads"] = o->threads;
      validate_config(config);
      if (o->print_config) {
        std::cout << config.dump(2) << std::endl;
        return 0;
      }
      const fs::path dir = o->out.empty() ? fs::path("runs") / preset : fs::path(o->out);
      // A folder holding another configuration's run is not touched: nothing the user kept is lost.
      const fs::path cfg_file = dir / "config.json";
      if (fs::exists(cfg_file)) {
        std::ifstream in(cfg_file);
        nlohmann::json old;
        try {
          old = nlohmann::json::parse(in);
        } catch (const std::exception&) {
          throw UsageError("--out = '" + dir.string() + "' (holds an unreadable config.json: choose another folder)");
        }
        if (old != config)
          throw UsageError("--out = '" + dir.string() +
                           "' (holds a run with a different configuration: choose another folder or delete it)");
      } else if (fs::exists(dir) && !fs::is_empty(dir)) {
        throw UsageError("--out = '" + dir.string() + "' (exists and is not a run folder: choose another folder)");
      }
      fs::create_directories(dir / "points");
      reports::write_json_atomic(cfg_file, config);

      RunContext ctx(dir, config, config["threads"]);
      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      const auto t0 = Clock::now();

      // Plan: all tasks of all experiments whose section is configured.
      std::vector<Task> tasks;
      for (const auto& e : experiment_registry())
        if (config.contains(e.name))
          for (auto& t : e.plan(ctx)) tasks.push_back(std::move(t));
      double total = 0, done_cost = 0, skipped_cost = 0;
      int skipped = 0;
      for (const auto& t : tasks) {
        total += t.cost;
        if (ctx.has_point(t.key)) {
          skipped_cost += t.cost;
          ++skipped;
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
        ctx.write_point(t.key, t.run());
        done_cost += t.cost;
        const double el = std::chrono::duration<double>(Clock::now() - t_tasks).count();
        const double left = (total - skipped_cost - done_cost) * el / done_cost;
        std::cerr << "[reproduce] " << index << "/" << tasks.size() << " " << t.description << "  elapsed "
                  << fmt_duration(el) << ", about " << fmt_duration(left) << " left" << std::endl;
      }

      // Assemble figures and claims from the stored points.
      nlohmann::json claims = nlohmann::json::array(), figures = nlohmann::json::array();
      int failed = 0;
      for (const auto& e : experiment_registry()) {
        if (!config.contains(e.name)) continue;
        std::cerr << "[reproduce] assembling " << e.name << std::endl;
        const Assembled a = e.assemble(ctx);
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
        const std::string script = std::string(build::source_dir) + "/reports/render.py";
        const std::string cmdline = "/usr/bin/python3 '" + script + "' '" + dir.string() + "' --quiet";
        if (std::system(cmdline.c_str()) != 0)
          throw std::runtime_error("rendering failed (" + cmdline + "); the data and report.json are complete");
        std::cerr << "[reproduce] open " << (fs::absolute(dir) / "index.html").string() << std::endl;
      }
      std::cout << claims.size() - failed << " passed, " << failed << " failed" << std::endl;
      return failed == 0 ? 0 : 1;
    };
  });
}

}  // namespace hmi::app

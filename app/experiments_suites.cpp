// The claim suites whose measurements have no sweep of their own in `hmi reproduce` (C6 gradient
// descent, C7 readout, C8 beta* = 2): the main job runs the suites themselves, at their own
// calibrated designs, and folds their claim reports into report.json. Same comparison, same
// tolerances, same declared blind spots as `ctest` (the suite is the comparison), so every claim
// the tests verify appears in the default run's report. One point per suite: the suite's exit
// status and its claim reports, under the configured master seed.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/cli.hpp"
#include "app/reproduce.hpp"
#include "numerics/interrupt.hpp"

namespace hmi::app {
namespace {

namespace fs = std::filesystem;

// Rough wall seconds per suite on 2 cores, in the cost unit of the spectral points (about 60 per
// second: experiments_spectral's alpha d^3 1e-9 is 100 for a 1.5 s point at d = 1000, alpha = 100),
// for the time-left estimate only.
double suite_cost(const std::string& name) {
  double seconds = 10;
  if (name == "test_c6_gd") seconds = 12;
  if (name == "test_c7_readout") seconds = 3;
  if (name == "test_c8_beta_star_two") seconds = 35;
  if (name == "test_c9_optimality") seconds = 3;
  return 60 * seconds;
}

fs::path suite_path(const std::string& name) {
  for (const auto& s : verify_suites(name))
    if (fs::path(s).filename() == name) return s;
  return {};
}

std::string key_of(const std::string& name, long long master) { return "suite_" + name + "_m" + std::to_string(master); }

const RegisterExperiment suites{{
    "suites",
    [](const RunContext& ctx) {
      const auto& c = ctx.config()["suites"];
      const long long master = c["master_seed"];
      if (master < 1 || master > 1'000'000'000)
        throw UsageError("suites.master_seed = " + std::to_string(master) + " (must be an integer in [1, 1000000000])");
      std::vector<Task> tasks;
      for (const auto& n : c["names"]) {
        const std::string name = n.get<std::string>();
        const fs::path path = suite_path(name);
        if (path.empty()) {
          std::string known;
          for (const auto& s : verify_suites("test_c")) known += (known.empty() ? "" : ", ") + fs::path(s).filename().string();
          throw UsageError("suites.names = " + brief(c["names"]) + " ('" + theory::brief_text(name) +
                           "' is not a claim suite built next to hmi: must be among " + (known.empty() ? "none (build them)" : known) + ")");
        }
        tasks.push_back({key_of(name, master), suite_cost(name), "suite " + name, [name, path, master] {
                           // Reports go to a private scratch folder, read back, then removed.
                           const fs::path tmp = fs::temp_directory_path() /
                                                ("hmi-suite-" + std::to_string(::getpid()) + "-" + name);
                           fs::remove_all(tmp);
                           fs::create_directories(tmp);
                           const int rc = run_program({.argv = {path.string(), "--color_output=no", "--log_level=message"},
                                                       .env = {{"HMI_REPORT_DIR", tmp.string()}, {"HMI_MASTER_SEED", std::to_string(master)}},
                                                       .log = (tmp / "log.txt").string(),
                                                       .stop = [] { return interrupt_requested(); }});
                           nlohmann::json reports = nlohmann::json::array();
                           std::vector<fs::path> files;
                           for (const auto& e : fs::directory_iterator(tmp))
                             if (e.path().extension() == ".json") files.push_back(e.path());
                           std::sort(files.begin(), files.end());
                           for (const auto& f : files) {
                             std::ifstream in(f);
                             auto j = nlohmann::json::parse(in);
                             j["report_name"] = f.stem().string();
                             reports.push_back(j);
                           }
                           std::string log_tail;
                           {
                             std::ifstream in(tmp / "log.txt");
                             std::string line;
                             while (std::getline(in, line)) log_tail = line;
                           }
                           fs::remove_all(tmp);
                           throw_if_interrupted();  // stopped by a signal: the point is dropped
                           // 0: every check passed; 201: Boost.Test's "a check failed" (a claim, or an
                           // asserted rejection, failed: the reports say which). Anything else is a crash.
                           if ((rc != 0 && rc != 201) || reports.empty())
                             throw std::runtime_error("claim suite " + name + " ended with exit status " + std::to_string(rc) +
                                                      " and " + std::to_string(reports.size()) + " report(s); last log line: " +
                                                      theory::brief_text(log_tail, 200));
                           return nlohmann::json{{"suite", name}, {"exit_code", rc}, {"master_seed", master}, {"reports", reports}};
                         }});
      }
      return tasks;
    },
    [](const RunContext& ctx) {
      const auto& c = ctx.config()["suites"];
      Assembled out;
      for (const auto& n : c["names"]) {
        const auto pt = ctx.point(key_of(n.get<std::string>(), c["master_seed"].get<long long>()));
        std::map<std::string, int> per_claim;
        for (const auto& j : pt["reports"]) ++per_claim[j.value("claim", std::string())];
        for (const auto& j : pt["reports"]) {
          auto r = reports::ClaimReport::from_json(j);
          // A suite with several reports of one claim (C6: subspace, sequential) gets one id per
          // report, so ids stay unique in report.json.
          if (per_claim[r.claim] > 1) {
            const std::string stem = j["report_name"];
            r.claim += "." + (stem.rfind(r.claim + "_", 0) == 0 ? stem.substr(r.claim.size() + 1) : stem);
          }
          r.extra["suite"] = {{"name", n}, {"exit_code", pt["exit_code"]}, {"master_seed", pt["master_seed"]}};
          // An asserted rejection that failed fails the claim here too, as it fails the suite.
          for (const auto& missed : r.missed_rejections())
            r.record({"asserted wrong prediction rejected: " + missed, 0, 0, 0, 1, 0, false});
          out.claims.push_back(std::move(r));
        }
      }
      return out;
    }}};

}  // namespace
}  // namespace hmi::app

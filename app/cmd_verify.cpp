// hmi verify: runs the verification suites (the Boost.Test binaries built next to hmi) and
// collects their JSON claim reports in one folder.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/cli.hpp"
#include "reports/report.hpp"

namespace hmi::app {

namespace fs = std::filesystem;

void register_verify(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("verify", "Run the verification suites and collect their claim reports");
  auto out = std::make_shared<std::string>("verify-reports");
  auto only = std::make_shared<std::string>();
  auto list = std::make_shared<bool>(false);
  cmd->add_option("--out", *out, "folder for the JSON reports (default verify-reports)");
  cmd->add_option("--suite", *only, "run only suites whose name contains this text (e.g. spectral, theory)");
  cmd->add_flag("--list", *list, "list the suites and exit");
  cmd->callback([&run, out, only, list] {
    run = [out, only, list] {
      const auto all = verify_suites();
      if (all.empty()) throw std::runtime_error("no verification suites found next to hmi (build them first)");
      if (*list) {
        for (const auto& s : all) std::cout << fs::path(s).filename().string() << "\n";
        return 0;
      }
      // Invalid input is refused before anything is created.
      const auto suites = verify_suites(*only);
      if (suites.empty()) throw UsageError("--suite = '" + *only + "' (matches no suite; see hmi verify --list)");
      if (fs::exists(*out) && !fs::is_directory(*out))
        throw UsageError("--out = '" + *out + "' (is a file: must be a folder)");
      fs::create_directories(*out);
      const fs::path abs_out = fs::absolute(*out);
      int failed = 0, ran = 0;
      nlohmann::json summary = nlohmann::json::array();
      for (const fs::path s : suites) {
        const std::string name = s.filename().string();
        ++ran;
        std::cerr << "[verify] " << name << " ..." << std::flush;
        const auto t0 = std::chrono::steady_clock::now();
        const int rc = run_program({.argv = {s.string(), "--color_output=no", "--log_level=message"},
                                    .env = {{"HMI_REPORT_DIR", abs_out.string()}},
                                    .log = (abs_out / (name + ".log")).string()});
        const bool ok = rc == 0;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cerr << (ok ? " pass" : " FAIL") << " (" << int(secs) << " s)" << std::endl;
        failed += !ok;
        summary.push_back({{"suite", name}, {"pass", ok}, {"seconds", secs}, {"log", name + ".log"}});
      }
      reports::write_json_atomic(abs_out / "summary.json", {{"suites", summary}, {"provenance", reports::provenance()}});
      std::cout << ran - failed << " passed, " << failed << " failed" << std::endl;
      return failed == 0 ? 0 : 1;
    };
  });
}

}  // namespace hmi::app

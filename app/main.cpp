// hmi: theory, simulation and verification for hierarchical multi-index models.
// Exit status: 0 success, 2 invalid input (one line naming the flag or field, its value and
// what is allowed), 1 runtime failure, 130 interrupted by SIGINT/SIGTERM (reproduce and
// calibrate keep what finished; rerunning the same command resumes).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"

namespace {
// Error messages echo user input (file names, values): keep them on one line whatever it holds.
std::string one_line(std::string msg) {
  for (auto& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return msg;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hmi: optimal scaling laws in hierarchical multi-index models - theory, simulation, verification"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  hmi::app::Runner run;
  hmi::app::register_theory(app, run);
  hmi::app::register_simulate(app, run);
  hmi::app::register_verify(app, run);
  hmi::app::register_reproduce(app, run);
  hmi::app::register_calibrate(app, run);
  hmi::app::register_report(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "hmi: error: " << one_line(e.what()) << " (see hmi --help)" << std::endl;
    return 2;
  }
  try {
    return run ? run() : 2;
  } catch (const hmi::app::UsageError& e) {
    std::cerr << "hmi: error: " << one_line(e.what()) << std::endl;
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "hmi: error: " << one_line(e.what()) << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hmi: failed: " << one_line(e.what()) << std::endl;
    return 1;
  }
}

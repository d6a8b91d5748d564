// hmi: theory, simulation and verification for hierarchical multi-index models.
// Exit status: 0 success, 2 invalid input (one line naming the flag or field, its value and
// what is allowed), 1 runtime failure.
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"hmi: optimal scaling laws in hierarchical multi-index models - theory, simulation, verification"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  hmi::app::Runner run;
  hmi::app::register_theory(app, run);
  hmi::app::register_simulate(app, run);
  hmi::app::register_verify(app, run);
  hmi::app::register_reproduce(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (auto& c : msg)
      if (c == '\n') c = ' ';
    std::cerr << "hmi: error: " << msg << " (see hmi --help)" << std::endl;
    return 2;
  }
  try {
    return run ? run() : 2;
  } catch (const hmi::app::UsageError& e) {
    std::cerr << "hmi: error: " << e.what() << std::endl;
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "hmi: error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hmi: failed: " << e.what() << std::endl;
    return 1;
  }
}

#include "app/cli.hpp"
namespace hmi::app {
void register_reproduce(CLI::App& app, Runner& run) { (void)app; (void)run; }
}  // namespace hmi::app

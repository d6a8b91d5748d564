#include "app/cli.hpp"
namespace hmi::app {
void register_verify(CLI::App& app, Runner& run) { (void)app; (void)run; }
void register_reproduce(CLI::App& app, Runner& run) { (void)app; (void)run; }
}  // namespace hmi::app

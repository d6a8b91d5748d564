// libFuzzer target: arbitrary bytes through every reader of a JSON config (see fuzz/README.md).
//   1. parse_json_config: the --config reader of every subcommand (depth limit, malformed JSON);
//   2. ConfigFlags::merged_with + model_from_json: the theory/simulate path (key and type
//      checks, then ModelConfig from_json + validate), and the same object straight into
//      theory::from_json + validate (the library path, also used by the reproduce engine);
//   3. reproduce_config: the `hmi reproduce --config` merge and validation, for each preset.
// Invalid input must end in UsageError / std::invalid_argument; anything else escaping (a
// nlohmann type_error, std::out_of_range, a crash, a sanitizer report) is a finding.
// Properties checked on valid input: a validated model survives to_json -> from_json ->
// validate unchanged; its amplitudes are finite; a validated reproduce config validates again.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/cli.hpp"
#include "app/reproduce.hpp"
#include "theory/model.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_config: property violated: %s\n", what);
  std::abort();
}

void check_model(const hmi::theory::ModelConfig& m) {
  const nlohmann::json j = m;
  hmi::theory::ModelConfig back;
  from_json(j, back);
  back.validate();  // throws (uncaught: a finding) if the round trip breaks validity
  if (nlohmann::json(back) != j) finding("ModelConfig to_json/from_json round trip changed the model");
  const auto lam = m.lambdas();
  if (int(lam.size()) != m.num_directions()) finding("lambdas().size() != num_directions()");
  for (double l : lam)
    if (!std::isfinite(l)) finding("validated model has a non-finite amplitude");
  (void)m.preprocessing();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json file;
  try {
    file = hmi::app::parse_json_config("--config", "fuzz.json", text);
  } catch (const hmi::app::UsageError&) {
    return 0;
  }

  // 2. theory / simulate: the flags of `hmi simulate` that are config keys, no flag given.
  {
    CLI::App app;
    hmi::app::ConfigFlags flags(&app);
    flags.add_model_flags();
    flags.add_int("d", "", 500);
    flags.add_double("alpha", "", 10.0);
    flags.add_int("top", "", 0);
    flags.add_int("threads", "", 1);
    flags.add_int("block", "", 2048);
    flags.add_string("method", "", "auto");
    try {
      const nlohmann::json merged = flags.merged_with(file, "fuzz.json");
      check_model(hmi::app::model_from_json(merged));
    } catch (const hmi::app::UsageError&) {
    }
  }
  try {
    hmi::theory::ModelConfig m;
    from_json(file, m);
    m.validate();
    check_model(m);
  } catch (const std::invalid_argument&) {
  }

  // 3. reproduce: every preset.
  for (const char* preset : {"quick", "default", "full"}) {
    try {
      const nlohmann::json c = hmi::app::reproduce_config(preset, file, "fuzz.json");
      (void)hmi::app::reproduce_config(preset, c, "fuzz.json");  // idempotent: valid stays valid
    } catch (const hmi::app::UsageError&) {
    }
  }
  return 0;
}

#include "app/cli.hpp"

#include <cmath>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "reports/report.hpp"

namespace hmi::app {

const std::vector<std::string>& known_config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = theory::model_config_keys();
    for (const char* extra : {"d", "alpha", "top", "threads", "block", "method", "theory_samples", "width", "learner",
                              "lr", "steps", "init_scale", "readout", "ridge", "test_samples", "batch", "readout_samples"})
      k.emplace_back(extra);
    return k;
  }();
  return keys;
}

ConfigFlags::ConfigFlags(CLI::App* cmd) : cmd_(cmd) {
  cmd_->add_option("--config", config_file_, "JSON file with the same keys as the flags (flags override it)");
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
  add_string("preprocess", "label preprocessing T: identity|clip:C|square", d.preprocess);
  add_int("seed", "seed of the teacher and the data (>= 0)", (long long)d.seed);
}

namespace {

std::string flag_of(const std::string& key) {
  std::string f = "--" + key;
  for (auto& c : f)
    if (c == '_') c = '-';
  return f;
}

nlohmann::json convert(const std::string& key, const std::string& kind, const std::string& text) {
  if (kind == "string") return text;
  std::size_t used = 0;
  try {
    if (kind == "int") {
      const long long v = std::stoll(text, &used);
      if (used == text.size()) return v;
    } else {
      const double v = std::stod(text, &used);
      if (used == text.size()) return v;
    }
  } catch (const std::exception&) {
  }
  throw UsageError(flag_of(key) + " = '" + text + "' (must be " + (kind == "int" ? "an integer" : "a number") + ")");
}

}  // namespace

nlohmann::json ConfigFlags::merged() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& e : entries_) j[e.key] = e.def;
  if (!config_file_.empty()) {
    std::ifstream in(config_file_);
    if (!in) throw UsageError("--config = '" + config_file_ + "' (cannot be read: must be an existing JSON file)");
    nlohmann::json file;
    try {
      file = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& err) {
      throw UsageError("--config = '" + config_file_ + "' (malformed JSON: " + std::string(err.what()) + ")");
    }
    if (!file.is_object()) throw UsageError("--config = '" + config_file_ + "' (must hold a JSON object)");
    const auto& known = known_config_keys();
    for (const auto& [key, value] : file.items()) {
      const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
      if (it == entries_.end()) {
        if (std::find(known.begin(), known.end(), key) == known.end())
          throw UsageError("config key '" + key + "' in " + config_file_ + " (unknown key)");
        continue;  // a key of another subcommand: ignored here
      }
      const bool ok = (it->kind == "string" && (value.is_string() || (key == "amplitudes" && value.is_array()))) ||
                      (it->kind == "int" && value.is_number_integer()) ||
                      (it->kind == "double" && value.is_number());
      if (!ok)
        throw UsageError("config key '" + key + "' = " + value.dump() + " (must be " +
                         (it->kind == "string" ? "a string" : it->kind == "int" ? "an integer" : "a number") + ")");
      j[key] = value;
    }
  }
  for (const auto& e : entries_)
    if (e.opt && e.opt->count() > 0) j[e.key] = convert(e.key, e.kind, e.text);
  return j;
}

theory::ModelConfig ConfigFlags::model() const {
  const nlohmann::json j = merged();
  nlohmann::json m = nlohmann::json::object();
  for (const auto& key : theory::model_config_keys())
    if (j.contains(key)) m[key] = j[key];
  if (m.contains("seed") && m["seed"].is_number_integer() && m["seed"].get<long long>() < 0)
    throw UsageError("seed = " + m["seed"].dump() + " (must be an integer >= 0)");
  if (m.contains("p") && m["p"].is_number_integer() &&
      (m["p"].get<long long>() < 1 || m["p"].get<long long>() > 100000))
    throw UsageError("p = " + m["p"].dump() + " (must be an integer in [1, 100000])");
  theory::ModelConfig cfg;
  try {
    from_json(m, cfg);
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return cfg;
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

void emit_json(const nlohmann::json& j, const std::string& out) {
  if (out.empty())
    std::cout << j.dump(2) << std::endl;
  else
    reports::write_json_atomic(out, j);
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace hmi::app

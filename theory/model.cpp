#include "theory/model.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <Random123/philox.h>

#include "theory/activation.hpp"

namespace hmi::theory {
namespace {

std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

[[noreturn]] void bad(const std::string& field, const std::string& value, const std::string& allowed) {
  throw std::invalid_argument(field + " = " + value + " (" + allowed + ")");
}

// Parses "a1,a2,..." strictly; nullopt-like empty vector if the string is not a list.
std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      bad("amplitudes", "'" + s + "'", "must be normalized, raw, or a comma-separated list of finite non-zero numbers");
    }
    if (used != item.size() || !std::isfinite(v) || v == 0.0)
      bad("amplitudes", "'" + s + "'", "must be normalized, raw, or a comma-separated list of finite non-zero numbers");
    out.push_back(v);
  }
  if (out.empty() || s.back() == ',')
    bad("amplitudes", "'" + s + "'", "must be normalized, raw, or a comma-separated list of finite non-zero numbers");
  return out;
}

bool is_mode(const std::string& a) { return a == "normalized" || a == "raw"; }

}  // namespace

std::string Preprocess::str() const {
  switch (kind) {
    case Kind::clip: return "clip:" + num(c);
    case Kind::square: return "square";
    case Kind::square_clip: return "square-clip:" + num(c);
    default: return "identity";
  }
}

Preprocess Preprocess::parse(const std::string& spec) {
  if (spec == "identity") return {};
  if (spec == "square") return {Kind::square, 0.0};
  const bool sq = spec.rfind("square-clip:", 0) == 0;
  if (spec.rfind("clip:", 0) == 0 || sq) {
    const std::string v = spec.substr(sq ? 12 : 5);
    std::size_t used = 0;
    double c = 0;
    try {
      c = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == v.size() && !v.empty() && std::isfinite(c) && c > 0) return {sq ? Kind::square_clip : Kind::clip, c};
    bad("preprocess", "'" + spec + "'", "clip level must be a finite number > 0, e.g. clip:3 or square-clip:4");
  }
  bad("preprocess", "'" + spec + "'", "must be identity, clip:C, square, or square-clip:C with C > 0");
}

void ModelConfig::validate() const {
  make_activation(activation);  // throws with the allowed names
  if (!is_mode(amplitudes)) {
    parse_list(amplitudes);
  } else {
    if (p < 1 || p > 100000) bad("p", std::to_string(p), "must be an integer in [1, 100000]");
    if (!std::isfinite(gamma) || gamma <= 0 || gamma > 20) bad("gamma", num(gamma), "must be finite, > 0 and <= 20");
  }
  if (signs != "positive" && signs != "random") bad("signs", "'" + signs + "'", "must be positive or random");
  if (!std::isfinite(noise) || noise < 0) bad("noise", num(noise), "must be finite and >= 0");
  Preprocess::parse(preprocess);
}

int ModelConfig::num_directions() const { return is_mode(amplitudes) ? p : int(parse_list(amplitudes).size()); }

std::vector<double> ModelConfig::lambdas() const {
  std::vector<double> lam;
  if (!is_mode(amplitudes)) {
    lam = parse_list(amplitudes);
  } else {
    double z2 = 0;
    for (int k = 1; k <= p; ++k) z2 += std::pow(double(k), -2 * gamma);
    const double Z = amplitudes == "normalized" ? std::sqrt(z2) : 1.0;
    for (int k = 1; k <= p; ++k) lam.push_back(std::pow(double(k), -gamma) / Z);
  }
  if (signs == "random") {
    // Rademacher signs from the counter-based generator: stream 3 of the model seed.
    r123::Philox4x64 rng;
    for (std::size_t k = 0; k < lam.size(); ++k) {
      r123::Philox4x64::ctr_type ctr{{k, 0, 3, 0}};
      r123::Philox4x64::key_type key{{seed, 0x686d69}};
      if (rng(ctr, key)[0] >> 63) lam[k] = -lam[k];
    }
  }
  return lam;
}

const std::vector<std::string>& model_config_keys() {
  static const std::vector<std::string> keys{"activation", "p", "gamma", "amplitudes", "signs", "noise", "preprocess", "seed"};
  return keys;
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = {{"activation", c.activation}, {"p", c.p}, {"gamma", c.gamma}, {"amplitudes", c.amplitudes},
       {"signs", c.signs}, {"noise", c.noise}, {"preprocess", c.preprocess}, {"seed", c.seed}};
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  if (!j.is_object()) throw std::invalid_argument("config = " + j.dump() + " (must be a JSON object)");
  for (const auto& [key, value] : j.items()) {
    auto want = [&](bool ok, const char* type) {
      if (!ok) bad(key, value.dump(), std::string("must be ") + type);
    };
    if (key == "activation") { want(value.is_string(), "a string"); c.activation = value; }
    else if (key == "p") { want(value.is_number_integer(), "an integer"); c.p = value; }
    else if (key == "gamma") { want(value.is_number(), "a number"); c.gamma = value; }
    else if (key == "amplitudes") {
      if (value.is_array()) {
        std::string s;
        for (const auto& a : value) {
          want(a.is_number(), "normalized, raw, or a list of numbers");
          s += (s.empty() ? "" : ",") + num(a.get<double>());
        }
        c.amplitudes = s;
      } else { want(value.is_string(), "normalized, raw, or a list of numbers"); c.amplitudes = value; }
    }
    else if (key == "signs") { want(value.is_string(), "a string"); c.signs = value; }
    else if (key == "noise") { want(value.is_number(), "a number"); c.noise = value; }
    else if (key == "preprocess") { want(value.is_string(), "a string"); c.preprocess = value; }
    else if (key == "seed") {
      want(value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0), "a non-negative integer");
      c.seed = value.get<std::uint64_t>();
    }
    else bad("config key '" + key + "'", value.dump(), "unknown key");
  }
}

}  // namespace hmi::theory

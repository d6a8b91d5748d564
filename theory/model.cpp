#include "theory/model.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
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

// Field and value are the user's text: shortened so the message stays one short line.
[[noreturn]] void bad(const std::string& field, const std::string& value, const std::string& allowed) {
  throw std::invalid_argument(brief_text(field) + " = " + brief_text(value) + " (" + allowed + ")");
}

std::string brief_json(const nlohmann::json& v) {
  return brief_text(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
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
    // lambda_k^2 Var sigma and sums of such terms must stay finite (1e308 squared is inf, and
    // the label variance, the thresholds and the Gram weights would all be inf or NaN).
    if (std::abs(v) > 1e100)
      bad("amplitudes", "'" + s + "'", "must be a list of non-zero numbers of magnitude <= 1e100, so that the label variance is finite");
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
  try {
    make_activation(activation);  // throws with the allowed names
  } catch (const std::invalid_argument& e) {
    // Its message echoes the whole spec: shorten the echo so a huge value stays one short line.
    std::string msg = e.what();
    const std::string shown = brief_text(activation, 1 << 20);  // as the message echoes it
    if (const auto at = msg.find(shown); activation.size() > 60 && at != std::string::npos)
      msg.replace(at, shown.size(), brief_text(activation));
    throw std::invalid_argument(msg);
  }
  if (!is_mode(amplitudes)) {
    parse_list(amplitudes);
  } else {
    if (p < 1 || p > 100000) bad("p", std::to_string(p), "must be an integer in [1, 100000]");
    if (!std::isfinite(gamma) || gamma <= 0 || gamma > 20) bad("gamma", format_number(gamma), "must be finite, > 0 and <= 20");
  }
  if (signs != "positive" && signs != "random") bad("signs", "'" + signs + "'", "must be positive or random");
  if (!std::isfinite(noise) || noise < 0) bad("noise", format_number(noise), "must be finite and >= 0");
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

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

std::string short_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string brief_text(const std::string& s, std::size_t max) {
  if (max < 4) max = 4;
  return printable_text(s.size() <= max ? s : s.substr(0, max - 3) + "...");
}

std::string printable_text(const std::string& t) {
  // Control characters shown as \xNN: a NUL would cut the message (what() is a C string) and a
  // newline would break the one-line rule.
  std::string out;
  for (unsigned char c : t) {
    if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = {{"activation", c.activation}, {"p", c.p}, {"gamma", c.gamma}, {"amplitudes", c.amplitudes},
       {"signs", c.signs}, {"noise", c.noise}, {"preprocess", c.preprocess}, {"seed", c.seed}};
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  if (!j.is_object()) throw std::invalid_argument("config = " + brief_json(j) + " (must be a JSON object)");
  // items() by element, not a structured binding: clang < 16 cannot capture bindings in `want`.
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    auto want = [&](bool ok, const char* type) {
      if (!ok) bad(key, brief_json(value), std::string("must be ") + type);
    };
    if (key == "activation") { want(value.is_string(), "a string"); c.activation = value; }
    else if (key == "p") {
      // Range-checked in 64 bits before it is narrowed to int (a huge p must not wrap to a small one).
      want(value.is_number_integer(), "an integer");
      const bool fits = value.is_number_unsigned() ? value.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<int>::max())
                                                   : value.get<std::int64_t>() >= std::numeric_limits<int>::min() &&
                                                         value.get<std::int64_t>() <= std::numeric_limits<int>::max();
      want(fits, "an integer in [1, 100000]");
      c.p = value.get<int>();
    }
    else if (key == "gamma") { want(value.is_number(), "a number"); c.gamma = value; }
    else if (key == "amplitudes") {
      if (value.is_array()) {
        std::string s;
        for (const auto& a : value) {
          want(a.is_number(), "normalized, raw, or a list of numbers");
          if (!s.empty()) s += ',';
          s += num(a.get<double>());
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
    else bad("config key '" + brief_text(key) + "'", brief_json(value), "unknown key");
  }
}

}  // namespace hmi::theory

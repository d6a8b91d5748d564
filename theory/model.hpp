#pragma once
// The hierarchical multi-index model (THEORY.md section 1):
//   y = sum_{k=1..p} lambda_k sigma(<w_k, x>) + sqrt(Delta) xi,  x ~ N(0, I_d), xi ~ N(0,1),
//   lambda_k = s_k k^(-gamma) / Z  (Z = sqrt(sum_j j^(-2 gamma)) when "normalized", 1 when "raw").
// and the label preprocessing T of the spectral estimator (section 2).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hmi::theory {

/// Label preprocessing T(y): identity, clip(c) = max(-c, min(c, y)), square = y^2,
/// square-clip(c) = min(y^2, c) (bounded and even: for beta* = 2 activations, THEORY section 5).
struct Preprocess {
  enum class Kind { identity, clip, square, square_clip };
  Kind kind = Kind::identity;
  double c = 0.0;  ///< clip level (only for clip)

  double operator()(double y) const {
    switch (kind) {
      case Kind::clip: return y > c ? c : (y < -c ? -c : y);
      case Kind::square: return y * y;
      case Kind::square_clip: return y * y < c ? y * y : c;
      default: return y;
    }
  }
  bool bounded() const { return kind == Kind::clip || kind == Kind::square_clip; }
  std::string str() const;
  /// "identity" | "clip:C" (C > 0) | "square" | "square-clip:C" (C > 0); throws
  /// std::invalid_argument otherwise.
  static Preprocess parse(const std::string& spec);
};

/// Everything that defines the teacher and the labels. Field names are the JSON keys and
/// (with '-' for '_') the CLI flags.
struct ModelConfig {
  std::string activation = "he2";
  int p = 8;
  double gamma = 1.0;
  std::string amplitudes = "normalized";  ///< "normalized" | "raw" | "a1,a2,..." (overrides p, gamma)
  std::string signs = "positive";         ///< "positive" | "random"
  double noise = 0.1;                     ///< Delta >= 0
  std::string preprocess = "identity";    ///< see Preprocess::parse
  std::uint64_t seed = 1;                 ///< teacher directions, random signs, data

  /// Throws std::invalid_argument "field = value (must be ...)" for the first bad field.
  void validate() const;
  /// Amplitudes lambda_1..lambda_p with their signs (p taken from an explicit list if given).
  std::vector<double> lambdas() const;
  int num_directions() const;
  Preprocess preprocessing() const { return Preprocess::parse(preprocess); }
};

void to_json(nlohmann::json& j, const ModelConfig& c);
/// Strict: unknown keys and wrong types throw std::invalid_argument naming the key.
void from_json(const nlohmann::json& j, ModelConfig& c);

/// Keys a ModelConfig accepts in JSON.
const std::vector<std::string>& model_config_keys();

/// A user's number as it appears in a message: the shortest text that reads back as the same
/// double (1e-07, 0.1, 2.5e+300; "nan", "inf"), never std::to_string's 6 fixed decimals.
std::string format_number(double v);

/// A number as `std::ostream << v` writes it (6 significant digits: "1.5", "0.75", "1e+06"): the
/// form of reproduce's point keys and of figure and check labels (changing it would orphan
/// stored points).
std::string short_number(double v);

/// A user's text as it appears in a one-line message: at most `max` characters (longer text
/// is cut and ends in "..."), so a huge value cannot flood the message.
std::string brief_text(const std::string& s, std::size_t max = 60);
/// User text for a one-line message: control characters (NUL, newline, ...) shown as \xNN.
std::string printable_text(const std::string& s);

}  // namespace hmi::theory

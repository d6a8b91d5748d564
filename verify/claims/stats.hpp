#pragma once
// Small statistics used by every claim comparison (no test framework needed, so the
// reproduction command shares the comparisons with the test suites).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/math/distributions/students_t.hpp>

namespace hmi::verify {

struct Stats {
  double mean = 0, sd = 0, se = 0;
  int n = 0;
};

inline Stats stats(const std::vector<double>& x) {
  Stats s;
  s.n = int(x.size());
  if (x.empty()) return s;
  s.mean = std::accumulate(x.begin(), x.end(), 0.0) / s.n;
  double v = 0;
  for (double a : x) v += (a - s.mean) * (a - s.mean);
  s.sd = s.n > 1 ? std::sqrt(v / (s.n - 1)) : 0.0;
  s.se = s.sd / std::sqrt(double(s.n));
  return s;
}

/// The multiplier of a standard error estimated from n values (n - 1 degrees of freedom) with
/// the two-sided coverage of `sigmas` known standard deviations (3: 99.73 %): Student's t
/// quantile. A "within 3 SE" rule on an SE from 3 seeds is a t test with 2 degrees of freedom
/// whose false-alarm rate is 9.5 %, not 0.27 % (issue 16: C1 master 27, C8 master 30).
/// For sigmas = 3: n = 3: 19.2, n = 4: 9.22, n = 6: 5.51, n = 8: 4.53, n = 10: 4.09, n = 12: 3.85.
inline double t_sigmas(int n, double sigmas = 3.0) {
  if (n < 2) return std::numeric_limits<double>::infinity();
  const double p = 0.5 * std::erfc(-sigmas / std::sqrt(2.0));  // Phi(sigmas)
  return boost::math::quantile(boost::math::students_t(double(n - 1)), p);
}

/// Master seed of a verification run: $HMI_MASTER_SEED (default 1), an integer in [1, 10^9].
/// Anything else (garbage, a sign, trailing text, overflow, 0) throws std::invalid_argument
/// naming the variable, its value and the rule: a typo must not silently rerun master seed 0
/// or a wrapped one.
inline std::uint64_t master_seed() {
  const char* env = std::getenv("HMI_MASTER_SEED");
  if (!env || !*env) return 1;
  const std::string text(env);
  bool ok = text.size() <= 10;
  std::uint64_t v = 0;
  for (char c : text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) v = 10 * v + std::uint64_t(c - '0');
  }
  if (!ok || v < 1 || v > 1'000'000'000) {
    const std::string shown = text.size() > 40 ? text.substr(0, 37) + "..." : text;
    throw std::invalid_argument("HMI_MASTER_SEED = '" + shown + "' (must be an integer in [1, 1000000000])");
  }
  return v;
}

/// seed_i = 1000 * master + i.
inline std::vector<std::uint64_t> seeds(int count, std::uint64_t master = master_seed()) {
  std::vector<std::uint64_t> s;
  for (int i = 0; i < count; ++i) s.push_back(1000 * master + std::uint64_t(i));
  return s;
}

}  // namespace hmi::verify

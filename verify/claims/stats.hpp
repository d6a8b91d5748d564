#pragma once
// Small statistics used by every claim comparison (no test framework needed, so the
// reproduction command shares the comparisons with the test suites).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

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

/// Master seed of a verification run: $HMI_MASTER_SEED (default 1).
inline std::uint64_t master_seed() {
  const char* env = std::getenv("HMI_MASTER_SEED");
  return env && *env ? std::strtoull(env, nullptr, 10) : 1;
}

/// seed_i = 1000 * master + i.
inline std::vector<std::uint64_t> seeds(int count, std::uint64_t master = master_seed()) {
  std::vector<std::uint64_t> s;
  for (int i = 0; i < count; ++i) s.push_back(1000 * master + std::uint64_t(i));
  return s;
}

}  // namespace hmi::verify

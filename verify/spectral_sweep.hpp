#pragma once
// Measurement side shared by the spectral claims (C2 overlaps, C3 spectrum): simulate the
// estimator at each (d, alpha) for several seeds and keep what the comparisons need.
#include <cstdint>
#include <vector>

#include "estimators/spectral.hpp"
#include "theory/model.hpp"

namespace hmi::verify {

struct SpectralRun {
  int d = 0;
  double alpha = 0;
  std::uint64_t seed = 0;
  std::vector<double> eigenvalues;  ///< top K by |value|
  std::vector<double> overlap;      ///< q_k
  std::vector<double> subspace_overlap;
  double smallest = 0;  ///< the most negative of the computed eigenvalues (bottom edge side)
};

inline SpectralRun simulate_once(const theory::ModelConfig& base, int d, double alpha, std::uint64_t seed, int top) {
  theory::ModelConfig m = base;
  m.seed = seed;
  const est::Teacher t = est::make_teacher(m, d);
  est::SpectralConfig cfg;
  cfg.d = d;
  cfg.alpha = alpha;
  cfg.top = top;
  cfg.threads = 2;
  const est::SpectralResult r = est::run_spectral(t, cfg);
  SpectralRun out{d, alpha, seed, r.eig.values, r.metrics.overlap, r.metrics.subspace_overlap, 0.0};
  out.smallest = *std::min_element(r.eig.values.begin(), r.eig.values.end());
  return out;
}

}  // namespace hmi::verify

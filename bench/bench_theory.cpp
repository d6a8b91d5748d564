// Theory B curve: `hmi theory`'s prediction for the default model with T = clip:3 (p = 8) at 50
// log-spaced alphas in [0.5, 100], with the quadrature law (two grids, error ~1e-14) and, for
// the record, the Monte Carlo path it replaced (2^20 samples; ~17-26 s, so timed once).
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "theory/spectral.hpp"

namespace hmi::bench {
namespace {

std::vector<double> curve_alphas() {
  std::vector<double> a;
  for (int i = 0; i < 50; ++i) a.push_back(0.5 * std::pow(200.0, i / 49.0));
  return a;
}

void BM_theory_curve(benchmark::State& state) {
  theory::ModelConfig m;
  m.preprocess = "clip:3";
  theory::TheoryOptions opt;
  opt.theory_method = state.range(0) == 0 ? theory::TheoryMethod::quadrature : theory::TheoryMethod::montecarlo;
  opt.threads = int(state.range(1));
  const auto alphas = curve_alphas();
  for (auto _ : state) {
    auto pred = theory::predict_spectral(m, alphas, theory::Method::exact, opt);
    benchmark::DoNotOptimize(pred.numerical_error);
  }
}
BENCHMARK(BM_theory_curve)->ArgNames({"montecarlo", "threads"})->Args({0, 2})->Args({0, 1})->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_theory_curve)->ArgNames({"montecarlo", "threads"})->Args({1, 2})->Iterations(1)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hmi::bench

// Benchmarks of the krylov engine (estimators/krylov.hpp, docs/krylov.md): its cost scaling in
// n and in d at a fixed number of blocks (so that the work does not depend on convergence),
// and end to end against the direct engine on the same model for the crossover in d.
// Model: he2, p = 8, gamma = 1, Delta = 0.1, T = clip(3) (bounded: the predicted edges, passed
// to the engine as the CLI does, are exact).
#include <benchmark/benchmark.h>

#include <cmath>

#include "estimators/krylov.hpp"
#include "estimators/spectral.hpp"
#include "theory/spectral.hpp"

namespace hmi::bench {
namespace {

theory::ModelConfig clip_model() {
  theory::ModelConfig m;
  m.preprocess = "clip:3";
  return m;
}

// Fixed work: exactly `blocks` blocks (min_blocks = max_blocks), no edges.
void run_fixed(benchmark::State& state, int d, double alpha, int blocks, int threads) {
  const est::Teacher t = est::make_teacher(clip_model(), d);
  est::KrylovConfig kc{.d = d, .alpha = alpha, .threads = threads, .max_blocks = blocks, .min_blocks = blocks};
  int used = 0;
  for (auto _ : state) used = est::run_krylov(t, kc).blocks;
  state.counters["blocks"] = used;
  state.counters["samples"] = benchmark::Counter(double(kc.n()), benchmark::Counter::kIsIterationInvariantRate);
}

// Cost ~ n at fixed d and blocks.
void BM_krylov_n(benchmark::State& state) {
  const int d = int(state.range(0));
  const double n = double(state.range(1));
  run_fixed(state, d, n / d, 12, 1);
  state.SetComplexityN(state.range(1));
}
BENCHMARK(BM_krylov_n)
    ->ArgNames({"d", "n"})
    ->ArgsProduct({{20000}, {100000, 200000, 400000, 800000}})
    ->Complexity(benchmark::oN)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// At fixed n, d enters only through the chi-square draws (O(d) each) and the teacher basis.
void BM_krylov_d(benchmark::State& state) {
  const int d = int(state.range(0));
  const double n = double(state.range(1));
  run_fixed(state, d, n / d, 12, 1);
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_krylov_d)
    ->ArgNames({"d", "n"})
    ->ArgsProduct({{2000, 8000, 32000, 128000}, {400000}})
    ->Complexity(benchmark::oN)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// End to end at alpha = 20 (teacher, labels, engine, metrics) for the crossover in d; krylov
// with the predicted edges and its default stopping rule, as `hmi simulate --engine krylov`.
void BM_engine(benchmark::State& state, bool krylov) {
  const int d = int(state.range(0)), threads = int(state.range(1));
  const double alpha = 20.0;
  const auto model = clip_model();
  theory::TheoryOptions opt;
  opt.mc_samples = 1 << 18;
  opt.max_directions = 1;
  const auto pred = theory::predict_spectral(model, {alpha}, theory::Method::automatic, opt);
  double q1 = 0;
  int blocks = 0;
  for (auto _ : state) {
    const est::Teacher t = est::make_teacher(model, d);
    if (krylov) {
      est::KrylovConfig kc{.d = d, .alpha = alpha, .threads = threads};
      kc.edge_upper = pred.curve[0].bulk_edge.value;
      kc.edge_lower = pred.curve[0].bulk_edge_lower.value;
      const auto r = est::run_krylov(t, kc);
      q1 = r.metrics.overlap[0];
      blocks = r.blocks;
    } else {
      const auto r = est::run_spectral(t, {.d = d, .alpha = alpha, .threads = threads});
      q1 = r.metrics.overlap[0];
    }
  }
  state.counters["overlap_1"] = q1;
  if (krylov) state.counters["blocks"] = blocks;
}
BENCHMARK_CAPTURE(BM_engine, direct, false)
    ->ArgNames({"d", "threads"})
    ->ArgsProduct({{250, 500, 1000, 2000}, {2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_engine, krylov, true)
    ->ArgNames({"d", "threads"})
    ->ArgsProduct({{250, 500, 1000, 2000}, {2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hmi::bench

// Place for the learner benchmarks (owner: the gradient-descent / readout engineer).
//
// Add here, following bench_kernels.cpp:
//   BM_gd_step/d:<d>/alpha:<alpha>/width:<m>/threads:<t>     one full-batch GD step
//       counters: GFLOP/s on the step's flops, samples/s (rows per second)
//   BM_readout_accumulate/d:<d>/alpha:<alpha>/threads:<t>    readout normal equations
//       counters: GFLOP/s, samples/s
// Conventions: data built outside the timed loop (default_teacher() in bench_common.hpp),
// `threads` a named argument (not ->Threads()), UseRealTime(), wrap the timed body in
//   const auto t0 = DelayHook::start(); ...; DelayHook::inject_delay(t0);
// so the gate demonstration covers it, and add the short-size variant to GATE_SHORT in
// bench/gate.py (then refresh the baseline, see bench/README.md).
#include <benchmark/benchmark.h>

#include "bench/bench_common.hpp"

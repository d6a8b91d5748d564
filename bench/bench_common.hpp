#pragma once
// Shared helpers of the benchmark suite: fixtures built outside the timed loops, flop counts,
// and the delay hook used only to demonstrate the regression gate.
#include <chrono>
#include <cstdint>

#include "estimators/data.hpp"

namespace hmi::bench {

/// The default teacher of `hmi simulate` (he2, p = 8, gamma = 1, normalised, noise 0.1) in
/// dimension d, or with p directions.
est::Teacher default_teacher(int d, int p = 8);

/// Flops of the weighted Gram accumulated over n rows in dimension d: one DSYRK counts
/// n d (d + 1) multiply-adds on the upper triangle, i.e. n d^2 flops to leading order.
inline double gram_flops(double n, double d) { return n * d * (d + 1); }

/// GFLOP/s of OpenBLAS DSYRK on the shapes of the accumulation: C (d x d) += A^T A with A of
/// `rows` x d, repeated, with `threads` OpenBLAS threads; concurrent = true runs `threads`
/// single-threaded DSYRKs side by side instead (the layout the accumulation uses).
/// Measured for about `seconds` (best of three), in the calling benchmark's own process.
double raw_dsyrk_gflops(int d, int rows, int threads, bool concurrent, double seconds = 0.3);

/// Calibration probe for the regression gate: GFLOP/s per thread of `threads` concurrent
/// single-threaded DGEMMs (256^3, cache resident) run for about `seconds`. Measured right
/// before and after a benchmark's timed loop, it describes the machine *at that moment*
/// (clock, core type, and how much of the cores other processes leave), so the gate can
/// normalise each repetition by its own probe instead of by a run-level average.
double calibration_probe(int threads, double seconds = 0.015);

/// Sets the counter "calib_GFLOPS" from probes around the timed loop: construct before the
/// loop, call finish(state) after it.
class CalibrationScope {
 public:
  explicit CalibrationScope(int threads) : threads_(threads), before_(calibration_probe(threads)) {}
  template <class State>
  void finish(State& state) {
    state.counters["calib_GFLOPS"] = 0.5 * (before_ + calibration_probe(threads_));
  }

 private:
  int threads_;
  double before_;
};

/// Regression-gate demonstration only: when HMI_BENCH_INJECT_DELAY_PCT is set (say 15), every
/// timed iteration that calls inject_delay(start) busy-waits that percentage of its own
/// duration, i.e. simulates a build that is that much slower. Unset (the default), it is a
/// single branch.
class DelayHook {
 public:
  using Clock = std::chrono::steady_clock;
  static Clock::time_point start() { return fraction() > 0 ? Clock::now() : Clock::time_point{}; }
  static void inject_delay(Clock::time_point start);
  static double fraction();
};

}  // namespace hmi::bench

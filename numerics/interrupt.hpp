#pragma once
// Cooperative interruption. A signal handler (hmi reproduce, calibrate) calls request_interrupt();
// long loops (data blocks, GD steps, Monte Carlo batches, quadrature sweeps) call
// throw_if_interrupted() once per unit of work of well under a second, so SIGINT and SIGTERM take
// effect within about a second anywhere, not only between sweep points. The flag is a lock-free
// atomic: safe to set from a signal handler and to read from any thread.
#include <atomic>
#include <stdexcept>

namespace hmi {

/// Thrown by throw_if_interrupted(); the command line turns it into exit status 130 after
/// keeping what finished (a half-computed point is never written).
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

inline std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
static_assert(std::atomic<bool>::is_always_lock_free, "the interrupt flag is set from a signal handler");

inline void request_interrupt() { interrupt_flag().store(true, std::memory_order_relaxed); }
inline bool interrupt_requested() { return interrupt_flag().load(std::memory_order_relaxed); }
inline void throw_if_interrupted() {
  if (interrupt_requested()) throw Interrupted();
}

}  // namespace hmi

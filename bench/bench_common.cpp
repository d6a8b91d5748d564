#include "bench_common.hpp"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include "estimators/blas_kernels.hpp"

namespace hmi::bench {

est::Teacher default_teacher(int d, int p) {
  theory::ModelConfig m;  // the CLI defaults
  m.p = p;
  return est::make_teacher(m, d);
}

double raw_dsyrk_gflops(int d, int rows, int threads, bool concurrent, double seconds) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> A(std::size_t(rows) * d);
  for (std::size_t i = 0; i < A.size(); ++i) A[i] = double((i * 2654435761u) % 2001) / 1000.0 - 1.0;
  const int callers = concurrent ? threads : 1;
  std::vector<std::vector<double>> C(callers, std::vector<double>(std::size_t(d) * d, 0.0));
  const int saved = est::blas::get_threads();
  est::blas::set_threads(concurrent ? 1 : threads);
  auto run = [&](int calls) {
    auto work = [&](int c) {
      for (int k = 0; k < calls; ++k) est::blas::syrk_upper(d, rows, A.data(), 1e-3, C[c].data());
    };
    const auto t0 = Clock::now();
    if (callers == 1) {
      work(0);
    } else {
      std::vector<std::jthread> pool;
      for (int c = 0; c < callers; ++c) pool.emplace_back(work, c);
    }
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  run(1);  // warm-up (thread pool, buffers)
  const double one = std::max(1e-6, run(1));
  const int calls = std::max(1, int(seconds / 3 / one));
  double best = 1e300;
  for (int r = 0; r < 3; ++r) best = std::min(best, run(calls));
  est::blas::set_threads(saved);
  return callers * calls * gram_flops(rows, d) / best / 1e9;
}

double calibration_probe(int threads, double seconds) {
  using Clock = std::chrono::steady_clock;
  constexpr int n = 256;
  static const std::vector<double> A = [] {
    std::vector<double> a(std::size_t(n) * n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = double(i % 13) / 13.0;
    return a;
  }();
  const int saved = est::blas::get_threads();
  est::blas::set_threads(1);
  std::vector<double> calls(threads, 0);
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto work = [&](int w) {
    std::vector<double> C(std::size_t(n) * n);
    do {
      est::blas::gemm(n, n, n, A.data(), A.data(), C.data());
      calls[w] += 1;
    } while (Clock::now() < until);
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::jthread> pool;
    for (int w = 0; w < threads; ++w) pool.emplace_back(work, w);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  est::blas::set_threads(saved);
  double total = 0;
  for (double c : calls) total += c;
  return total * 2.0 * n * n * n / elapsed / threads * 1e-9;
}

double DelayHook::fraction() {
  static const double f = [] {
    const char* e = std::getenv("HMI_BENCH_INJECT_DELAY_PCT");
    return e ? std::max(0.0, std::atof(e) / 100.0) : 0.0;
  }();
  return f;
}

void DelayHook::inject_delay(Clock::time_point start) {
  const double f = fraction();
  if (f <= 0) return;
  const auto spent = Clock::now() - start;
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(spent * f);
  while (Clock::now() < until) {
  }
}

}  // namespace hmi::bench

// hmi_bench entry point: Google Benchmark's main plus provenance in the JSON context and a
// refusal to time a Gaussian generator that disagrees with its definition.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.hpp"
#include "build_info.hpp"
#include "estimators/blas_kernels.hpp"
#include "estimators/data.hpp"
#include "verify/gaussian_reference.hpp"

namespace {

// The generator's contract (estimators/data.hpp): normal j of (seed, stream, row) is the
// ziggurat on Random123's Philox4x32-10 words, identical on every instruction set. Checked here
// against verify/gaussian_reference.hpp (r123::Philox4x32 itself and long-double arithmetic);
// returns the largest relative error (or -1 if two instruction sets disagree in any bit).
double generator_self_check() {
  const char* isas[] = {"avx512", "avx2", "sse2", "generic"};
  const int d = 333;
  std::vector<double> a(d), b(d);
  double worst = 0;
  for (std::uint64_t k = 0; k < 200; ++k) {
    const std::uint64_t seed = 0x9E3779B97F4A7C15ull * (k + 1), row = (k * 0x2545F4914F6CDD1Dull) >> (k % 40);
    const std::uint32_t stream = std::uint32_t(k % 7);
    hmi::est::fill_gaussian_row(seed, stream, row, d, a.data());
    for (const char* isa : isas)
      if (hmi::est::fill_gaussian_row_isa(isa, seed, stream, row, d, b.data()) && std::memcmp(a.data(), b.data(), d * sizeof(double)))
        return -1;
    for (int j = 0; j < d; ++j) {
      const long double z = hmi::verify::gaussian_reference::normal(seed, stream, row, std::uint64_t(j)).value;
      if (z != 0) worst = std::max(worst, double(std::fabs((a[j] - z) / z)));
    }
  }
  return worst;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const double err = generator_self_check();
  // A few ulp: x = m W[i] is one rounding; the tail's r + log(u) / r a few more.
  if (err < 0 || err > 4e-15) {
    std::fprintf(stderr, "hmi_bench: Gaussian generator self-check failed (%s, max relative error %.3g); not timing it\n",
                 err < 0 ? "instruction sets disagree" : "inaccurate", err);
    return 2;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", err);
  benchmark::AddCustomContext("hmi_git_commit", hmi::build::git_commit);
  benchmark::AddCustomContext("hmi_compiler", hmi::build::compiler);
  benchmark::AddCustomContext("hmi_build_type", hmi::build::build_type);
  benchmark::AddCustomContext("openblas", hmi::est::blas::config());
  benchmark::AddCustomContext("gaussian_isa", hmi::est::gaussian_isa());
  benchmark::AddCustomContext("gaussian_max_rel_error", buf);
  benchmark::AddCustomContext("hardware_threads", std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("loadavg_at_start", load_average());
  if (const char* e = std::getenv("HMI_BENCH_INJECT_DELAY_PCT")) benchmark::AddCustomContext("INJECTED_DELAY_PCT", e);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

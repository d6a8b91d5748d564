#include "estimators/data.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <xtensor-blas/xlinalg.hpp>

#include "estimators/blas_kernels.hpp"

namespace hmi::est {
namespace {
constexpr std::uint64_t kKeyTag = 0x686d692d64617461;  // "hmi-data"
}

void fill_gaussian_row(std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int count, double* out) {
  r123::Philox4x64 rng;
  const r123::Philox4x64::key_type key{{seed, kKeyTag}};
  int j = 0;
  for (; j + 4 <= count; j += 4) {
    const auto r = rng({{row, std::uint64_t(j / 4), stream, 0}}, key);
    const auto a = r123::boxmuller(r[0], r[1]), b = r123::boxmuller(r[2], r[3]);
    out[j] = a.x; out[j + 1] = a.y; out[j + 2] = b.x; out[j + 3] = b.y;
  }
  if (j < count) {
    const auto r = rng({{row, std::uint64_t(j / 4), stream, 0}}, key);
    const auto a = r123::boxmuller(r[0], r[1]), b = r123::boxmuller(r[2], r[3]);
    const double v[4] = {a.x, a.y, b.x, b.y};
    for (int m = 0; j < count; ++j, ++m) out[j] = v[m];
  }
}

Teacher make_teacher(const theory::ModelConfig& model, int d) {
  model.validate();
  const int p = model.num_directions();
  if (d < 1) throw std::invalid_argument("d = " + std::to_string(d) + " (must be >= 1)");
  if (p > d) throw std::invalid_argument("p = " + std::to_string(p) + " (must be <= d = " + std::to_string(d) + ")");
  Teacher t;
  t.d = d;
  t.p = p;
  t.seed = model.seed;
  t.lambda = model.lambdas();
  t.sigma = theory::make_activation(model.activation);
  t.noise = model.noise;
  t.T = model.preprocessing();
  xt::xtensor<double, 2> G = xt::zeros<double>({std::size_t(d), std::size_t(p)});
  std::vector<double> col(d);
  for (int k = 0; k < p; ++k) {
    fill_gaussian_row(model.seed, 1, std::uint64_t(k), d, col.data());
    for (int i = 0; i < d; ++i) G(i, k) = col[i];
  }
  auto qr = xt::linalg::qr(G, xt::linalg::qrmode::reduced);
  t.W = std::get<0>(qr);
  return t;
}

void generate_inputs(const Teacher& t, std::uint64_t first, int rows, double* X, int threads, std::uint64_t stream) {
  auto work = [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) fill_gaussian_row(t.seed, stream, first + std::uint64_t(r), t.d, X + std::size_t(r) * t.d);
  };
  threads = std::max(1, std::min(threads, rows / 64 + 1));
  if (threads == 1) return work(0, rows);
  std::vector<std::jthread> pool;
  for (int w = 0; w < threads; ++w) pool.emplace_back(work, rows * w / threads, rows * (w + 1) / threads);
}

void teacher_output(const Teacher& t, int rows, const double* Z, double* f) {
  for (int i = 0; i < rows; ++i) {
    double s = 0;
    for (int k = 0; k < t.p; ++k) s += t.lambda[k] * t.sigma.value(Z[std::size_t(i) * t.p + k]);
    f[i] = s;
  }
}

void labels(const Teacher& t, std::uint64_t first, int rows, const double* X, double* Z, double* y, std::uint64_t stream) {
  blas::gemm(rows, t.p, t.d, X, t.W.data(), Z);
  teacher_output(t, rows, Z, y);
  const double sd = std::sqrt(t.noise);
  // Label noise: stream 2 (+ 16 * data stream), one normal per sample.
  double xi[1];
  for (int i = 0; i < rows; ++i) {
    fill_gaussian_row(t.seed, 2 + 16 * stream, first + std::uint64_t(i), 1, xi);
    y[i] += sd * xi[0];
  }
}

}  // namespace hmi::est

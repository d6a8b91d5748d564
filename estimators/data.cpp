// The Gaussian generator is the hot loop of every simulation (n d normals per pass), so it is
// vectorised by hand: Philox4x32-10 on 32 counters at once (2, 4 or 8 lanes per vector) and the
// ziggurat's fast path on every 64-bit output word, and so is the rotation x = Q g of the
// inputs; both are compiled once per instruction set (SSE2 baseline, AVX2, AVX-512F) and chosen
// at run time. The ziggurat's rare slow path (wedges and tail, 0.43 % of words) is one scalar
// function shared by all of them. Determinism across instruction sets is kept by construction:
// only IEEE add/sub/mul/div and integer bit operations, exact integer acceptance tests, and no
// FMA contraction (the pragma below; GCC contracts a*b+c by default in C++, and AVX-512F would
// then fuse, changing the last bit). The pragma must precede every include so that all inlined
// code in this file carries the same options.
#pragma GCC optimize("fp-contract=off")
// The kernels pass 64-byte vectors between inline functions; GCC notes that their ABI would
// differ without AVX-512 (irrelevant: nothing here is an exported interface).
#pragma GCC diagnostic ignored "-Wpsabi"

#include "estimators/data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HMI_GAUSSIAN_X86 1
#endif

#include <xtensor-blas/xlinalg.hpp>

#include "estimators/blas_kernels.hpp"

namespace hmi::est {
namespace gauss {
using u32 = std::uint32_t;
using u64 = std::uint64_t;
// 32 Philox counters (pairs of normals) per chunk, whatever the vector width: the position of a
// normal in a row, j -> (chunk j/64, lane (j%64)%32, cos or sin), is fixed by this constant only.
// (32 rather than 16: more independent dependency chains per chunk, measured 10% faster.)
constexpr int kPairsPerChunk = 32;

#include "estimators/ziggurat_tables.inc"

// The ziggurat's slow path for the normal at position j of (seed, stream, row) whose 64-bit word
// `a` failed the fast test (defined below, after the generic instance it computes with).
double zig_slow(u64 seed, u32 stream, u64 row, u64 j, u64 a);

// Portable reference path (any GCC target): 2-lane vectors, scalar helpers.
namespace generic {
constexpr int kN = 2;
typedef u64 V __attribute__((vector_size(8 * kN)));
typedef std::int64_t S __attribute__((vector_size(8 * kN)));
typedef double D __attribute__((vector_size(8 * kN)));
inline V mul32(V x, u32 m) { return (x & 0xffffffffu) * u64(m); }
inline D gather_d(const double* t, V i) {
  D r;
  for (int l = 0; l < kN; ++l) r[l] = t[i[l]];
  return r;
}
inline V gather_i(const std::int64_t* t, V i) {
  V r;
  for (int l = 0; l < kN; ++l) r[l] = u64(t[i[l]]);
  return r;
}
inline unsigned mask_bits(S c) {
  unsigned m = 0;
  for (int l = 0; l < kN; ++l) m |= unsigned(c[l] != 0) << l;
  return m;
}
#include "estimators/gaussian_kernel.inc"
}  // namespace generic

// Slow path (Marsaglia & Tsang 2000), restarted with fresh words as the algorithm requires. The
// extra words come from Philox counters (2^31 + 128 j + attempt, row, stream), a range the fast
// path never uses (its first counter word is < 2^31 for j < 2^24): every normal stays a pure
// function of (seed, stream, row, j). Each draw gives two words: w0 for the wedge height (or
// the tail's first uniform), w1 for the restart (or the tail's second uniform). Plain scalar
// code (one call per ~230 normals) with the generic instance's Philox rounds and log.
double zig_slow(u64 seed, u32 stream, u64 row, u64 j, u64 a) {
  u64 attempt = 0;
  auto draw = [&](u64& w0, u64& w1) {
    if (attempt >= 128) throw std::runtime_error("ziggurat: 128 rejections in a row (probability < 1e-300)");
    using generic::splat;
    generic::V c0[1] = {splat((u64(1) << 31) | (j << 7) | attempt++)}, c1[1] = {splat(u32(row))},
               c2[1] = {splat(u32(row >> 32))}, c3[1] = {splat(stream)};
    generic::philox4x32_10(c0, c1, c2, c3, u32(seed), u32(seed >> 32));  // the vector kernels' rounds
    w0 = (c0[0][0] & 0xffffffffu) | (c1[0][0] << 32);
    w1 = (c2[0][0] & 0xffffffffu) | (c3[0][0] << 32);
  };
  auto log1 = [](double x) { return generic::log_positive(generic::D{x, x})[0]; };
  auto open_unit = [](u64 w) { return (double(w >> 12) + 0.5) * 0x1p-52; };  // in (0, 1), exact
  for (;;) {
    const int i = int(a & (kZigBoxes - 1));
    const double sign = (a & kZigBoxes) ? -1.0 : 1.0;
    const u64 m = a >> 12;
    const double x = double(m) * kZigW[i];  // the fast path's x, bit for bit
    if (std::int64_t(m) < kZigK[i]) return sign * x;
    u64 w0, w1;
    draw(w0, w1);
    if (i == 0) {  // beyond r: Marsaglia's tail, x = r + e1 / r with 2 e2 > (e1 / r)^2
      for (;;) {
        const double t = -log1(open_unit(w0)) / kZigR, e = -log1(open_unit(w1));
        if (e + e > t * t) return sign * (kZigR + t);
        draw(w0, w1);
      }
    }
    // Wedge of box i: a uniform height in [f(X[i]), f(X[i+1])) under f(x) = exp(-x^2 / 2)?
    const double y = kZigF[i] + double(w0 >> 12) * 0x1p-52 * (kZigF[i + 1] - kZigF[i]);
    if (log1(y) < -0.5 * x * x) return sign * x;
    a = w1;  // rejected: start again with a fresh word
  }
}

#if HMI_GAUSSIAN_X86
// x86-64 baseline: SSE2 is always there.
namespace sse2 {
constexpr int kN = 2;
typedef u64 V __attribute__((vector_size(8 * kN)));
typedef std::int64_t S __attribute__((vector_size(8 * kN)));
typedef double D __attribute__((vector_size(8 * kN)));
inline V mul32(V x, u32 m) { return (V)_mm_mul_epu32((__m128i)x, _mm_set1_epi64x(m)); }
inline D gather_d(const double* t, V i) { return D{t[i[0]], t[i[1]]}; }
inline V gather_i(const std::int64_t* t, V i) { return V{u64(t[i[0]]), u64(t[i[1]])}; }
inline unsigned mask_bits(S c) { return unsigned(_mm_movemask_pd((__m128d)c)); }
#include "estimators/gaussian_kernel.inc"
}  // namespace sse2

#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
constexpr int kN = 4;
typedef u64 V __attribute__((vector_size(8 * kN)));
typedef std::int64_t S __attribute__((vector_size(8 * kN)));
typedef double D __attribute__((vector_size(8 * kN)));
inline V mul32(V x, u32 m) { return (V)_mm256_mul_epu32((__m256i)x, _mm256_set1_epi64x(m)); }
inline D gather_d(const double* t, V i) { return (D)_mm256_i64gather_pd(t, (__m256i)i, 8); }
inline V gather_i(const std::int64_t* t, V i) { return (V)_mm256_i64gather_epi64((const long long*)t, (__m256i)i, 8); }
inline unsigned mask_bits(S c) { return unsigned(_mm256_movemask_pd((__m256d)c)); }
#include "estimators/gaussian_kernel.inc"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
// GCC 12 warns about its own _mm512_undefined_* self-initialisation (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace avx512 {
constexpr int kN = 8;
typedef u64 V __attribute__((vector_size(8 * kN)));
typedef std::int64_t S __attribute__((vector_size(8 * kN)));
typedef double D __attribute__((vector_size(8 * kN)));
inline V mul32(V x, u32 m) { return (V)_mm512_mul_epu32((__m512i)x, _mm512_set1_epi64(m)); }
inline D gather_d(const double* t, V i) { return (D)_mm512_i64gather_pd((__m512i)i, t, 8); }
inline V gather_i(const std::int64_t* t, V i) { return (V)_mm512_i64gather_epi64((__m512i)i, t, 8); }
inline unsigned mask_bits(S c) { return unsigned(_mm512_test_epi64_mask((__m512i)c, (__m512i)c)); }
#include "estimators/gaussian_kernel.inc"
}  // namespace avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

struct Kernels {
  void (*row)(u64, u32, u64, int, double*);
  void (*first_of_rows)(u64, u32, u64, int, double*);
  void (*householder_row)(const double*, const double*, const double*, int, int, int, double*, double*);
  const char* name;
};

// Kernels this CPU (and OS) can run, widest first.
std::vector<Kernels> available() {
  std::vector<Kernels> k;
#if HMI_GAUSSIAN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) k.push_back({avx512::fill_row, avx512::fill_first_of_rows, avx512::householder_row, "avx512"});
  if (__builtin_cpu_supports("avx2")) k.push_back({avx2::fill_row, avx2::fill_first_of_rows, avx2::householder_row, "avx2"});
  k.push_back({sse2::fill_row, sse2::fill_first_of_rows, sse2::householder_row, "sse2"});
#endif
  k.push_back({generic::fill_row, generic::fill_first_of_rows, generic::householder_row, "generic"});
  return k;
}

// The widest instruction set; HMI_GAUSSIAN_ISA=generic|sse2|avx2|avx512 forces one (to time them;
// they agree bit for bit, see fill_gaussian_row_isa).
Kernels pick() {
  const std::vector<Kernels> k = available();
  if (const char* e = std::getenv("HMI_GAUSSIAN_ISA"))
    for (const Kernels& c : k)
      if (std::strcmp(c.name, e) == 0) return c;
  return k.front();
}

const Kernels& kernels() {
  static const Kernels k = pick();
  return k;
}

std::uint32_t checked_stream(std::uint64_t stream) {
  if (stream >> 32)
    throw std::invalid_argument("stream = " + std::to_string(stream) + " (must be < 2^32: it is the 4th Philox4x32 counter word)");
  return std::uint32_t(stream);
}

// The slow path numbers its extra Philox counters by j (zig_slow), which needs j < 2^24.
int checked_count(int count) {
  if (count > (1 << 24))
    throw std::invalid_argument("count = " + std::to_string(count) + " (must be <= 16777216 normals per row)");
  return count;
}
}  // namespace gauss

const char* gaussian_isa() { return gauss::kernels().name; }

bool fill_gaussian_row_isa(const char* isa, std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int count,
                           double* out) {
  for (const gauss::Kernels& k : gauss::available())
    if (std::strcmp(k.name, isa) == 0) {
      if (count > 0) k.row(seed, gauss::checked_stream(stream), row, gauss::checked_count(count), out);
      return true;
    }
  return false;
}

void fill_gaussian_row(std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int count, double* out) {
  if (count <= 0) return;
  gauss::kernels().row(seed, gauss::checked_stream(stream), row, gauss::checked_count(count), out);
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

namespace detail {

// Householder QR of W (d x p): for column k, v = x - beta e_1 scaled to v_k = 1,
// tau = (beta - alpha) / beta, beta = -sign(alpha) |x| (LAPACK's dgeqr2 convention; tau = 0 when
// the column is already reduced). T from the reflectors as LAPACK's dlarft (forward,
// columnwise): T(0:k, k) = -tau_k T(0:k, 0:k) V(:, 0:k)^T v_k.
TeacherBasis teacher_basis(const Teacher& t) {
  const int d = t.d, p = t.p;
  TeacherBasis b;
  b.d = d;
  b.p = p;
  b.pp = (p + 7) / 8 * 8;
  b.V.assign(std::size_t(d) * p, 0.0);  // d x p while building, padded to d x pp below
  b.T.assign(std::size_t(p) * p, 0.0);
  b.R.assign(std::size_t(p) * p, 0.0);
  std::vector<double> A(t.W.begin(), t.W.end()), tau(p, 0.0);  // d x p row-major
  auto a = [&](int i, int j) -> double& { return A[std::size_t(i) * p + j]; };
  auto v = [&](int i, int j) -> double& { return b.V[std::size_t(i) * p + j]; };
  for (int k = 0; k < p; ++k) {
    const double alpha = a(k, k);
    double sigma2 = 0;
    for (int i = k + 1; i < d; ++i) sigma2 += a(i, k) * a(i, k);
    v(k, k) = 1.0;
    if (sigma2 == 0) {  // nothing to annihilate: H_k = I
      b.R[std::size_t(k) * p + k] = alpha;
    } else {
      const double beta = -std::copysign(std::sqrt(alpha * alpha + sigma2), alpha);
      tau[k] = (beta - alpha) / beta;
      const double scale = 1.0 / (alpha - beta);
      for (int i = k + 1; i < d; ++i) v(i, k) = a(i, k) * scale;
      b.R[std::size_t(k) * p + k] = beta;
      for (int j = k + 1; j < p; ++j) {  // A(k:, j) -= tau v (v^T A(k:, j))
        double s = a(k, j);
        for (int i = k + 1; i < d; ++i) s += v(i, k) * a(i, j);
        s *= tau[k];
        a(k, j) -= s;
        for (int i = k + 1; i < d; ++i) a(i, j) -= s * v(i, k);
      }
    }
    for (int j = k + 1; j < p; ++j) b.R[std::size_t(k) * p + j] = a(k, j);
  }
  for (int k = 0; k < p; ++k) {
    b.T[std::size_t(k) * p + k] = tau[k];
    std::vector<double> w(k, 0.0);  // w = V(:, 0:k)^T v_k (v_k vanishes above row k)
    for (int l = 0; l < k; ++l)
      for (int i = k; i < d; ++i) w[l] += v(i, l) * v(i, k);
    for (int i = 0; i < k; ++i) {
      double s = 0;
      for (int l = i; l < k; ++l) s += b.T[std::size_t(i) * p + l] * w[l];
      b.T[std::size_t(i) * p + k] = -tau[k] * s;
    }
  }
  std::vector<double> Vp(std::size_t(d) * b.pp, 0.0);
  b.Vt.assign(std::size_t(p) * d, 0.0);
  for (int i = 0; i < d; ++i)
    for (int k = 0; k < p; ++k) Vp[std::size_t(i) * b.pp + k] = b.Vt[std::size_t(k) * d + i] = v(i, k);
  b.V = std::move(Vp);
  return b;
}

// X <- X Q^T, row by row (x = g - V (T (V^T g)), estimators/gaussian_kernel.inc).
void raw_to_inputs(const TeacherBasis& b, int rows, double* X) {
  if (b.p == 0) return;
  std::vector<double> work(std::size_t(b.pp) + b.p);
  const auto kernel = gauss::kernels().householder_row;
  for (int r = 0; r < rows; ++r)
    kernel(b.V.data(), b.Vt.data(), b.T.data(), b.d, b.p, b.pp, work.data(), X + std::size_t(r) * b.d);
}

// Q M Q^T = ((M Q^T)^T Q^T) for symmetric M; the result is symmetrised from its upper triangle.
void raw_to_inputs_gram(const TeacherBasis& b, double* M) {
  const int d = b.d;
  raw_to_inputs(b, d, M);  // M Q^T
  for (int i = 0; i < d; ++i)
    for (int j = i + 1; j < d; ++j) std::swap(M[std::size_t(i) * d + j], M[std::size_t(j) * d + i]);
  raw_to_inputs(b, d, M);  // (M Q^T)^T Q^T = Q M Q^T
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < i; ++j) M[std::size_t(i) * d + j] = M[std::size_t(j) * d + i];
}

// W^T x = [R^T 0] Q^T Q g = R^T g[0..p): Z_ik = sum_{l <= k} G_il R_lk.
void projections_from_raw(const TeacherBasis& b, int rows, const double* G, int ldg, double* Z) {
  const int p = b.p;
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < p; ++k) {
      double s = 0;
      for (int l = 0; l <= k; ++l) s += G[std::size_t(r) * ldg + l] * b.R[std::size_t(l) * p + k];
      Z[std::size_t(r) * p + k] = s;
    }
}

void labels_from_projections(const Teacher& t, std::uint64_t first, int rows, const double* Z, double* y,
                             std::uint64_t stream) {
  if (stream >= (std::uint64_t(1) << 28))
    throw std::invalid_argument("stream = " + std::to_string(stream) + " (must be < 2^28: the label noise uses stream 2 + 16 stream)");
  teacher_output(t, rows, Z, y);
  const double sd = std::sqrt(t.noise);
  // Label noise: value j = 0 of row i in stream 2 (+ 16 * data stream), i.e. exactly
  // fill_gaussian_row(seed, 2 + 16 stream, i, 1), computed with the lanes across rows.
  const std::uint32_t noise_stream = std::uint32_t(2 + 16 * stream);
  constexpr int kBatch = 256;
  double xi[kBatch];
  for (int i0 = 0; i0 < rows; i0 += kBatch) {
    const int m = std::min(kBatch, rows - i0);
    gauss::kernels().first_of_rows(t.seed, noise_stream, first + std::uint64_t(i0), m, xi);
    for (int i = 0; i < m; ++i) y[i0 + i] += sd * xi[i];
  }
}

}  // namespace detail

void generate_inputs(const Teacher& t, std::uint64_t first, int rows, double* X, int threads, std::uint64_t stream) {
  gauss::checked_stream(stream);  // throw here, not inside a worker thread
  const detail::TeacherBasis basis = detail::teacher_basis(t);
  auto work = [&](int r0, int r1) {
    std::vector<double> tmp(std::size_t(basis.pp) + basis.p);
    const auto rotate = gauss::kernels().householder_row;
    for (int r = r0; r < r1; ++r) {  // raw normals, rotated while the row is in L1
      double* x = X + std::size_t(r) * t.d;
      fill_gaussian_row(t.seed, stream, first + std::uint64_t(r), t.d, x);
      rotate(basis.V.data(), basis.Vt.data(), basis.T.data(), t.d, t.p, basis.pp, tmp.data(), x);
    }
  };
  const int workers = std::max(1, std::min(threads, rows / 64 + 1));
  if (workers == 1) return work(0, rows);
  std::vector<std::jthread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(work, rows * w / workers, rows * (w + 1) / workers);
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
  detail::labels_from_projections(t, first, rows, Z, y, stream);
}

}  // namespace hmi::est

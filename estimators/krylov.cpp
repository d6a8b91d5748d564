#include "estimators/krylov.hpp"

#include "numerics/resources.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "estimators/blas_kernels.hpp"
#include "theory/numerics.hpp"

namespace hmi::est {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Rows per generation chunk: fixed, so that which normals a row receives never depends on the
// thread count (column g, chunk c: row (g << 20) | c of the column stream).
constexpr std::uint64_t kChunk = 1 << 16;

std::string gigabytes(double bytes) {
  std::ostringstream s;
  s.precision(3);
  s << bytes / 1e9 << " GB";
  return s.str();
}

// Tall panels: column-major n x k, leading dimension n, pages touched only when written.
struct Panel {
  std::unique_ptr<double[]> data;
  std::size_t n = 0;
  Panel(std::size_t rows, std::size_t cols) : data(new double[std::max<std::size_t>(1, rows * cols)]), n(rows) {}
  double* col(std::size_t j) { return data.get() + j * n; }
};

// Fresh N(0, 1) columns [g0, g0 + k) of length n into out (column-major, ld n).
void gaussian_columns(std::uint64_t seed, std::uint64_t g0, int k, std::uint64_t n, double* out, int threads) {
  const std::uint64_t chunks = (n + kChunk - 1) / kChunk;
  theory::parallel_for(int(chunks) * k, threads, [&](int job) {
    const std::uint64_t c = std::uint64_t(job) % chunks, j = std::uint64_t(job) / chunks;
    const std::uint64_t r0 = c * kChunk, len = std::min(kChunk, n - r0);
    fill_gaussian_row(seed, kKrylovColumnStream, ((g0 + j) << 20) | c, int(len), out + j * n + r0);
  });
}

// A chi-square variate with `dof` degrees of freedom: the sum of dof squared normals (exact in
// law; O(d) per draw and at most width * blocks draws, so linear in d like the rest).
double chi_square(std::uint64_t seed, std::uint64_t index, int dof, std::vector<double>& buf) {
  buf.resize(dof);
  fill_gaussian_row(seed, kKrylovChiStream, index, dof, buf.data());
  double s = 0;
  for (double v : buf) s += v * v;
  return s;
}

}  // namespace

void KrylovConfig::validate(int p) const {
  if (d < 2 || d > 16'000'000) throw std::invalid_argument("d = " + std::to_string(d) + " (must be an integer in [2, 16000000])");
  if (p >= d) throw std::invalid_argument("p = " + std::to_string(p) + " (must be < d = " + std::to_string(d) + ")");
  if (!std::isfinite(alpha) || alpha <= 0 || alpha * d > 1e11)
    throw std::invalid_argument("alpha = " + theory::format_number(alpha) + " (must be finite, > 0, with alpha*d <= 1e11)");
  if (top < 0 || top > 100000) throw std::invalid_argument("top = " + std::to_string(top) + " (must be in [0, 100000]; 0 = automatic)");
  if (threads < 1 || threads > 256) throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be in [1, 256])");
  if (complement < 0 || complement > 256)
    throw std::invalid_argument("complement = " + std::to_string(complement) + " (must be in [0, 256])");
  if (max_blocks < 1 || max_blocks > 10000)
    throw std::invalid_argument("blocks = " + std::to_string(max_blocks) + " (must be in [1, 10000])");
  if (min_blocks < 1 || min_blocks > max_blocks)
    throw std::invalid_argument("min_blocks = " + std::to_string(min_blocks) + " (must be in [1, blocks = " +
                                std::to_string(max_blocks) + "])");
  if (!(tol > 0) || !(tol < 1)) throw std::invalid_argument("tol = " + theory::format_number(tol) + " (must be in (0, 1))");
  if (!(edge_margin >= 0) || !std::isfinite(edge_margin))
    throw std::invalid_argument("edge_margin = " + theory::format_number(edge_margin) + " (must be finite and >= 0)");
  // One block must fit: complement + (p + complement) revealed directions in R^(d - p).
  if (d - p < complement + width(p))
    throw std::invalid_argument("d = " + std::to_string(d) + " (must be >= 2 p + 2 complement = " + std::to_string(2 * p + 2 * complement) +
                                " for the krylov engine; use --engine direct or a smaller --complement)");
  if (n() < std::uint64_t(2 * width(p)))
    throw std::invalid_argument("alpha = " + theory::format_number(alpha) + " (alpha*d must give at least 2 (p + complement) samples)");
}

std::uint64_t KrylovConfig::n() const { return std::uint64_t(std::llround(alpha * d)); }

int KrylovConfig::block_budget(int p) const {
  const long long b = width(p);
  const long long by_d = (static_cast<long long>(d) - p - complement) / b;   // chi-square degrees of freedom stay >= 1
  const long long by_n = static_cast<long long>(n()) / b - 1;              // the left basis fits in R^n
  return int(std::max<long long>(1, std::min<long long>({max_blocks, by_d, by_n})));
}

std::uint64_t krylov_memory_bound(const KrylovConfig& cfg, int p) {
  const std::uint64_t n = cfg.n(), b = std::uint64_t(cfg.width(p)), blocks = std::uint64_t(cfg.block_budget(p));
  // s, the current block Y, the fresh columns N, the left basis L (b per block); pass 1 keeps
  // per-worker chunks of (2 p + 2) doubles a row; the small matrices are (b blocks)^2.
  const std::uint64_t tall = n * (1 + 2 * b + b * blocks);  // Y, and L with one block of room
  const std::uint64_t small = std::uint64_t(cfg.threads) * kChunk * (2 * p + 2) + std::uint64_t(cfg.d) +
                              3 * (b * blocks) * (b * blocks) + 16 * b * b * blocks;
  return 8 * (tall + small);
}

KrylovResult run_krylov(const Teacher& t, const KrylovConfig& cfg) {
  const int p = t.p;
  cfg.validate(p);
  if (cfg.d != t.d) throw std::invalid_argument("d = " + std::to_string(cfg.d) + " (must equal the teacher's d = " + std::to_string(t.d) + ")");
  const auto t0 = Clock::now();
  KrylovResult res;
  const std::uint64_t n = cfg.n();
  const int c = cfg.complement, b = cfg.width(p), m = t.d - p, budget = cfg.block_budget(p);
  res.n = n;
  res.memory_bound = krylov_memory_bound(cfg, p);
  const double avail = cfg.memory_limit > 0 ? cfg.memory_limit : double(available_memory());
  if (avail > 0 && double(res.memory_bound) > avail)
    throw std::invalid_argument("d = " + std::to_string(cfg.d) + ", alpha = " + theory::format_number(cfg.alpha) +
                                ": the krylov engine needs up to " + gigabytes(double(res.memory_bound)) + " (n = " +
                                std::to_string(n) + ", " + std::to_string(budget) + " blocks of " + std::to_string(b) +
                                " columns) but " + gigabytes(avail) + " are available (the estimate must fit in MemAvailable: lower the block budget or alpha)");
  const int threads = cfg.threads;
  // Parallelism is ours (row chunks): single-threaded BLAS, no idle OpenBLAS workers spinning.
  blas::set_threads(1);
  if (threads > 1) blas::release_idle_threads();

  // Pass 1: teacher coordinates z_i = R^T g_i[0..p) from the first p raw normals of row i and
  // the labels, exactly as the direct engine (so one seed gives both engines the same labels);
  // z goes into the first p columns of the starting block Y, T(y_i) into s.
  // L holds the revealed left basis plus one block of room: the fresh columns N of the next
  // block sit right after R_j, so that [R_j | N] is projected off L in one pass.
  Panel s(n, 1), Y(n, std::size_t(b));
  Panel L(n, std::size_t(b) * std::size_t(budget + 1));
  const detail::TeacherBasis basis = detail::teacher_basis(t);
  const std::uint64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> csum(chunks), ccomp(chunks);
  theory::parallel_for(int(chunks), threads, [&](int job) {
    const std::uint64_t r0 = std::uint64_t(job) * kChunk, len = std::min(kChunk, n - r0);
    std::vector<double> G(len * p), Zr(len * p), y(len);
    for (std::uint64_t r = 0; r < len; ++r) fill_gaussian_row(t.seed, 0, r0 + r, p, &G[r * p]);
    detail::projections_from_raw(basis, int(len), G.data(), p, Zr.data());
    detail::labels_from_projections(t, r0, int(len), Zr.data(), y.data());
    double sum = 0, comp = 0;  // Neumaier-compensated, as the direct engine's exact centring
    for (std::uint64_t r = 0; r < len; ++r) {
      const double v = t.T(y[r]), u = sum + v;
      comp += std::abs(sum) >= std::abs(v) ? (sum - u) + v : (v - u) + sum;
      sum = u;
      s.data[r0 + r] = v;
      for (int k = 0; k < p; ++k) Y.col(k)[r0 + r] = Zr[r * p + k];
    }
    csum[job] = sum;
    ccomp[job] = comp;
  });
  double total = 0, total_c = 0;  // chunk order: independent of the thread count
  for (std::uint64_t j = 0; j < chunks; ++j)
    for (double v : {csum[j], ccomp[j]}) {
      const double u = total + v;
      total_c += std::abs(total) >= std::abs(v) ? (total - u) + v : (v - u) + total;
      total = u;
    }
  res.mean_T = (total + total_c) / double(n);
  for (std::uint64_t i = 0; i < n; ++i) s.data[i] = (s.data[i] - res.mean_T) / double(n);
  // The complement directions u_1..u_c: nothing is revealed yet, so H u_j is a fresh Gaussian column.
  gaussian_columns(t.seed, 0, c, n, Y.col(p), threads);
  std::uint64_t next_column = std::uint64_t(c);
  res.labels_s = seconds_since(t0);

  // Block Lanczos. Block j has Y_j = X [basis block j] (n x b); R_j = S Y_j = its M-image in
  // sample space. Rayleigh-Ritz matrix (block tridiagonal, exact arithmetic):
  //   A_jj = Y_j^T R_j,   A_{j+1,j} = Y_{j+1}^T R_j = B_j C_j,  other blocks 0,
  // because every R_i lies in span(L) and L^T Y_{j+1} = [0 .. 0, B_j^T] (docs/krylov.md).
  const auto t1 = Clock::now();
  std::vector<std::vector<double>> diag, sub;  // b x b column-major blocks
  std::vector<double> chi_buf, tmp, Bj(std::size_t(b) * b), Cj(std::size_t(b) * b), C2(std::size_t(b) * b);
  const std::uint64_t row_chunks = chunks;
  auto rows_parallel = [&](auto&& f) {
    theory::parallel_for(int(row_chunks), threads, [&](int job) {
      const std::uint64_t r0 = std::uint64_t(job) * kChunk;
      f(r0, std::min(kChunk, n - r0));
    });
  };
  // X -= L[:, 0:k] (L[:, 0:k]^T X) for a panel X of w columns (classical Gram-Schmidt), then
  // once more for its first w2 columns ("twice is enough"). The tall products are split over
  // row chunks of kSweep rows, each worker calling single-threaded BLAS on chunks that stay in
  // cache, and the update of one pass is fused with the inner products of the next: L is read
  // three times per double projection instead of four, and never packed whole by the BLAS.
  // Partial inner products are summed per worker, then in worker order (rounding only).
  constexpr std::uint64_t kSweep = 2048;
  const std::uint64_t sweeps = (n + kSweep - 1) / kSweep;
  const int workers = int(std::max<std::uint64_t>(1, std::min<std::uint64_t>(std::uint64_t(threads), sweeps)));
  std::vector<std::vector<double>> part(workers);
  auto sweep = [&](auto&& f) {
    theory::parallel_for(workers, workers, [&](int w) {
      for (std::uint64_t q = std::uint64_t(w); q < sweeps; q += std::uint64_t(workers)) {
        const std::uint64_t r0 = q * kSweep;
        f(w, r0, int(std::min(kSweep, n - r0)));
      }
    });
  };
  auto reduce = [&](std::size_t size) {
    tmp.assign(size, 0.0);
    for (const auto& pw : part)
      for (std::size_t i = 0; i < size; ++i) tmp[i] += pw[i];
  };
  std::vector<double> T1;
  auto project = [&](double* X, int w, int w2, int k) {
    if (k == 0) return;
    const int ld = int(n);
    const double* L0 = L.col(0);
    for (auto& pw : part) pw.assign(std::size_t(k) * w, 0.0);
    sweep([&](int wk, std::uint64_t r0, int rows) {  // T1 = L^T X
      blas::gemm_cm(true, false, k, w, rows, 1.0, L0 + r0, ld, X + r0, ld, 1.0, part[wk].data(), k);
    });
    reduce(std::size_t(k) * w);
    T1 = tmp;
    for (auto& pw : part) pw.assign(std::size_t(k) * w2, 0.0);
    sweep([&](int wk, std::uint64_t r0, int rows) {  // X -= L T1; T2 = L^T X[:, 0:w2]
      blas::gemm_cm(false, false, rows, w, k, -1.0, L0 + r0, ld, T1.data(), k, 1.0, X + r0, ld);
      if (w2 > 0) blas::gemm_cm(true, false, k, w2, rows, 1.0, L0 + r0, ld, X + r0, ld, 1.0, part[wk].data(), k);
    });
    if (w2 == 0) return;
    reduce(std::size_t(k) * w2);
    sweep([&](int, std::uint64_t r0, int rows) {  // X[:, 0:w2] -= L T2
      blas::gemm_cm(false, false, rows, w2, k, -1.0, L0 + r0, ld, tmp.data(), k, 1.0, X + r0, ld);
    });
  };
  xt::xtensor<double, 1> theta;
  xt::xtensor<double, 2> V;
  std::vector<int> order;
  std::vector<double> resid;
  int prev_watched = -1;
  res.stop_reason = "budget";
  int j = 0;
  for (;; ++j) {
    const int rL = b * j;  // left basis columns before this reveal
    double* R = L.col(std::size_t(rL));
    rows_parallel([&](std::uint64_t r0, std::uint64_t len) {
      for (int q = 0; q < b; ++q)
        for (std::uint64_t i = r0; i < r0 + len; ++i) R[std::size_t(q) * n + i] = s.data[i] * Y.col(q)[i];
    });
    std::vector<double> A(std::size_t(b) * b);
    blas::gemm_cm(true, false, b, b, int(n), 1.0, Y.col(0), int(n), R, int(n), 0.0, A.data(), b);
    for (int a = 0; a < b; ++a)
      for (int q = 0; q < a; ++q) A[std::size_t(q) * b + a] = A[std::size_t(a) * b + q] = 0.5 * (A[std::size_t(q) * b + a] + A[std::size_t(a) * b + q]);
    diag.push_back(A);

    // reveal(R_j): R' = (I - P_L) R twice; R' = Q C; H^T R = [old u] (HU)^T R + [new u] B C.
    // The next block's fresh columns N (independent of everything) ride along in the first pass.
    const bool more = j + 1 < budget;
    double* Nj = R + n * std::size_t(b);
    if (more) {
      gaussian_columns(t.seed, next_column, b, n, Nj, threads);
      next_column += std::uint64_t(b);
    }
    if (cfg.fault != KrylovConfig::Fault::no_reorthogonalisation) {
      project(R, more ? 2 * b : b, b, rL);
    } else if (more) {
      project(Nj, b, 0, rL);
    }
    if (blas::householder_qr(int(n), b, R, int(n), Cj.data()) != 0) throw std::runtime_error("krylov: QR failed");
    // A nearly dependent block (a converged direction) leaves Q's trailing columns shaped by
    // rounding: project Q off L again so the revealed basis stays orthonormal.
    double cmax = 0, cmin = INFINITY;
    for (int a = 0; a < b; ++a) {
      cmax = std::max(cmax, std::abs(Cj[std::size_t(a) * b + a]));
      cmin = std::min(cmin, std::abs(Cj[std::size_t(a) * b + a]));
    }
    if (rL > 0 && cfg.fault != KrylovConfig::Fault::no_reorthogonalisation && !(cmin > 1e-6 * cmax)) {
      project(R, b, 0, rL);
      if (blas::householder_qr(int(n), b, R, int(n), C2.data()) != 0) throw std::runtime_error("krylov: QR failed");
      std::vector<double> CC(std::size_t(b) * b, 0.0);  // C <- C2 C (both upper triangular)
      blas::gemm_cm(false, false, b, b, b, 1.0, C2.data(), b, Cj.data(), b, 0.0, CC.data(), b);
      Cj = CC;
    }
    // Bartlett factor of the (m - r) x b Gaussian G^T Q, r = directions revealed so far:
    // B_aa = sqrt(chi^2_{m - r - a}) (a = 0..b-1), B_qa ~ N(0, 1) above the diagonal.
    const int r_u = c + b * j;
    std::vector<double> off(std::size_t(b) * b);
    fill_gaussian_row(t.seed, kKrylovOffStream, std::uint64_t(j), b * b, off.data());
    std::fill(Bj.begin(), Bj.end(), 0.0);
    for (int a = 0; a < b; ++a) {
      const int dof = cfg.fault == KrylovConfig::Fault::chi2_ignores_revealed ? m - a : m - r_u - a;
      Bj[std::size_t(a) * b + a] = std::sqrt(chi_square(t.seed, std::uint64_t(j) * b + a, dof, chi_buf));
      for (int q = 0; q < a; ++q) Bj[std::size_t(a) * b + q] = off[std::size_t(q) * b + a];
    }
    std::vector<double> BC(std::size_t(b) * b);
    blas::gemm_cm(false, false, b, b, b, 1.0, Bj.data(), b, Cj.data(), b, 0.0, BC.data(), b);
    sub.push_back(BC);

    // Rayleigh-Ritz on blocks 0..j; the residual of Ritz vector y is ||B_j C_j y_(block j)||.
    // Not before min_blocks - 1 (no stop is possible there; the dense eigensolver dominates small n).
    if (j + 2 >= cfg.min_blocks || j + 1 >= budget) {
    const int dim = b * (j + 1);
    xt::xtensor<double, 2> T = xt::zeros<double>({std::size_t(dim), std::size_t(dim)});
    bool finite = true;
    for (int q = 0; q <= j; ++q)
      for (int a = 0; a < b; ++a)
        for (int e = 0; e < b; ++e) {
          const double v = diag[q][std::size_t(e) * b + a];
          finite = finite && std::isfinite(v);
          T(q * b + a, q * b + e) = v;
          if (q < j) T((q + 1) * b + a, q * b + e) = T(q * b + e, (q + 1) * b + a) = sub[q][std::size_t(e) * b + a];
        }
    if (!finite) {
      res.stop_reason = "non_finite";
      break;
    }
    const auto eig = xt::linalg::eigh(T);
    theta = std::get<0>(eig);
    V = std::get<1>(eig);
    order.resize(dim);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int e) { return std::abs(theta(a)) > std::abs(theta(e)); });
    const int K = std::min(dim, cfg.top > 0 ? cfg.top : std::max(2 * p, p + 8));
    resid.assign(K, 0.0);
    double scale = 0;
    for (int a = 0; a < dim; ++a) scale = std::max(scale, std::abs(theta(a)));
    for (int a = 0; a < K; ++a) {
      double r2 = 0;
      for (int e = 0; e < b; ++e) {
        double v = 0;
        for (int q = 0; q < b; ++q) v += BC[std::size_t(q) * b + e] * V(j * b + q, order[a]);
        r2 += v * v;
      }
      resid[a] = std::sqrt(r2);
    }
    // Watched pairs: beyond the given bulk edges, else the top min(p, K).
    const bool edges = std::isfinite(cfg.edge_upper) && std::isfinite(cfg.edge_lower);
    int watched = 0, done = 0;
    for (int a = 0; a < K; ++a) {
      const double v = theta(order[a]);
      const bool w = edges ? (v > cfg.edge_upper + cfg.edge_margin * std::abs(cfg.edge_upper) ||
                              v < cfg.edge_lower - cfg.edge_margin * std::abs(cfg.edge_lower))
                           : a < std::min(p, K);
      watched += w;
      done += w && resid[a] <= cfg.tol * scale;
    }
    // Stop when every watched pair has converged, their number did not change in the last
    // block (a weak outlier may still be emerging from the bulk), and min_blocks are done.
    if (j + 1 >= cfg.min_blocks && done == watched && watched == prev_watched) {
      res.stop_reason = "converged";
      break;
    }
    prev_watched = watched;
    if (j + 1 >= budget) break;
    }

    // Next block: Y_{j+1} = H U_new = Q B^T + (I - P_L) N, L now including Q: N was projected
    // off the old L above; off Q here (twice: cheap, b columns).
    for (int pass = 0; pass < 2; ++pass) {
      tmp.resize(std::size_t(b) * b);
      blas::gemm_cm(true, false, b, b, int(n), 1.0, R, int(n), Nj, int(n), 0.0, tmp.data(), b);
      blas::gemm_cm(false, false, int(n), b, b, -1.0, R, int(n), tmp.data(), b, 1.0, Nj, int(n));
    }
    std::copy(Nj, Nj + n * std::size_t(b), Y.col(0));
    blas::gemm_cm(false, true, int(n), b, b, 1.0, R, int(n), Bj.data(), b, 1.0, Y.col(0), int(n));
  }
  res.blocks = j + 1;
  res.krylov_s = seconds_since(t1);

  // Output: the top K Ritz pairs, their residuals and flags; metrics on the converged ones.
  if (res.stop_reason != "non_finite") {
    const int dim = int(theta.size());
    const int K = std::min(dim, cfg.top > 0 ? cfg.top : std::max(2 * p, p + 8));
    res.dimension = dim;
    double scale = 0;
    for (int a = 0; a < dim; ++a) scale = std::max(scale, std::abs(theta(a)));
    res.eig.vectors = xt::zeros<double>({std::size_t(dim), std::size_t(K)});
    std::vector<int> conv;
    for (int a = 0; a < K; ++a) {
      res.eig.values.push_back(theta(order[a]));
      for (int e = 0; e < dim; ++e) res.eig.vectors(e, a) = V(e, order[a]);
      res.residuals.push_back(resid[a]);
      res.converged.push_back(resid[a] <= cfg.tol * scale);
      if (res.converged.back()) conv.push_back(a);
      res.eig.residual = std::max(res.eig.residual, res.converged.back() ? resid[a] : 0.0);
    }
    res.eig.iterations = res.blocks;
    res.eig.status = res.stop_reason;
    Teacher basis_teacher;  // the teacher in Krylov coordinates: w_k = e_k
    basis_teacher.d = dim;
    basis_teacher.p = p;
    basis_teacher.W = xt::zeros<double>({std::size_t(dim), std::size_t(p)});
    for (int k = 0; k < p && k < dim; ++k) basis_teacher.W(k, k) = 1.0;
    xt::xtensor<double, 2> Vc = xt::zeros<double>({std::size_t(dim), conv.size()});
    for (std::size_t a = 0; a < conv.size(); ++a) xt::view(Vc, xt::all(), a) = xt::view(res.eig.vectors, xt::all(), conv[a]);
    res.metrics = compute_metrics(basis_teacher, Vc);
    if (conv.empty()) {
      res.metrics.overlap.assign(p, 0.0);
      res.metrics.subspace_overlap.assign(p, 0.0);
    }
  } else {
    res.eig.status = "non_finite";
    res.eig.residual = NAN;
  }
  res.memory_bytes = 8 * (n * std::uint64_t(1 + b + b * std::min(res.blocks + 1, budget + 1)));
  blas::set_threads(threads);  // as the direct engine: later BLAS calls use the caller's threads
  res.total_s = seconds_since(t0);
  return res;
}

}  // namespace hmi::est

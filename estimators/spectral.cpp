#include "estimators/spectral.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/mman.h>

#include <Eigen/Core>
#include <Spectra/SymEigsSolver.h>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "estimators/blas_kernels.hpp"
#include "numerics/interrupt.hpp"

namespace hmi::est {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Asks for transparent huge pages on the whole 2 MiB pages inside [p, p + n), before their first
// touch (Linux THP in "madvise" mode, Debian's default): the accumulation's d x d matrices and
// row blocks are tens of MB, touched once per call, and 4 KiB pages cost one fault each
// (14519 faults per `hmi simulate --d 1000 --alpha 20` before, 5319 after). Advisory: a no-op
// where THP is unavailable.
void advise_huge(const double* p, std::size_t n) {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t(2) << 20;
  const auto first = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const auto last = reinterpret_cast<std::uintptr_t>(p + n) & ~(kHuge - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
}

// n zeros in freshly mapped pages advised as above.
std::vector<double> huge_zeros(std::size_t n) {
  std::vector<double> v;
  v.reserve(n);
  advise_huge(v.data(), n);
  v.resize(n);  // zero fill: the first touch
  return v;
}

// Spectra operator: y = M x with the BLAS symmetric matrix-vector product.
struct SymOp {
  using Scalar = double;
  const double* M;
  int n;
  Eigen::Index rows() const { return n; }
  Eigen::Index cols() const { return n; }
  void perform_op(const double* x, double* y) const { blas::symv_upper(n, M, x, y); }
};

Eigenpairs dense_top(const xt::xtensor<double, 2>& M, int k) {
  // Not a structured binding: clang < 16 cannot capture one in the sort's lambda.
  const auto eig = xt::linalg::eigh(M);  // ascending
  const auto& w = std::get<0>(eig);
  const auto& v = std::get<1>(eig);
  const int d = int(w.size());
  std::vector<int> idx(d);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return std::abs(w(a)) > std::abs(w(b)); });
  Eigenpairs out;
  out.vectors = xt::zeros<double>({std::size_t(d), std::size_t(k)});
  for (int j = 0; j < k; ++j) {
    out.values.push_back(w(idx[j]));
    xt::view(out.vectors, xt::all(), j) = xt::view(v, xt::all(), idx[j]);
  }
  out.status = "converged";
  return out;
}

// Euclidean norm without overflow or underflow: sum of (x_i / max|x|)^2, times max|x|.
double scaled_norm(const std::vector<double>& x) {
  double big = 0;
  for (double v : x) big = std::max(big, std::abs(v));
  if (big == 0 || !std::isfinite(big)) return big;
  double s = 0;
  for (double v : x) s += (v / big) * (v / big);
  return big * std::sqrt(s);
}

// max_j ||M v_j - nu_j v_j||, computed so that entries of M up to the largest double give a
// finite residual whenever the true residual is representable: the norm is scaled, and the
// product M v (BLAS) is redone on M / max|M_ij| when it overflows. Non-finite only if the
// residual itself is not representable (the caller then reports status non_finite).
double residual(const xt::xtensor<double, 2>& M, const Eigenpairs& e) {
  const int d = int(M.shape(0));
  std::vector<double> v(d), mv(d), r(d);
  double scale = 0;  // max|M_ij|, found only when needed
  double res = 0;
  for (std::size_t j = 0; j < e.values.size(); ++j) {
    for (int i = 0; i < d; ++i) v[i] = e.vectors(i, j);
    blas::symv_upper(d, M.data(), v.data(), mv.data());
    bool finite = true;
    for (int i = 0; i < d; ++i) finite = finite && std::isfinite(mv[i] - e.values[j] * v[i]);
    if (finite) {
      for (int i = 0; i < d; ++i) r[i] = mv[i] - e.values[j] * v[i];
      res = std::max(res, scaled_norm(r));
      continue;
    }
    // (M / s) v - (nu / s) v, then times s: row by row on the full storage (rare path).
    if (scale == 0)
      for (double x : M) scale = std::max(scale, std::abs(x));
    if (!(scale > 0) || !std::isfinite(scale)) return NAN;
    for (int i = 0; i < d; ++i) {
      double acc = 0;
      for (int k = 0; k < d; ++k) acc += (M(i, k) / scale) * v[k];
      r[i] = acc - (e.values[j] / scale) * v[i];
    }
    const double rs = scaled_norm(r);
    res = std::max(res, rs * scale);  // inf if the residual is beyond the largest double
    if (!std::isfinite(res)) return res;
  }
  return res;
}

}  // namespace

void SpectralConfig::validate(int p) const {
  if (d < 1 || d > 50000) throw std::invalid_argument("d = " + std::to_string(d) + " (must be an integer in [1, 50000])");
  if (p > d) throw std::invalid_argument("p = " + std::to_string(p) + " (must be <= d = " + std::to_string(d) + ")");
  if (!std::isfinite(alpha) || alpha <= 0 || alpha * d > 1e10)
    throw std::invalid_argument("alpha = " + theory::format_number(alpha) + " (must be finite, > 0, with alpha*d <= 1e10)");
  if (n() < 2) throw std::invalid_argument("alpha = " + theory::format_number(alpha) + " (alpha*d must give at least 2 samples)");
  if (top < 0 || top > d) throw std::invalid_argument("top = " + std::to_string(top) + " (must be in [0, d]; 0 = automatic)");
  if (threads < 1 || threads > 256) throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be in [1, 256])");
  if (block < 1 || block > 1 << 20) throw std::invalid_argument("block = " + std::to_string(block) + " (must be in [1, 1048576])");
}

std::uint64_t SpectralConfig::n() const { return std::uint64_t(std::llround(alpha * d)); }

int SpectralConfig::top_for(int p) const { return top > 0 ? top : std::min(d, std::max(2 * p, p + 8)); }

Eigenpairs top_eigenpairs(const xt::xtensor<double, 2>& M, int k) {
  const int d = int(M.shape(0));
  if (k < 1 || k > d) throw std::invalid_argument("top = " + std::to_string(k) + " (must be in [1, d])");
  for (double v : M)
    if (!std::isfinite(v)) return {{}, xt::zeros<double>({std::size_t(d), std::size_t(0)}), "non_finite", NAN, 0};
  const int ncv = std::min(d, std::max(2 * k + 1, k + 24));
  Eigenpairs out;
  if (ncv >= d || d <= 200) {
    out = dense_top(M, k);
  } else {
    SymOp op{M.data(), d};
    Spectra::SymEigsSolver<SymOp> eigs(op, k, ncv);
    eigs.init();
    // Select AND order by |eigenvalue|: Spectra's fourth argument (output order) defaults to
    // LargestAlge, which listed a negative spike after every positive one, so a learner taking
    // the first m columns dropped it (issue 16: q_1 = 0 for lambda_1 < 0 or mu_2 < 0).
    eigs.compute(Spectra::SortRule::LargestMagn, 1000, 1e-12, Spectra::SortRule::LargestMagn);
    if (eigs.info() == Spectra::CompInfo::Successful) {
      const auto vals = eigs.eigenvalues();
      const auto vecs = eigs.eigenvectors();
      out.vectors = xt::zeros<double>({std::size_t(d), std::size_t(k)});
      for (int j = 0; j < k; ++j) {
        out.values.push_back(vals(j));
        for (int i = 0; i < d; ++i) out.vectors(i, j) = vecs(i, j);
      }
      out.iterations = int(eigs.num_iterations());
      out.status = "converged";
    } else {
      out = dense_top(M, k);  // a numerical outcome, not an error: fall back and say so
      out.status = "fallback_dense";
    }
  }
  out.residual = residual(M, out);
  bool finite = std::isfinite(out.residual);
  for (double v : out.values) finite = finite && std::isfinite(v);
  if (!finite) out.status = "non_finite";  // a solution we cannot check is not reported as converged
  return out;
}

// The inputs are x_i = Q g_i with g_i the raw normals of row i and Q orthogonal with
// W^T x_i = R^T g_i[0..p) (estimators/data.hpp). Hence
//   pass 1 (exact centring) needs only the first p raw normals of each row and the label
//          noise: O(n p) instead of generating all n d inputs and projecting them, and so
//          cheap that pass 2 recomputes the labels instead of storing n of them;
//   pass 2 accumulates G = (1/n) sum_i w_i g_i g_i^T on the raw rows, and M = Q G Q^T is
//          formed once at the end (O(d^2 p)).
// Both passes are split over `threads` workers by blocks (worker w takes blocks w, w + threads,
// ...). Each worker generates its own rows and calls single-threaded BLAS, so generation and
// DSYRK keep every core busy without a hand-off or a barrier per block (measured on 2 cores:
// two concurrent 1-thread DSYRKs beat one 2-thread OpenBLAS DSYRK on these shapes). Pass 2
// accumulates into one d x d matrix per worker, summed in worker order at the end.
// Memory: threads (d^2 + block (d + p + 2)) doubles, whatever n.
// Determinism: every row, label and weight is a pure function of (seed, i); only the grouping
// of the sums (DSYRK, and the compensated sum of T) depends on (threads, block), i.e. results
// agree to rounding.
xt::xtensor<double, 2> accumulate_spectral_matrix(const Teacher& t, std::uint64_t n, int threads, int block,
                                                  Timing* timing, double* mean_T) {
  const int d = t.d, p = t.p;
  // With several threads, blocks small enough that each worker gets about four (a lone block
  // leaves a core idle: n = 2000 with block 2048 ran on one worker, 0.34 of the 2-thread DSYRK
  // rate), but not below 256 rows (DSYRK efficiency) and never above the requested block (memory).
  if (threads > 1) {
    const std::uint64_t quarter = (n + 4 * std::uint64_t(threads) - 1) / (4 * std::uint64_t(threads));
    block = int(std::min<std::uint64_t>(std::uint64_t(block), std::max<std::uint64_t>(256, quarter)));
  }
  const std::uint64_t blocks = (n + std::uint64_t(block) - 1) / std::uint64_t(block);
  const int workers = int(std::max<std::uint64_t>(1, std::min<std::uint64_t>(std::uint64_t(std::max(threads, 1)), blocks)));
  const detail::TeacherBasis basis = detail::teacher_basis(t);
  blas::set_threads(1);  // parallelism is ours: one single-threaded BLAS call per worker
  if (workers > 1) blas::release_idle_threads();  // no OpenBLAS worker left spinning beside ours
  auto run_workers = [workers](auto&& work) {
    if (workers == 1) return work(0);
    std::vector<std::jthread> pool;
    for (int w = 0; w < workers; ++w) pool.emplace_back(work, w);
  };
  auto rows_of = [&](std::uint64_t b) { return int(std::min<std::uint64_t>(block, n - b * block)); };
  // T(y_i) for the rows of block b, from the first p raw normals of each row and the noise.
  struct LabelWork {
    std::vector<double> G, Z, y;
  };
  auto block_labels = [&](LabelWork& lw, std::uint64_t b, double* T) {
    const std::uint64_t i0 = b * std::uint64_t(block);
    const int rows = rows_of(b);
    lw.G.resize(std::size_t(rows) * p);
    lw.Z.resize(std::size_t(rows) * p);
    lw.y.resize(rows);
    for (int r = 0; r < rows; ++r) fill_gaussian_row(t.seed, 0, i0 + std::uint64_t(r), p, &lw.G[std::size_t(r) * p]);
    detail::projections_from_raw(basis, rows, lw.G.data(), p, lw.Z.data());
    detail::labels_from_projections(t, i0, rows, lw.Z.data(), lw.y.data());
    for (int r = 0; r < rows; ++r) T[r] = t.T(lw.y[r]);
  };

  // Pass 1: the exact sample mean of T (Neumaier-compensated sums per worker, added in worker
  // order: the mean is correctly rounded up to O(n eps^2), whatever the grouping).
  auto t0 = Clock::now();
  std::vector<double> sum(workers, 0.0), comp(workers, 0.0);
  run_workers([&](int w) {
    LabelWork lw;
    std::vector<double> T(block);
    double s = 0, c = 0;
    for (std::uint64_t b = std::uint64_t(w); b < blocks; b += std::uint64_t(workers)) {
      if (interrupt_requested()) break;  // the caller throws after the join (numerics/interrupt.hpp)
      block_labels(lw, b, T.data());
      for (int r = 0; r < rows_of(b); ++r) {
        const double v = T[r], u = s + v;
        c += std::abs(s) >= std::abs(v) ? (s - u) + v : (v - u) + s;
        s = u;
      }
    }
    sum[w] = s;
    comp[w] = c;
  });
  throw_if_interrupted();
  double total = 0, total_c = 0;
  for (int w = 0; w < workers; ++w) {
    for (double v : {sum[w], comp[w]}) {
      const double u = total + v;
      total_c += std::abs(total) >= std::abs(v) ? (total - u) + v : (v - u) + total;
      total = u;
    }
  }
  const double Tbar = (total + total_c) / double(n);
  if (mean_T) *mean_T = Tbar;
  if (timing) timing->labels_s = seconds_since(t0);

  // Pass 2: G = (1/n) sum_i w_i g_i g_i^T, w_i = T_i - Tbar, as two DSYRKs on rows scaled by
  // sqrt|w_i|. Rows are generated straight into one buffer, w >= 0 from the top and w < 0 from
  // the bottom, and scaled in place while still in L1 (no copy of an unscaled block).
  t0 = Clock::now();
  xt::xtensor<double, 2> M = xt::empty<double>({std::size_t(d), std::size_t(d)});  // pages not touched yet
  advise_huge(M.data(), M.size());
  std::fill(M.begin(), M.end(), 0.0);
  std::vector<std::vector<double>> partial(workers - 1);  // worker 0 accumulates into M itself
  run_workers([&](int w) {
    double* Mw = M.data();
    if (w > 0) {
      partial[w - 1] = huge_zeros(std::size_t(d) * d);
      Mw = partial[w - 1].data();
    }
    LabelWork lw;
    std::vector<double> B = huge_zeros(std::size_t(block) * d), T(block);
    for (std::uint64_t b = std::uint64_t(w); b < blocks; b += std::uint64_t(workers)) {
      if (interrupt_requested()) break;
      const std::uint64_t i0 = b * std::uint64_t(block);
      const int rows = rows_of(b);
      block_labels(lw, b, T.data());  // recomputed (O(rows p)) rather than n labels stored
      int np = 0, nn = 0;
      for (int r = 0; r < rows; ++r) {
        const double wi = T[r] - Tbar;
        const double s = std::sqrt(std::abs(wi));
        double* dst = &B[std::size_t(wi >= 0 ? np++ : block - ++nn) * d];
        fill_gaussian_row(t.seed, 0, i0 + std::uint64_t(r), d, dst);
        for (int j = 0; j < d; ++j) dst[j] *= s;
      }
      blas::syrk_upper(d, np, B.data(), 1.0 / double(n), Mw);
      blas::syrk_upper(d, nn, &B[std::size_t(block - nn) * d], -1.0 / double(n), Mw);
    }
  });
  throw_if_interrupted();
  for (const std::vector<double>& P : partial)  // fixed order: deterministic for a thread count
    for (int i = 0; i < d; ++i)
      for (int j = i; j < d; ++j) M(i, j) += P[std::size_t(i) * d + j];
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < i; ++j) M(i, j) = M(j, i);
  blas::set_threads(threads);  // as before: later BLAS calls (the eigensolver) use the caller's threads
  detail::raw_to_inputs_gram(basis, M.data());
  if (timing) timing->accumulate_s = seconds_since(t0);
  return M;
}

Metrics compute_metrics(const Teacher& t, const xt::xtensor<double, 2>& V) {
  Metrics m;
  const std::size_t K = V.shape(1);
  if (K == 0) return m;
  const xt::xtensor<double, 2> C = xt::linalg::dot(xt::transpose(V), t.W);  // K x p, C(j,k) = <v_j, w_k>
  for (int k = 0; k < t.p; ++k) {
    double best = 0, sum = 0;
    for (std::size_t j = 0; j < K; ++j) {
      best = std::max(best, C(j, k) * C(j, k));
      sum += C(j, k) * C(j, k);
    }
    m.overlap.push_back(best);
    m.subspace_overlap.push_back(sum);
  }
  const std::size_t msub = std::min<std::size_t>(t.p, K);
  const xt::xtensor<double, 2> Cm = xt::view(C, xt::range(0, msub), xt::range(0, msub));
  const auto sv = std::get<1>(xt::linalg::svd(Cm, false, true));
  for (double s : sv) m.principal_cosines.push_back(std::min(1.0, s));
  return m;
}

SpectralResult run_spectral(const Teacher& t, const SpectralConfig& cfg) {
  cfg.validate(t.p);
  const auto t0 = Clock::now();
  SpectralResult r;
  r.n = cfg.n();
  const xt::xtensor<double, 2> M = accumulate_spectral_matrix(t, r.n, cfg.threads, cfg.block, &r.timing, &r.mean_T);
  auto t1 = Clock::now();
  r.eig = top_eigenpairs(M, cfg.top_for(t.p));
  r.timing.eigen_s = seconds_since(t1);
  r.metrics = compute_metrics(t, r.eig.vectors);
  r.timing.total_s = seconds_since(t0);
  return r;
}

}  // namespace hmi::est

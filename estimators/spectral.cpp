#include "estimators/spectral.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <Eigen/Core>
#include <Spectra/SymEigsSolver.h>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "estimators/blas_kernels.hpp"

namespace hmi::est {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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
  auto [w, v] = xt::linalg::eigh(M);  // ascending
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

double residual(const xt::xtensor<double, 2>& M, const Eigenpairs& e) {
  const int d = int(M.shape(0));
  std::vector<double> v(d), mv(d);
  double r = 0;
  for (std::size_t j = 0; j < e.values.size(); ++j) {
    for (int i = 0; i < d; ++i) v[i] = e.vectors(i, j);
    blas::symv_upper(d, M.data(), v.data(), mv.data());
    double s = 0;
    for (int i = 0; i < d; ++i) s += (mv[i] - e.values[j] * v[i]) * (mv[i] - e.values[j] * v[i]);
    r = std::max(r, std::sqrt(s));
  }
  return r;
}

}  // namespace

void SpectralConfig::validate(int p) const {
  if (d < 1 || d > 50000) throw std::invalid_argument("d = " + std::to_string(d) + " (must be an integer in [1, 50000])");
  if (p > d) throw std::invalid_argument("p = " + std::to_string(p) + " (must be <= d = " + std::to_string(d) + ")");
  if (!std::isfinite(alpha) || alpha <= 0 || alpha * d > 1e10)
    throw std::invalid_argument("alpha = " + std::to_string(alpha) + " (must be finite, > 0, with alpha*d <= 1e10)");
  if (n() < 2) throw std::invalid_argument("alpha = " + std::to_string(alpha) + " (alpha*d must give at least 2 samples)");
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
    eigs.compute(Spectra::SortRule::LargestMagn, 1000, 1e-12);
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
  return out;
}

xt::xtensor<double, 2> accumulate_spectral_matrix(const Teacher& t, std::uint64_t n, int threads, int block,
                                                  Timing* timing, double* mean_T) {
  const int d = t.d;
  blas::set_threads(threads);
  std::vector<double> X(std::size_t(block) * d), Z(std::size_t(block) * t.p), y(block);
  std::vector<double> T(n);

  // Pass 1: labels only, to centre by the exact sample mean of T.
  auto t0 = Clock::now();
  for (std::uint64_t i0 = 0; i0 < n; i0 += block) {
    const int rows = int(std::min<std::uint64_t>(block, n - i0));
    generate_inputs(t, i0, rows, X.data(), threads);
    labels(t, i0, rows, X.data(), Z.data(), y.data());
    for (int r = 0; r < rows; ++r) T[i0 + r] = t.T(y[r]);
  }
  // Pairwise-stable mean (Kahan is unnecessary at n <= 1e10 with doubles of O(1)).
  const double Tbar = std::accumulate(T.begin(), T.end(), 0.0) / double(n);
  if (mean_T) *mean_T = Tbar;
  if (timing) timing->labels_s = seconds_since(t0);

  // Pass 2: M = (1/n) sum_i w_i x_i x_i^T, w_i = T_i - Tbar, as two DSYRKs split by sign.
  t0 = Clock::now();
  xt::xtensor<double, 2> M = xt::zeros<double>({std::size_t(d), std::size_t(d)});
  std::vector<double> P(std::size_t(block) * d), N(std::size_t(block) * d);
  for (std::uint64_t i0 = 0; i0 < n; i0 += block) {
    const int rows = int(std::min<std::uint64_t>(block, n - i0));
    generate_inputs(t, i0, rows, X.data(), threads);
    int np = 0, nn = 0;
    for (int r = 0; r < rows; ++r) {
      const double w = T[i0 + r] - Tbar;
      const double s = std::sqrt(std::abs(w));
      double* dst = w >= 0 ? &P[std::size_t(np++) * d] : &N[std::size_t(nn++) * d];
      const double* src = &X[std::size_t(r) * d];
      for (int j = 0; j < d; ++j) dst[j] = s * src[j];
    }
    blas::syrk_upper(d, np, P.data(), 1.0 / double(n), M.data());
    blas::syrk_upper(d, nn, N.data(), -1.0 / double(n), M.data());
  }
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < i; ++j) M(i, j) = M(j, i);
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

#include "estimators/learning_curve.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "estimators/blas_kernels.hpp"

namespace hmi::est {

void CurveConfig::validate(const Teacher& t) const {
  if (alphas.empty()) throw std::invalid_argument("alphas = [] (must hold at least one alpha)");
  for (std::size_t i = 0; i < alphas.size(); ++i) {
    const double a = alphas[i];
    if (!std::isfinite(a) || a <= 0 || a * t.d > 1e10 || std::llround(a * t.d) < 2)
      throw std::invalid_argument("alpha = " + std::to_string(a) + " (must be finite, > 0, with 2 <= alpha d <= 1e10)");
    if (i > 0 && !(a > alphas[i - 1]))
      throw std::invalid_argument("alphas[" + std::to_string(i) + "] = " + std::to_string(a) + " (must be increasing)");
  }
  if (top < 0 || top > t.d) throw std::invalid_argument("top = " + std::to_string(top) + " (must be in [0, d]; 0 = automatic)");
  if (threads < 1 || threads > 256) throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be in [1, 256])");
  if (block < 1 || block > 1 << 20) throw std::invalid_argument("block = " + std::to_string(block) + " (must be in [1, 1048576])");
}

std::vector<CurvePointResult> spectral_learning_curve(const Teacher& t, const CurveConfig& cfg) {
  cfg.validate(t);
  const int d = t.d;
  SpectralConfig sc;
  sc.d = d;
  sc.top = cfg.top;
  const int top = sc.top_for(t.p);
  blas::set_threads(cfg.threads);
  // Upper triangles of S_T + (positive part), S_T - (negative part) and S_1, as in
  // accumulate_spectral_matrix: DSYRK on rows scaled by sqrt|T_i|, split by sign.
  std::vector<double> SP(std::size_t(d) * d, 0.0), SN(std::size_t(d) * d, 0.0), S1(std::size_t(d) * d, 0.0);
  std::vector<double> X(std::size_t(cfg.block) * d), Z(std::size_t(cfg.block) * t.p), y(cfg.block),
      P(std::size_t(cfg.block) * d), N(std::size_t(cfg.block) * d);
  double sum_T = 0;
  std::uint64_t done = 0;
  std::vector<CurvePointResult> out;
  for (double alpha : cfg.alphas) {
    const std::uint64_t n = std::uint64_t(std::llround(alpha * d));
    while (done < n) {
      const int rows = int(std::min<std::uint64_t>(cfg.block, n - done));
      generate_inputs(t, done, rows, X.data(), cfg.threads, 0);
      labels(t, done, rows, X.data(), Z.data(), y.data(), 0);
      int np = 0, nn = 0;
      for (int r = 0; r < rows; ++r) {
        const double T = t.T(y[r]);
        sum_T += T;
        const double s = std::sqrt(std::abs(T));
        double* dst = T >= 0 ? &P[std::size_t(np++) * d] : &N[std::size_t(nn++) * d];
        const double* src = &X[std::size_t(r) * d];
        for (int j = 0; j < d; ++j) dst[j] = s * src[j];
      }
      blas::syrk_upper(d, np, P.data(), 1.0, SP.data());
      blas::syrk_upper(d, nn, N.data(), 1.0, SN.data());
      blas::syrk_upper(d, rows, X.data(), 1.0, S1.data());
      done += std::uint64_t(rows);
    }
    CurvePointResult pt;
    pt.alpha = alpha;
    pt.n = n;
    pt.mean_T = sum_T / double(n);
    xt::xtensor<double, 2> M = xt::zeros<double>({std::size_t(d), std::size_t(d)});
    for (int i = 0; i < d; ++i)
      for (int j = i; j < d; ++j) {
        const std::size_t ij = std::size_t(i) * d + j;
        M(i, j) = M(j, i) = (SP[ij] - SN[ij] - pt.mean_T * S1[ij]) / double(n);
      }
    pt.eig = top_eigenpairs(M, top);
    pt.metrics = compute_metrics(t, pt.eig.vectors);
    out.push_back(std::move(pt));
  }
  return out;
}

}  // namespace hmi::est

#include "estimators/readout.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "estimators/blas_kernels.hpp"
#include "numerics/interrupt.hpp"

namespace hmi::est {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Contiguous row-major copy (BLAS wrappers need it).
std::vector<double> row_major(const xt::xtensor<double, 2>& A) { return std::vector<double>(A.begin(), A.end()); }

// Solution of the penalised normal equations (G + pen D) w = r through the eigendecomposition
// of the (small, P x P) symmetric matrix: tiny eigenvalues are dropped (pseudo-inverse), and
// the trace tr((G + pen D)^-1 G) needed by GCV comes out of the same factorisation.
struct Solve {
  std::vector<double> w;
  double trace_hat = 0, condition = 0;
  bool ill = false, finite = true;
};

Solve solve_penalised(const xt::xtensor<double, 2>& G, const std::vector<double>& r, double pen) {
  const std::size_t P = G.shape(0);
  xt::xtensor<double, 2> K = G;
  for (std::size_t j = 1; j < P; ++j) K(j, j) += pen;  // the intercept (index 0) is not penalised
  Solve s;
  for (double v : K)
    if (!std::isfinite(v)) {
      s.finite = false;
      s.w.assign(P, kNaN);
      return s;
    }
  auto [ev, Q] = xt::linalg::eigh(K);  // ascending
  const double top = std::max(std::abs(ev(P - 1)), 1e-300);
  s.condition = ev(0) > 0 ? top / ev(0) : std::numeric_limits<double>::infinity();
  const double cut = 1e-13 * top;
  s.ill = ev(0) <= cut;
  s.w.assign(P, 0.0);
  // w = Q diag(1/ev) Q^T r ;  K^-1 G = K^-1 (K - pen D): trace = P_kept - pen tr(K^-1 D).
  std::vector<double> Qtr(P, 0.0);
  for (std::size_t k = 0; k < P; ++k)
    for (std::size_t i = 0; i < P; ++i) Qtr[k] += Q(i, k) * r[i];
  double tr_KinvD = 0;
  int kept = 0;
  for (std::size_t k = 0; k < P; ++k) {
    if (ev(k) <= cut) continue;
    ++kept;
    for (std::size_t i = 0; i < P; ++i) s.w[i] += Q(i, k) * Qtr[k] / ev(k);
    double dk = 0;
    for (std::size_t i = 1; i < P; ++i) dk += Q(i, k) * Q(i, k);
    tr_KinvD += dk / ev(k);
  }
  s.trace_hat = kept - pen * tr_KinvD;
  for (double v : s.w) s.finite = s.finite && std::isfinite(v);
  return s;
}

}  // namespace

void Student::predict(int rows, const double* S, double* f) const {
  const int m = width();
  const bool lin = !b.empty();
  for (int i = 0; i < rows; ++i) {
    const double* s = S + std::size_t(i) * m;
    double v = c;
    for (int j = 0; j < m; ++j) v += a[j] * phi.value(s[j]);
    if (lin)
      for (int j = 0; j < m; ++j) v += b[j] * s[j];
    f[i] = v;
  }
}

xt::xtensor<double, 2> unit_columns(const xt::xtensor<double, 2>& V) {
  xt::xtensor<double, 2> out = V;
  for (std::size_t j = 0; j < V.shape(1); ++j) {
    double n2 = 0;
    for (std::size_t i = 0; i < V.shape(0); ++i) n2 += V(i, j) * V(i, j);
    if (n2 > 0)
      for (std::size_t i = 0; i < V.shape(0); ++i) out(i, j) = V(i, j) / std::sqrt(n2);
  }
  return out;
}

void ReadoutConfig::validate() const {
  if (!std::isfinite(ridge) || ridge < 0) throw std::invalid_argument("ridge = " + std::to_string(ridge) + " (must be finite and >= 0)");
  if (samples < 1 || samples > 10'000'000'000ull)
    throw std::invalid_argument("readout_samples = " + std::to_string(samples) + " (must be in [1, 1e10])");
  if (linear_term < -1 || linear_term > 1)
    throw std::invalid_argument("linear_term = " + std::to_string(linear_term) + " (must be -1 (auto), 0 or 1)");
  if (threads < 1 || threads > 256) throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be in [1, 256])");
  if (block < 1 || block > 1 << 20) throw std::invalid_argument("block = " + std::to_string(block) + " (must be in [1, 1048576])");
}

ReadoutResult fit_ridge(const Teacher& t, const xt::xtensor<double, 2>& U, const ReadoutConfig& cfg) {
  cfg.validate();
  if (U.dimension() != 2 || int(U.shape(0)) != t.d || U.shape(1) < 1)
    throw std::invalid_argument("U shape = (" + std::to_string(U.shape(0)) + ", " + std::to_string(U.shape(1)) +
                                ") (must be d x m with d = " + std::to_string(t.d) + ", m >= 1)");
  const int d = t.d, m = int(U.shape(1));
  bool linear = cfg.linear_term > 0;
  if (cfg.linear_term < 0) {
    const auto mu1 = theory::gaussian_expectation([&](double z) { return t.sigma.value(z) * z; }, t.sigma.kinks);
    linear = std::abs(mu1.value) > 1e-10;
  }
  const int P = 1 + m * (linear ? 2 : 1);
  const xt::xtensor<double, 2> V = unit_columns(U);
  const std::vector<double> Vr = row_major(V);
  blas::set_threads(cfg.threads);

  // Normal equations: G = sum F F^T (upper triangle, by DSYRK), r = sum F y, yy = sum y^2.
  const int block = int(std::min<std::uint64_t>(cfg.block, cfg.samples));
  std::vector<double> X(std::size_t(block) * d), Z(std::size_t(block) * t.p), y(block), S(std::size_t(block) * m),
      F(std::size_t(block) * P), Graw(std::size_t(P) * P, 0.0), r(P, 0.0);
  double yy = 0;
  const std::uint64_t stream = cfg.same_samples ? kTrainStream : kReadoutStream;
  const std::uint64_t first = cfg.same_samples ? 0 : cfg.first;
  for (std::uint64_t i0 = 0; i0 < cfg.samples; i0 += block) {
    throw_if_interrupted();
    const int rows = int(std::min<std::uint64_t>(block, cfg.samples - i0));
    generate_inputs(t, first + i0, rows, X.data(), cfg.threads, stream);
    labels(t, first + i0, rows, X.data(), Z.data(), y.data(), stream);
    blas::gemm(rows, m, d, X.data(), Vr.data(), S.data());
    for (int i = 0; i < rows; ++i) {
      double* f = &F[std::size_t(i) * P];
      const double* s = &S[std::size_t(i) * m];
      f[0] = 1.0;
      for (int j = 0; j < m; ++j) f[1 + j] = t.sigma.value(s[j]);
      if (linear)
        for (int j = 0; j < m; ++j) f[1 + m + j] = s[j];
      for (int j = 0; j < P; ++j) r[j] += f[j] * y[i];
      yy += y[i] * y[i];
    }
    blas::syrk_upper(P, rows, F.data(), 1.0, Graw.data());
  }
  const double n = double(cfg.samples);
  xt::xtensor<double, 2> G = xt::zeros<double>({std::size_t(P), std::size_t(P)});
  for (int i = 0; i < P; ++i)
    for (int j = i; j < P; ++j) G(i, j) = G(j, i) = Graw[std::size_t(i) * P + j] / n;
  for (auto& v : r) v /= n;
  yy /= n;

  // Mean squared residual of w: yy - 2 w.r + w.G w (all per sample).
  auto mse = [&](const std::vector<double>& w) {
    double s = yy;
    for (int i = 0; i < P; ++i) {
      s -= 2 * w[i] * r[i];
      for (int j = 0; j < P; ++j) s += w[i] * G(i, j) * w[j];
    }
    return std::max(0.0, s);
  };
  auto gcv_of = [&](const Solve& s) {
    const double dof = 1.0 - s.trace_hat / n;
    return dof > 0 ? mse(s.w) / (dof * dof) : std::numeric_limits<double>::infinity();
  };

  ReadoutResult out;
  out.samples = cfg.samples;
  out.parameters = P;
  double pen = cfg.ridge;
  Solve best = solve_penalised(G, r, pen);
  if (cfg.gcv) {
    double best_score = gcv_of(best);
    for (int e = -32; e <= 4; ++e) {  // 1e-8 .. 10, four points per decade
      const double p = std::pow(10.0, e / 4.0);
      Solve s = solve_penalised(G, r, p);
      const double score = gcv_of(s);
      if (s.finite && score < best_score) {
        best_score = score;
        best = std::move(s);
        pen = p;
      }
    }
  }
  out.penalty = pen;
  out.condition = best.condition;
  out.gcv = gcv_of(best);
  out.train_mse = mse(best.w);
  out.status = !best.finite ? "non_finite" : (best.ill ? "ill_conditioned" : "ok");

  Student& st = out.student;
  st.U = V;
  st.phi = t.sigma;
  st.c = best.w[0];
  st.a.assign(best.w.begin() + 1, best.w.begin() + 1 + m);
  if (linear) st.b.assign(best.w.begin() + 1 + m, best.w.end());
  return out;
}

RiskEstimate test_risk(const Teacher& t, const Student& s, std::uint64_t samples, int threads, int block,
                       std::uint64_t first) {
  if (samples < 2) throw std::invalid_argument("test_samples = " + std::to_string(samples) + " (must be >= 2)");
  if (int(s.U.shape(0)) != t.d) throw std::invalid_argument("student d = " + std::to_string(s.U.shape(0)) + " (must equal teacher d = " + std::to_string(t.d) + ")");
  if (threads < 1) throw std::invalid_argument("threads = " + std::to_string(threads) + " (must be >= 1)");
  if (block < 1) throw std::invalid_argument("block = " + std::to_string(block) + " (must be >= 1)");
  const int d = t.d, m = s.width();
  blas::set_threads(threads);
  block = int(std::min<std::uint64_t>(block, samples));
  const std::vector<double> Ur = row_major(s.U);
  std::vector<double> X(std::size_t(block) * d), Z(std::size_t(block) * t.p), S(std::size_t(block) * m), fs(block), fh(block);
  // Welford-free two-sum: per-sample errors are O(1), n <= 1e10, doubles suffice.
  double sum = 0, sum2 = 0;
  bool finite = true;
  for (std::uint64_t i0 = 0; i0 < samples; i0 += block) {
    throw_if_interrupted();
    const int rows = int(std::min<std::uint64_t>(block, samples - i0));
    generate_inputs(t, first + i0, rows, X.data(), threads, kTestStream);
    blas::gemm(rows, t.p, d, X.data(), t.W.data(), Z.data());
    teacher_output(t, rows, Z.data(), fs.data());
    blas::gemm(rows, m, d, X.data(), Ur.data(), S.data());
    s.predict(rows, S.data(), fh.data());
    for (int i = 0; i < rows; ++i) {
      const double e = (fs[i] - fh[i]) * (fs[i] - fh[i]);
      finite = finite && std::isfinite(e);
      sum += e;
      sum2 += e * e;
    }
  }
  RiskEstimate r;
  r.samples = samples;
  const double n = double(samples);
  r.value = sum / n;
  r.standard_error = std::sqrt(std::max(0.0, (sum2 / n - r.value * r.value) / (n - 1)));
  r.status = finite ? "ok" : "non_finite";
  return r;
}

double he2_population_risk(const Teacher& t, const xt::xtensor<double, 2>& V) {
  if (t.sigma.name != "he2" || int(V.shape(0)) != t.d) return kNaN;
  const std::size_t m = V.shape(1);
  const xt::xtensor<double, 2> VtV = xt::linalg::dot(xt::transpose(V), V);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < m; ++j)
      if (std::abs(VtV(i, j) - (i == j ? 1.0 : 0.0)) > 1e-8) return kNaN;
  const xt::xtensor<double, 2> C = xt::linalg::dot(xt::transpose(V), t.W);  // m x p
  double r = 0;
  for (int k = 0; k < t.p; ++k) r += t.lambda[k] * t.lambda[k];
  for (std::size_t j = 0; j < m; ++j) {
    double b = 0;
    for (int k = 0; k < t.p; ++k) b += t.lambda[k] * C(j, k) * C(j, k);
    r -= b * b;
  }
  return r;
}

}  // namespace hmi::est

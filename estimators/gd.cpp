#include "estimators/gd.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "estimators/blas_kernels.hpp"
#include "numerics/interrupt.hpp"
#include "theory/numerics.hpp"

namespace hmi::est {
namespace {

// U (U^T U)^(-1/2) * scale: the orthonormal frame closest to U (no column sign flips, so a
// non-even phi keeps its function), by the eigendecomposition of the m x m Gram matrix.
void reorthonormalise(xt::xtensor<double, 2>& U, double scale) {
  const xt::xtensor<double, 2> G = xt::linalg::dot(xt::transpose(U), U);
  auto [ev, Q] = xt::linalg::eigh(G);
  const std::size_t m = G.shape(0);
  xt::xtensor<double, 2> Ginvsqrt = xt::zeros<double>({m, m});
  for (std::size_t k = 0; k < m; ++k) {
    const double f = ev(k) > 0 ? 1.0 / std::sqrt(ev(k)) : 0.0;
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < m; ++j) Ginvsqrt(i, j) += Q(i, k) * f * Q(j, k);
  }
  U = xt::linalg::dot(U, Ginvsqrt) * scale;
}

bool all_finite(const xt::xtensor<double, 2>& U) {
  for (double v : U)
    if (!std::isfinite(v)) return false;
  return true;
}

// The training set as blocks: the cached inputs when they fit, else regenerated per block.
class TrainingData {
 public:
  TrainingData(const Teacher& t, std::uint64_t n, const GdConfig& cfg) : t_(t), n_(n), threads_(cfg.threads), block_(cfg.block) {
    y_.resize(n);
    cached_ = double(n) * t.d * 8.0 <= cfg.cache_mb * 1024.0 * 1024.0;
    std::vector<double> Z(std::size_t(block_) * t.p), Xb;
    if (cached_) X_.resize(std::size_t(n) * t.d);
    else Xb.resize(std::size_t(block_) * t.d);
    for (std::uint64_t i0 = 0; i0 < n; i0 += block_) {
      const int rows = int(std::min<std::uint64_t>(block_, n - i0));
      double* X = cached_ ? &X_[std::size_t(i0) * t.d] : Xb.data();
      generate_inputs(t, i0, rows, X, threads_, kTrainStream);
      labels(t, i0, rows, X, Z.data(), &y_[i0], kTrainStream);
    }
    if (!cached_) buf_.resize(std::size_t(block_) * t.d);
  }
  std::uint64_t n() const { return n_; }
  const double* y() const { return y_.data(); }
  /// Calls fn(first, rows, X) over rows [first, first + count) (wrapping around n).
  template <class F>
  void for_blocks(std::uint64_t first, std::uint64_t count, F&& fn) {
    std::uint64_t done = 0;
    while (done < count) {
      const std::uint64_t i0 = (first + done) % n_;
      const int rows = int(std::min<std::uint64_t>({std::uint64_t(block_), count - done, n_ - i0}));
      if (cached_) {
        fn(i0, rows, &X_[std::size_t(i0) * t_.d]);
      } else {
        generate_inputs(t_, i0, rows, buf_.data(), threads_, kTrainStream);
        fn(i0, rows, buf_.data());
      }
      done += std::uint64_t(rows);
    }
  }

 private:
  const Teacher& t_;
  std::uint64_t n_;
  int threads_, block_;
  bool cached_ = false;
  std::vector<double> X_, y_, buf_;
};

}  // namespace

void GdConfig::validate() const {
  auto bad = [](const std::string& f, const std::string& v, const std::string& rule) {
    throw std::invalid_argument(f + " = " + v + " (must be " + rule + ")");
  };
  if (width < 1 || width > 10000) bad("width", std::to_string(width), "an integer in [1, 10000]");
  if (!std::isfinite(lr) || lr <= 0) bad("lr", theory::format_number(lr), "finite and > 0");
  if (steps < 1 || steps > 100'000'000) bad("steps", std::to_string(steps), "an integer in [1, 1e8]");
  if (!std::isfinite(init_scale) || init_scale <= 0) bad("init_scale", theory::format_number(init_scale), "finite and > 0");
  if (!std::isfinite(readout_init) || readout_init == 0) bad("readout_init", theory::format_number(readout_init), "finite and != 0");
  if (batch < 0) bad("batch", std::to_string(batch), ">= 0 (0 = full batch)");
  if (record < 1 || record > 100000) bad("record", std::to_string(record), "in [1, 100000]");
  if (threads < 1 || threads > 256) bad("threads", std::to_string(threads), "in [1, 256]");
  if (block < 1 || block > 1 << 20) bad("block", std::to_string(block), "in [1, 1048576]");
  if (!(cache_mb >= 0)) bad("cache_mb", theory::format_number(cache_mb), ">= 0");
}

std::vector<double> direction_overlaps(const Teacher& t, const xt::xtensor<double, 2>& U, int K) {
  const xt::xtensor<double, 2> C = xt::linalg::dot(xt::transpose(unit_columns(U)), t.W);  // m x p
  std::vector<double> q;
  for (int k = 0; k < std::min(K, t.p); ++k) {
    // A non-finite <u_j, w_k> (diverged weights) makes q_k NaN: std::max(0, NaN) = 0
    // would report an overlap the run never measured.
    double best = 0;
    for (std::size_t j = 0; j < C.shape(0); ++j) {
      const double c2 = C(j, k) * C(j, k);
      if (!std::isfinite(c2)) {
        best = NAN;
        break;
      }
      best = std::max(best, c2);
    }
    q.push_back(best);
  }
  return q;
}

std::vector<double> learned_fractions(const Teacher& t, const Student& s, int K) {
  constexpr int J = 8;
  K = std::min(K, t.p);
  const auto& rule = theory::gauss_hermite(64);
  auto hermite_coeffs = [&](const std::function<double(double)>& f) {  // E[f(s) He_i(s)], i = 0..J
    std::vector<double> c(J + 1, 0.0);
    for (std::size_t a = 0; a < rule.nodes.size(); ++a) {
      const double z = rule.nodes[a], fz = f(z) * rule.weights[a];
      for (int i = 0; i <= J; ++i) c[i] += fz * theory::hermite_he(i, z);
    }
    return c;
  };
  const auto mu = hermite_coeffs(t.sigma.value);
  double var = 0, fact = 1;
  for (int i = 1; i <= J; ++i) {
    fact *= i;
    var += mu[i] * mu[i] / fact;
  }
  const int m = s.width();
  const xt::xtensor<double, 2> C = xt::linalg::dot(xt::transpose(s.U), t.W);  // <u_j, w_k>
  std::vector<double> out(K, 0.0);
  for (int j = 0; j < m; ++j) {
    double r2 = 0;
    for (std::size_t i = 0; i < s.U.shape(0); ++i) r2 += s.U(i, j) * s.U(i, j);
    const double r = std::sqrt(r2);
    if (r == 0) continue;
    const auto nu = hermite_coeffs([&](double z) { return s.phi.value(r * z); });
    for (int k = 0; k < K; ++k) {
      const double c = C(j, k) / r;
      double cov = 0, f = 1, cp = 1;
      for (int i = 1; i <= J; ++i) {
        f *= i;
        cp *= c;
        cov += nu[i] * mu[i] * cp / f;
      }
      double lin = 0;  // the linear readout, if any: Cov(<u, x>, sigma(<w, x>)) = mu_1 <u, w>
      if (!s.b.empty()) lin = s.b[j] * mu[1] * C(j, k);
      out[k] += s.a[j] * cov + lin;
    }
  }
  for (int k = 0; k < K; ++k) out[k] /= t.lambda[k] * var;
  return out;
}

std::vector<double> principal_sines(const xt::xtensor<double, 2>& A, const xt::xtensor<double, 2>& B) {
  if (A.shape(0) != B.shape(0)) throw std::invalid_argument("principal_sines: A and B must have the same number of rows");
  const bool swap = B.shape(1) > A.shape(1);
  const xt::xtensor<double, 2> Qa = std::get<0>(xt::linalg::qr(swap ? B : A, xt::linalg::qrmode::reduced));
  const xt::xtensor<double, 2> Qb = std::get<0>(xt::linalg::qr(swap ? A : B, xt::linalg::qrmode::reduced));
  // sin theta_i = singular values of (I - Qa Qa^T) Qb (accurate for small angles, unlike sqrt(1 - cos^2)).
  const xt::xtensor<double, 2> R = Qb - xt::linalg::dot(Qa, xt::linalg::dot(xt::transpose(Qa), Qb));
  const auto sv = std::get<1>(xt::linalg::svd(R, false, true));
  std::vector<double> s(sv.begin(), sv.end());
  std::sort(s.rbegin(), s.rend());
  for (double& v : s) v = std::min(1.0, v);
  return s;
}

GdResult run_gd(const Teacher& t, std::uint64_t n, const GdConfig& cfg, const GdCallback& callback) {
  cfg.validate();
  if (n < 2) throw std::invalid_argument("n = " + std::to_string(n) + " (must be >= 2 training samples)");
  const int d = t.d, m = cfg.width;
  blas::set_threads(cfg.threads);
  TrainingData data(t, n, cfg);
  const double* y = data.y();

  GdResult res;
  res.n = n;
  Student& s = res.student;
  s.phi = t.sigma;
  s.U = xt::zeros<double>({std::size_t(d), std::size_t(m)});
  std::vector<double> col(d);
  for (int j = 0; j < m; ++j) {
    fill_gaussian_row(t.seed, kInitStream, std::uint64_t(j), d, col.data());
    double n2 = 0;
    for (double v : col) n2 += v * v;
    for (int i = 0; i < d; ++i) s.U(i, j) = cfg.init_scale * col[i] / std::sqrt(n2);
  }
  if (cfg.subspace) reorthonormalise(s.U, cfg.init_scale);
  s.a.assign(m, cfg.readout_init);
  s.c = 0;  // set to its optimum below

  const int K = std::min(t.p, 32);
  const int every = std::max(1, cfg.steps / cfg.record);
  const std::uint64_t batch = cfg.batch > 0 ? std::min<std::uint64_t>(cfg.batch, n) : n;
  std::vector<double> Ur(std::size_t(d) * m), S(std::size_t(cfg.block) * m), Rt(std::size_t(m) * cfg.block),
      tmp(std::size_t(m) * d), Gt(std::size_t(m) * d), ga(m);

  // One pass over rows [first, first + count): gradient sums (if asked), sum of residuals, sum r^2.
  auto pass = [&](std::uint64_t first, std::uint64_t count, bool grad, double& sum_r, double& sum_r2) {
    std::copy(s.U.begin(), s.U.end(), Ur.begin());
    std::fill(Gt.begin(), Gt.end(), 0.0);
    std::fill(ga.begin(), ga.end(), 0.0);
    sum_r = sum_r2 = 0;
    data.for_blocks(first, count, [&](std::uint64_t i0, int rows, const double* X) {
      blas::gemm(rows, m, d, X, Ur.data(), S.data());
      for (int i = 0; i < rows; ++i) {
        const double* si = &S[std::size_t(i) * m];
        double f = s.c;
        for (int j = 0; j < m; ++j) f += s.a[j] * s.phi.value(si[j]);
        const double r = y[i0 + i] - f;
        sum_r += r;
        sum_r2 += r * r;
        if (!grad) continue;
        for (int j = 0; j < m; ++j) {
          Rt[std::size_t(j) * rows + i] = r * s.a[j] * s.phi.derivative(si[j]);
          ga[j] += r * s.phi.value(si[j]);
        }
      }
      if (!grad) return;
      blas::gemm(m, d, rows, Rt.data(), X, tmp.data());  // (R^T X)_{j,:} = sum_i R_ij x_i
      for (std::size_t k = 0; k < Gt.size(); ++k) Gt[k] += tmp[k];
    });
  };

  {  // the exact intercept before the first step (phi(<u_j, x>) with small u_j is ~ phi(0) != 0 in general)
    double sr, sr2;
    pass(0, n, false, sr, sr2);
    s.c += sr / double(n);
  }
  res.status = "completed";
  std::uint64_t cursor = 0;
  for (int step = 0; step < cfg.steps; ++step) {
    throw_if_interrupted();
    double sum_r, sum_r2;
    const bool full = batch == n;
    pass(cursor, batch, true, sum_r, sum_r2);
    const bool rec = step % every == 0 || step == cfg.steps - 1;
    if (rec) {
      double loss = sum_r2 / (2.0 * double(batch));
      if (!full) {
        double fr, fr2;
        pass(0, n, false, fr, fr2);
        loss = fr2 / (2.0 * double(n));
      }
      res.trajectory.push_back({step, loss, direction_overlaps(t, s.U, K), learned_fractions(t, s, K)});
      if (callback && !callback(step, s)) {
        res.status = "stopped";
        res.steps_done = step;
        return res;
      }
    }
    // Update: u_j += lr (1/B) sum_i r_i a_j phi'(s_ij) x_i ; a_j += lr (1/B) sum_i r_i phi(s_ij); c += mean r.
    const double h = cfg.lr / double(batch);
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < m; ++j) s.U(i, j) += h * Gt[std::size_t(j) * d + i];
    if (cfg.train_readout && !cfg.subspace)
      for (int j = 0; j < m; ++j) s.a[j] += h * ga[j];
    s.c += sum_r / double(batch);
    if (cfg.subspace) reorthonormalise(s.U, cfg.init_scale);
    cursor = (cursor + batch) % n;
    res.steps_done = step + 1;
    bool ok = all_finite(s.U) && std::isfinite(s.c);
    for (double v : s.a) ok = ok && std::isfinite(v);
    if (!ok) {
      res.status = "non_finite";
      return res;
    }
  }
  return res;
}

nlohmann::json trajectory_json(const std::vector<TrajectoryPoint>& tr) {
  nlohmann::json steps = nlohmann::json::array(), loss = nlohmann::json::array(), q = nlohmann::json::array(),
                 l = nlohmann::json::array();
  for (const auto& p : tr) {
    steps.push_back(p.step);
    loss.push_back(std::isfinite(p.loss) ? nlohmann::json(p.loss) : nlohmann::json(nullptr));
    q.push_back(p.overlap);
    l.push_back(p.learned);
  }
  return {{"step", steps}, {"loss", loss}, {"overlap", q}, {"learned", l}};
}

}  // namespace hmi::est

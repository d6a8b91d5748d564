#include "theory/theory_b.hpp"

#include <algorithm>
#include <complex>
#include <stdexcept>

#include <unsupported/Eigen/FFT>

#include "theory/numerics.hpp"

// The law of y = sum_j lambda_j sigma(z_j) + sqrt(Delta) xi, weighted by 1 or by (z_k^2 - 1), is
// known through its Fourier transform: a product of one-dimensional factors
//   C_j(w) = E[exp(-i w lambda_j sigma(z))],  W_k(w) = E[(z^2 - 1) exp(-i w lambda_k sigma(z))],
// times exp(-Delta w^2 / 2) (docs/theory-b.md). Each factor is obtained by spreading the pushforward
// of a z-quadrature onto a uniform grid with a Gaussian kernel of variance Delta/4, one FFT, and
// division by the kernel's transform (type-3 NUFFT by Gaussian gridding); the label noise keeps
// only frequencies |w| <= 8.5/sqrt(Delta) (factor exp(-36)), where that division amplifies errors
// by at most exp(9) while the remaining noise factor damps them by exp(-27). Densities at
// Gauss-Legendre nodes and the masses of the clip atoms then follow from the Fourier series of
// the periodised law on a window that holds its support.
namespace hmi::theory {
namespace {

using cd = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;
constexpr double kZ = 7.0;        // z truncation: two-sided tail 2.6e-12 (renormalised away)
constexpr double kKernel = 8.5;   // Gaussian kernel and frequency cut-offs in units of sd (exp(-36))
constexpr int kGL = 16;           // Gauss-Legendre order of every panel
constexpr int kGrading = 20;      // geometric panels towards the ends of T's range (width / 2^20)
constexpr double kMaxWork = 4e9;  // budget (complex multiply-adds) of the density evaluations

struct Grid {
  double Delta, tau2, h, L, Y0, omega_max;
  std::size_t N, nmax;
  std::vector<double> lo, hi;  // range of lambda_j sigma(z) on |z| <= kZ
};

double step_scale(int refine) { return std::ldexp(1.0, -refine); }

// Range of lambda sigma on [-kZ, kZ] (fine sampling plus kinks; sigma is continuous).
void term_range(const Activation& s, double lambda, double& lo, double& hi) {
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  auto see = [&](double z) {
    const double u = lambda * s.value(z);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  };
  for (int i = 0; i <= 2800; ++i) see(-kZ + 2 * kZ * i / 2800.0);
  for (double k : s.kinks) if (std::abs(k) < kZ) see(k);
}

Grid make_grid(const ModelConfig& model, const Activation& s, const std::vector<double>& lam, int refine) {
  Grid g;
  g.Delta = model.noise;
  g.tau2 = g.Delta / 4;
  const double sd = std::sqrt(g.Delta);
  double sum_lo = 0, span = 0;
  for (double l : lam) {
    double lo, hi;
    term_range(s, l, lo, hi);
    g.lo.push_back(lo);
    g.hi.push_back(hi);
    sum_lo += lo;
    span += hi - lo;
  }
  const double pad = 2 * kKernel * sd;  // noise tail plus the kernels' reach
  g.Y0 = sum_lo - pad;
  const double L0 = span + 2 * pad;
  const double h_target = 0.2 * sd * step_scale(refine);
  g.N = 64;
  while (double(g.N) * h_target < L0) g.N *= 2;
  g.L = L0;
  g.omega_max = kKernel / sd;
  // The spread grid must resolve the kernel up to omega_max: its aliased copy at 2 pi / h -
  // omega_max is damped by exp(-tau^2 (2 pi/h - omega_max)^2 / 2) <= exp(-36).
  while (2 * kPi * double(g.N) / g.L < g.omega_max + kKernel / std::sqrt(g.tau2)) g.N *= 2;
  g.h = g.L / double(g.N);
  g.nmax = std::size_t(std::ceil(g.omega_max * g.L / (2 * kPi)));
  return g;
}

// z-panels for the spreading of lambda sigma: split at 0 and the kinks, width <= 0.5, and lambda
// sigma varying by at most one kernel sd across a panel (the kernel is then resolved in z).
std::vector<std::pair<double, double>> spread_panels(const Activation& s, double lambda, double tau, int refine) {
  std::vector<double> cuts{-kZ, 0.0, kZ};
  for (double k : s.kinks) if (std::abs(k) < kZ) cuts.push_back(k);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  const double wz = 0.5 * step_scale(refine), du = tau * step_scale(refine);
  std::vector<std::pair<double, double>> out;
  for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
    const double a = cuts[c], b = cuts[c + 1];
    // Walk with a fine step, cutting when the width or the variation of lambda sigma is reached.
    const double dz = std::min(1e-3, (b - a) / 8);
    double start = a, umin = lambda * s.value(a), umax = umin;
    for (double z = a + dz;; z += dz) {
      const bool last = z >= b;
      const double zz = last ? b : z;
      const double u = lambda * s.value(zz);
      umin = std::min(umin, u);
      umax = std::max(umax, u);
      if (last || zz - start >= wz || umax - umin >= du) {
        out.push_back({start, zz});
        start = zz;
        umin = umax = u;
      }
      if (last) break;
    }
  }
  return out;
}

struct TermTransform {
  std::vector<cd> C;  // C_j(w_n), n = 0..nmax
  std::vector<cd> W;  // W_j(w_n) (only when weighted)
  std::vector<cd> V;  // V_j(w_n) = E[z e^{-i w lambda sigma(z)}] (only when weighted and pairs)
};

TermTransform term_transform(const Grid& g, const Activation& s, double lambda, double lo, bool weighted, int refine,
                             Eigen::FFT<double>& fft, bool first = false) {
  const double tau = std::sqrt(g.tau2);
  const auto& gl = gauss_legendre(kGL);
  std::vector<double> z, wt;
  for (auto [a, b] : spread_panels(s, lambda, tau, refine))
    for (int i = 0; i < kGL; ++i) {
      const double x = 0.5 * (a + b) + 0.5 * (b - a) * gl.nodes[i];
      z.push_back(x);
      wt.push_back(0.5 * (b - a) * gl.weights[i] * std::exp(-0.5 * x * x) / std::sqrt(2 * kPi));
    }
  // Renormalise the truncated Gaussian to mass 1 and centre z^2 - 1 exactly (tail 2.6e-12).
  double m0 = 0, m2 = 0;
  for (std::size_t i = 0; i < z.size(); ++i) { m0 += wt[i]; m2 += wt[i] * z[i] * z[i]; }
  for (double& x : wt) x /= m0;
  m2 /= m0;
  const double x0 = lo - kKernel * tau - g.h;  // term grid origin (support inside [x0, x0 + L))
  double m1 = 0;
  for (std::size_t i = 0; i < z.size(); ++i) m1 += wt[i] * z[i];  // 0 up to rounding (symmetric rule)
  const bool zw = weighted && first;
  std::vector<double> dens(g.N, 0.0), dw(weighted ? g.N : 0, 0.0), dz(zw ? g.N : 0, 0.0);
  const double inv = 1.0 / (std::sqrt(2 * kPi) * tau), reach = kKernel * tau;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double u = lambda * s.value(z[i]);
    const long m_lo = std::max(0L, long(std::ceil((u - reach - x0) / g.h)));
    const long m_hi = std::min(long(g.N) - 1, long(std::floor((u + reach - x0) / g.h)));
    const double cw = wt[i] * (z[i] * z[i] - m2);
    for (long m = m_lo; m <= m_hi; ++m) {
      const double d = (x0 + double(m) * g.h - u) / tau;
      const double k = inv * std::exp(-0.5 * d * d);
      dens[m] += wt[i] * k;
      if (weighted) dw[m] += cw * k;
      if (zw) dz[m] += wt[i] * (z[i] - m1) * k;
    }
  }
  TermTransform out;
  auto transform = [&](const std::vector<double>& f, std::vector<cd>& dst) {
    std::vector<cd> F;
    fft.fwd(F, f);
    dst.resize(g.nmax + 1);
    for (std::size_t n = 0; n <= g.nmax; ++n) {
      const double w = 2 * kPi * double(n) / g.L;
      dst[n] = g.h * F[n] * std::polar(std::exp(0.5 * g.tau2 * w * w), -w * x0);
    }
  };
  transform(dens, out.C);
  if (weighted) transform(dw, out.W);
  if (zw) transform(dz, out.V);
  return out;
}

// Periodised density (1/L) sum_n F_n e^{i w_n y} of a real measure with transform F_n at y.
// The integral of the same series over [a, b].
struct Series {
  const Grid* g;
  const std::vector<cd>* F;
  double density(double y) const {
    double acc = 0.5 * (*F)[0].real();
    const double dw = 2 * kPi / g->L;
    cd e(1, 0);
    const cd step = std::polar(1.0, dw * y);
    for (std::size_t n = 1; n < F->size(); ++n) {
      e = (n % 128 == 0) ? std::polar(1.0, dw * double(n) * y) : e * step;
      acc += ((*F)[n] * e).real();
    }
    return 2 * acc / g->L;
  }
  double integral(double a, double b) const {
    double acc = 0.5 * (*F)[0].real() * (b - a);
    const double dw = 2 * kPi / g->L;
    for (std::size_t n = 1; n < F->size(); ++n) {
      const double w = dw * double(n);
      const cd d = (std::polar(1.0, w * b) - std::polar(1.0, w * a)) / cd(0, w);
      acc += ((*F)[n] * d).real();
    }
    return 2 * acc / g->L;
  }
};

// Gauss-Legendre nodes on [a, b]: uniform panels of width <= w, the panels touching a graded end
// cut geometrically towards it (t = l is a pole just beyond the ends of T's range).
void interval_nodes(double a, double b, double w, bool grade_a, bool grade_b, int refine, std::vector<double>& y,
                    std::vector<double>& wy) {
  if (!(b > a)) return;
  const auto& gl = gauss_legendre(kGL);
  auto panel = [&](double l, double r) {
    for (int i = 0; i < kGL; ++i) {
      y.push_back(0.5 * (l + r) + 0.5 * (r - l) * gl.nodes[i]);
      wy.push_back(0.5 * (r - l) * gl.weights[i]);
    }
  };
  const int np = std::max(1, int(std::ceil((b - a) / w)));
  const double pw = (b - a) / np;
  const int sub = 1 << std::max(0, refine);  // each geometric panel cut in 2^refine
  auto graded = [&](double end, double inner) {  // panel [end, inner] (either order), graded at end
    double prev = 0;
    for (int j = kGrading; j >= 0; --j) {
      const double f = std::ldexp(1.0, -j);
      for (int s = 1; s <= sub; ++s) {
        const double f0 = prev + (f - prev) * (s - 1) / sub, f1 = prev + (f - prev) * s / sub;
        const double l = end + (inner - end) * f0, r = end + (inner - end) * f1;
        panel(std::min(l, r), std::max(l, r));
      }
      prev = f;
    }
  };
  for (int i = 0; i < np; ++i) {
    const double l = a + i * pw, r = (i + 1 == np) ? b : a + (i + 1) * pw;
    if (i == 0 && grade_a) graded(l, r);
    else if (i + 1 == np && grade_b) graded(r, l);
    else panel(l, r);
  }
}

}  // namespace

std::string quadrature_obstacle(const ModelConfig& model, int directions) {
  const Preprocess T = model.preprocessing();
  if (!T.bounded()) return "the quadrature law needs a bounded T (clip:C or square-clip:C), got " + model.preprocess;
  if (!(model.noise > 0)) return "the quadrature law needs Delta > 0 (the label noise smooths the law of y), got Delta = 0";
  const Activation s = make_activation(model.activation);
  const Grid g = make_grid(model, s, model.lambdas(), 1);
  const double half = T.kind == Preprocess::Kind::clip ? T.c : std::sqrt(T.c);
  const double nodes = (2 * half / (0.25 * std::sqrt(g.Delta)) + 4.0 * (kGrading + 1)) * kGL;
  const double work = nodes * double(g.nmax) * double(directions + 1) + double(g.N) * double(model.lambdas().size()) * 20;
  const double memory = double(g.nmax + 1) * double(model.lambdas().size() + directions + 2) * 16;  // bytes
  if (memory > 512e6)
    return "the quadrature law would hold ~" + short_number(memory / 1e6) + " MB of transforms (budget 512 MB)";
  if (g.N > (std::size_t(1) << 23) || work > kMaxWork)
    return "the quadrature law would cost ~" + short_number(work) + " operations (budget " + short_number(kMaxWork) +
           "; Delta = " + format_number(model.noise) + " is small or the range of y is wide)";
  return "";
}

QuadratureLaw build_quadrature_law(const ModelConfig& model, const std::vector<int>& dirs, int refine,
                                   double support_tail, bool pairs) {
  const std::string why = quadrature_obstacle(model, int(dirs.size()));
  if (!why.empty()) throw std::invalid_argument(why);
  const Activation s = make_activation(model.activation);
  const std::vector<double> lam = model.lambdas();
  const int p = int(lam.size());
  const Grid g = make_grid(model, s, lam, refine);
  const Preprocess T = model.preprocessing();
  std::vector<char> weighted(p, 0);
  for (int k : dirs) weighted.at(k) = 1;

  // Per-term transforms, then leave-one-out products by prefix and suffix.
  Eigen::FFT<double> fft;
  std::vector<std::vector<cd>> C(p);
  std::vector<std::vector<cd>> Wk(p), Vk(p);
  for (int j = 0; j < p; ++j) {
    TermTransform tt = term_transform(g, s, lam[j], g.lo[j], weighted[j], refine, fft, pairs);
    C[j] = std::move(tt.C);
    if (weighted[j]) Wk[j] = std::move(tt.W);
    if (weighted[j] && pairs) Vk[j] = std::move(tt.V);
  }
  const std::size_t nf = g.nmax + 1;
  std::vector<cd> noise(nf);
  for (std::size_t n = 0; n < nf; ++n) {
    const double w = 2 * kPi * double(n) / g.L;
    noise[n] = std::exp(-0.5 * g.Delta * w * w);
  }
  std::vector<std::vector<cd>> prefix(p + 1, std::vector<cd>(nf, cd(1, 0)));
  for (int j = 0; j < p; ++j)
    for (std::size_t n = 0; n < nf; ++n) prefix[j + 1][n] = prefix[j][n] * C[j][n];
  std::vector<cd> suffix(nf, cd(1, 0));
  const int K = int(dirs.size());
  std::vector<std::vector<cd>> F(K + 1, std::vector<cd>(nf));
  for (std::size_t n = 0; n < nf; ++n) F[0][n] = prefix[p][n] * noise[n];
  {
    // Walk j downwards keeping suffix = prod_{i > j} C_i.
    std::vector<int> slot(p, -1);
    for (int q = 0; q < K; ++q) slot[dirs[q]] = q;
    for (int j = p - 1; j >= 0; --j) {
      if (slot[j] >= 0)
        for (std::size_t n = 0; n < nf; ++n) F[slot[j] + 1][n] = prefix[j][n] * suffix[n] * Wk[j][n] * noise[n];
      for (std::size_t n = 0; n < nf; ++n) suffix[n] *= C[j][n];
    }
  }
  // Pairs a < b (non-even sigma): E[z_a z_b; y] has transform V_a V_b prod_{j != a, b} C_j.
  if (pairs)
    for (int a = 0; a < K; ++a)
      for (int b = a + 1; b < K; ++b) {
        std::vector<cd> f(nf);
        for (std::size_t n = 0; n < nf; ++n) {
          cd acc = Vk[dirs[a]][n] * Vk[dirs[b]][n] * noise[n];
          for (int j = 0; j < p; ++j)
            if (j != dirs[a] && j != dirs[b]) acc *= C[j][n];
          f[n] = acc;
        }
        F.push_back(std::move(f));
      }
  const int G = int(F.size()) - 1;  // weighted measures after the law

  // Continuous part of T's range in y, and the atoms.
  QuadratureLaw law;
  law.frequencies = nf;
  law.fft_size = g.N;
  const double w = 0.5 * std::sqrt(g.Delta) * step_scale(refine);
  const double y_lo = g.Y0, y_hi = g.Y0 + g.L;
  std::vector<double> y, wy;
  std::vector<double> Tn;  // T at the nodes
  struct Atom { double T; double a, b; };  // mass = integral of the series over [a, b]
  std::vector<Atom> atoms;
  // Effective support: an end of T's range whose tail beyond holds less than `support_tail` of the
  // mass is cut at the point where the tail reaches support_tail (docs/theory-b.md, "support
  // edge"): the limit formulas put tau at the sup of the support however thin the mass there.
  const Series S0{&g, &F[0]};
  auto solve = [](auto&& f, double lo, double hi) {  // f increasing on [lo, hi], f(lo) < 0 < f(hi)
    for (int it = 0; it < 100 && hi - lo > 1e-13 * (1 + std::abs(lo) + std::abs(hi)); ++it) {
      const double mid = 0.5 * (lo + hi);
      (f(mid) < 0 ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
  };
  double Tmin = 0, Tmax = T.c;
  if (T.kind == Preprocess::Kind::clip) {
    double a = std::max(-T.c, y_lo), b = std::min(T.c, y_hi);
    const bool low_atom = -T.c > y_lo && S0.integral(y_lo, -T.c) >= support_tail;
    const bool high_atom = T.c < y_hi && S0.integral(T.c, y_hi) >= support_tail;
    if (!low_atom) a = solve([&](double q) { return S0.integral(y_lo, q) - support_tail; }, a, b);
    if (!high_atom) b = solve([&](double q) { return support_tail - S0.integral(q, y_hi); }, a, b);
    interval_nodes(a, b, w, true, true, refine, y, wy);
    if (low_atom) atoms.push_back({-T.c, y_lo, -T.c});
    if (high_atom) atoms.push_back({T.c, T.c, y_hi});
    Tmin = low_atom ? -T.c : a;
    Tmax = high_atom ? T.c : b;
  } else {  // square-clip: T = y^2 on |y| < sqrt(c), else c; t's bottom is at y = 0
    double r = std::sqrt(T.c);
    const bool atom = 1.0 - S0.integral(std::max(-r, y_lo), std::min(r, y_hi)) >= support_tail;
    if (!atom) r = solve([&](double q) { return support_tail - (1.0 - S0.integral(-q, q)); }, 0.0, r);
    interval_nodes(std::max(-r, y_lo), std::min(0.0, y_hi), w, true, true, refine, y, wy);
    interval_nodes(std::max(0.0, y_lo), std::min(r, y_hi), w, true, true, refine, y, wy);
    // Atom: everything outside (-r, r): the total minus the inside, both from the series.
    if (atom) atoms.push_back({T.c, std::max(-r, y_lo), std::min(r, y_hi)});
    Tmax = atom ? T.c : r * r;
  }
  law.nodes_y = y.size();
  for (double x : y) Tn.push_back(T(x));
  std::vector<double> t_raw;
  std::vector<std::vector<double>> m(G + 1);
  for (int g_ = 0; g_ <= G; ++g_) {
    const Series S{&g, &F[g_]};
    for (std::size_t i = 0; i < y.size(); ++i) m[g_].push_back(wy[i] * S.density(y[i]));
    for (const auto& at : atoms) {
      double mass = S.integral(at.a, at.b);
      if (T.kind == Preprocess::Kind::square_clip) mass = F[g_][0].real() - mass;
      if (g_ == 0) mass = std::max(0.0, mass);  // a probability (rounding can leave -1e-18)
      m[g_].push_back(mass);
    }
  }
  for (double x : Tn) t_raw.push_back(x);
  for (const auto& at : atoms) t_raw.push_back(at.T);
  double total = 0;
  for (double x : m[0]) total += x;
  law.w = m[0];
  for (double& x : law.w) x /= total;
  law.v.assign(m.begin() + 1, m.begin() + 1 + K);
  law.zz.assign(m.begin() + 1 + K, m.end());
  double mean = 0;
  for (std::size_t i = 0; i < t_raw.size(); ++i) mean += law.w[i] * t_raw[i];
  law.mean_T = mean;
  law.t.resize(t_raw.size());
  for (std::size_t i = 0; i < t_raw.size(); ++i) law.t[i] = t_raw[i] - mean;
  law.t_sup = Tmax - mean;
  law.t_inf = Tmin - mean;
  // E[T'] and E[T''] (distributional derivatives: the clip edges carry delta terms).
  double inside = 0, dT = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    inside += law.w[i];
    dT += law.w[i] * (T.kind == Preprocess::Kind::clip ? 1.0 : 2 * y[i]);
  }
  law.mean_dT = dT;
  if (T.kind == Preprocess::Kind::clip) {
    law.mean_d2T = S0.density(-T.c) - S0.density(T.c);
  } else {
    const double r = std::sqrt(T.c);
    law.mean_d2T = 2 * inside - 2 * r * (S0.density(r) + S0.density(-r));
  }
  return law;
}

}  // namespace hmi::theory

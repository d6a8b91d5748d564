#include "theory/information.hpp"

#include "theory/mesh.hpp"
#include "theory/numerics.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

// LAPACK: eigen-decomposition of a symmetric tridiagonal matrix (same prototype as numerics.cpp).
namespace hmi::theory {
namespace {

// z-axis truncation. Dropping |z| > 9 changes a moment E[z^k ...] by about z^(k-1) phi(z) at
// z = 9 (phi(9) = 1e-18). Measured by moving the cut to 10 and 11: relative change of alpha_c
// ~1e-15 for he2 and he4 at lambda = 1, ~1e-11 for he4 in its mu2 = 0 weak-signal regime (set by
// the degree-10 moment E[he4^2 (z^2-1)]). Not part of the doubling error estimate (fixed at
// every level).
constexpr double kZMax = 9.0;
// y-axis padding beyond g's range, in units of sqrt(noise_var): the noise tail beyond 10
// standard deviations carries y^2-weighted mass ~ 1e-22.
constexpr double kYPad = 10.0;
// Kernel window: z-nodes whose Gaussian factor N(y; g(z), noise_var) is below exp(-40.5) ~ 3e-18
// times that of the node nearest to y are skipped, i.e. those with
// (y - g)^2 > (y - g_nearest)^2 + 81 noise_var. The window is relative to the nearest node, not a
// fixed 9 sd: a fixed cut would, for y near the edge of the support, drop nodes as heavy as the
// ones kept, and with them the cancellation that makes E[z^2 - 1 | y] small at weak signal.
constexpr double kKernelCut2 = 81.0;
// Largest number of panels on either axis at level 0 (memory guard for tiny noise_var).
constexpr std::size_t kMaxPanels = std::size_t(1) << 18;
// Largest number of z-nodes held in memory (~56 bytes each while building), and of y-nodes
// (int counts), for levels >= 2.
constexpr double kMaxNodes = double(1 << 23);
constexpr double kInvSqrt2Pi = 0.398942280401432677939946059934;

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] void fail(const std::string& where, const std::string& what, double value,
                       const std::string& allowed) {
  throw std::invalid_argument(where + what + " = " + num(value) + " (" + allowed + ")");
}

// Gauss-Legendre nodes and weights on [-1, 1] come from theory/numerics (Golub-Welsch,
// Newton-polished).
using Rule = QuadratureRule;

// ---- z-axis: panels adapted to g ---------------------------------------------------------

double checked_g(const std::function<double(double)>& g, double z) {
  return checked_value(g, z, "weak_recovery_threshold: ", "[-9, 9]");
}

using ZMesh = AdaptedMesh;

// Level-0 z-panels (theory/mesh): unit panels on [-9, 9] split at 0 and at the kinks (Gauss-
// Legendre needs g smooth inside a panel), bisected wherever g varies by more than `dg` =
// panel_resolution * sqrt(noise_var): there the likelihood N(y; g(z), noise_var) is a narrow
// bump in z and must be sampled by several nodes.
ZMesh build_z_mesh(const std::function<double(double)>& g, const std::vector<double>& kinks, double dg,
                   const Rule& rule) {
  return build_adapted_mesh(g, kinks, dg, rule, -kZMax, kZMax, 1.0, kMaxPanels, "weak_recovery_threshold: ");
}

// The z-measure as weighted atoms sorted by g(z): a = Gauss-Legendre weight * phi(z),
// normalised to sum 1; c = z^2 - 1 centred so that sum a c = 0 on the discrete measure.
// Centring makes "E[z^2 - 1] = 0" exact for the rule, which the expm1 form below relies on.
struct Atoms {
  std::vector<double> g, a, c;
};

Atoms make_atoms(const std::function<double(double)>& g, const ZMesh& mesh, int level, const Rule& rule) {
  const int split = 1 << level;
  const std::size_t q = rule.nodes.size(), n = (mesh.edges.size() - 1) * split * q;
  std::vector<double> z(n), gz(n), a(n);
  std::size_t m = 0;
  for (std::size_t p = 0; p + 1 < mesh.edges.size(); ++p) {
    const double h = (mesh.edges[p + 1] - mesh.edges[p]) / split;
    for (int s = 0; s < split; ++s) {
      const double mid = mesh.edges[p] + (s + 0.5) * h;
      for (std::size_t i = 0; i < q; ++i, ++m) {
        z[m] = mid + 0.5 * h * rule.nodes[i];
        gz[m] = checked_g(g, z[m]);
        a[m] = 0.5 * h * rule.weights[i] * kInvSqrt2Pi * std::exp(-0.5 * z[m] * z[m]);
      }
    }
  }
  const double mass = std::accumulate(a.begin(), a.end(), 0.0);
  double mean_c = 0;
  for (std::size_t i = 0; i < n; ++i) mean_c += a[i] * (z[i] * z[i] - 1.0);
  mean_c /= mass;

  // Sort by g (ties by index, so the order and hence the rounding are deterministic).
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return gz[i] < gz[j] || (gz[i] == gz[j] && i < j); });
  Atoms at;
  at.g.resize(n);
  at.a.resize(n);
  at.c.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t o = order[i];
    at.g[i] = gz[o];
    at.a[i] = a[o] / mass;
    at.c[i] = z[o] * z[o] - 1.0 - mean_c;
  }
  return at;
}

// ---- y-axis: E_y[(E[z^2 - 1 | y])^2] --------------------------------------------------------

struct LevelValue {
  double inv_alpha = 0;
  std::int64_t work = 0;
  int y_nodes = 0;
};

// For each y-node, with a reference point r and w_i = log of atom i's Gaussian factor relative
// to that of r, written as (g_i - r)(2y - g_i - r) / (2 var) so that it is accurate even when
// g_i - r is tiny:
//   p(y)            = N(y; r, var) * D,   D = sum_i a_i e^{w_i}      (positive terms: exact)
//   E[z^2-1 | y]    = S / D,               S = sum_i a_i c_i e^{w_i}
// and the integrand is p(y) (S/D)^2 = N(y; r, var) S^2 / D.
// S is a signed sum. When the window holds every atom, sum_i a_i c_i = 0, so also
// S = sum_i a_i c_i (e^{w_i} - 1): for a weak signal (all |w_i| ~ lambda y / var, tiny) this form
// has terms of the size of the result instead of O(1) terms that cancel.
// * Weak signal (all atoms within reach and every |w_i| < 1 for r = the mean of g): r = mean g,
//   S in the e^w - 1 form. A reference far from the mean (e.g. an extreme atom) would put a
//   common offset (r - mean g) y / var into every w_i, and the rounding residue of
//   sum_i a_i c_i (~1e-17) times that offset can exceed a second-order signal (mu2 = 0 links).
// * Otherwise: r = the atom nearest to y (so w_i <= 0: no overflow, and atoms below e^-40.5 of
//   it are skipped); both forms of S are accumulated when the window is full and the one with
//   the smaller rounding bound (sum of |terms|) is used: the e^w - 1 form loses when most atoms
//   are far from y (e^w - 1 ~ -1).
LevelValue integrate_y(const Atoms& at, double y_lo, double y_hi, std::size_t y_panels, const Rule& rule,
                       double var) {
  const std::size_t n = at.g.size(), q = rule.nodes.size();
  const double sd = std::sqrt(var), inv_2var = 0.5 / var;
  const double norm = kInvSqrt2Pi / sd;
  const double h = (y_hi - y_lo) / double(y_panels);
  const double spread = at.g.back() - at.g.front();  // atoms are sorted by g
  double g_mean = 0;
  for (std::size_t i = 0; i < n; ++i) g_mean += at.a[i] * at.g[i];
  LevelValue out;
  out.y_nodes = int(y_panels * q);
  double total = 0;
  for (std::size_t p = 0; p < y_panels; ++p) {
    const double mid = y_lo + (p + 0.5) * h;
    double panel = 0;
    for (std::size_t k = 0; k < q; ++k) {
      const double y = mid + 0.5 * h * rule.nodes[k];
      // Nearest atom j (atoms are sorted by g), then the window of atoms within
      // sqrt((y - g_j)^2 + 81 var) of y.
      const std::size_t up = std::size_t(std::lower_bound(at.g.begin(), at.g.end(), y) - at.g.begin());
      std::size_t j = up;
      if (j == n || (j > 0 && y - at.g[j - 1] <= at.g[j] - y)) j = j - 1;
      const double half_width = std::sqrt((y - at.g[j]) * (y - at.g[j]) + kKernelCut2 * var);
      const std::size_t lo = std::size_t(std::lower_bound(at.g.begin(), at.g.end(), y - half_width) - at.g.begin());
      const std::size_t hi = std::size_t(std::upper_bound(at.g.begin(), at.g.end(), y + half_width) - at.g.begin());
      const bool full = lo == 0 && hi == n;  // j is always inside: lo <= j < hi
      const bool weak = full && spread * (2.0 * std::abs(y - g_mean) + spread) * inv_2var < 1.0;
      const double ref = weak ? g_mean : at.g[j];
      double d = 0, s = 0, s_bound = 0, sm = 0, sm_bound = 0;
      for (std::size_t i = lo; i < hi; ++i) {
        const double w = (at.g[i] - ref) * (2.0 * y - at.g[i] - ref) * inv_2var;
        // One transcendental call gives both e^w and e^w - 1 to full relative precision.
        double e, em;
        if (w > -0.5) {
          em = std::expm1(w);
          e = 1.0 + em;
        } else {
          e = std::exp(w);
          em = e - 1.0;
        }
        const double ac = at.a[i] * at.c[i];
        d += at.a[i] * e;
        s += ac * e;
        s_bound += std::abs(ac) * e;
        sm += ac * em;
        sm_bound += std::abs(ac * em);
      }
      if (weak || (full && sm_bound < s_bound)) s = sm;
      out.work += std::int64_t(hi - lo);
      const double r = y - ref;
      panel += rule.weights[k] * norm * std::exp(-r * r * inv_2var) * (s * s / d);
    }
    total += 0.5 * h * panel;
  }
  out.inv_alpha = total;
  return out;
}

double to_alpha(double inv_alpha) {
  return inv_alpha > 0 ? 1.0 / inv_alpha : std::numeric_limits<double>::infinity();
}

void check_direction(const char* where, double var_sigma, const std::vector<double>& amplitudes, int k,
                     double Delta) {
  const std::string w = std::string(where) + ": ";
  if (amplitudes.empty()) throw std::invalid_argument(w + "amplitudes is empty (need p >= 1 values)");
  if (k < 1 || std::size_t(k) > amplitudes.size())
    fail(w, "k", k, "must be in [1, " + std::to_string(amplitudes.size()) + "], 1-based");
  for (std::size_t j = 0; j < amplitudes.size(); ++j)
    if (!std::isfinite(amplitudes[j])) fail(w, "amplitudes[" + std::to_string(j) + "]", amplitudes[j], "must be finite");
  if (!(var_sigma >= 0) || !std::isfinite(var_sigma)) fail(w, "var_sigma", var_sigma, "must be >= 0 and finite");
  if (!std::isfinite(Delta)) fail(w, "Delta", Delta, "must be finite");
}

}  // namespace

void ThresholdConfig::validate() const {
  const std::string w = "ThresholdConfig.";
  if (!(rel_tol > 0 && rel_tol < 1)) fail(w, "rel_tol", rel_tol, "must be in (0, 1)");
  if (nodes_per_panel < 2 || nodes_per_panel > 64) fail(w, "nodes_per_panel", nodes_per_panel, "must be in [2, 64]");
  if (!(panel_resolution > 0 && panel_resolution <= 100))
    fail(w, "panel_resolution", panel_resolution, "must be in (0, 100]");
  if (min_level < 1 || min_level > 12) fail(w, "min_level", min_level, "must be in [1, 12]");
  if (max_level < min_level || max_level > 12)
    fail(w, "max_level", max_level, "must be in [min_level = " + std::to_string(min_level) + ", 12]");
  if (!(max_kernel_evaluations > 0)) fail(w, "max_kernel_evaluations", max_kernel_evaluations, "must be > 0");
  for (std::size_t i = 0; i < kinks.size(); ++i)
    if (!std::isfinite(kinks[i])) fail(w, "kinks[" + std::to_string(i) + "]", kinks[i], "must be finite");
}

ThresholdResult weak_recovery_threshold(const std::function<double(double)>& g, double noise_var,
                                        double rel_tol) {
  return weak_recovery_threshold(g, noise_var, ThresholdConfig{.rel_tol = rel_tol});
}

ThresholdResult weak_recovery_threshold(const std::function<double(double)>& g, double noise_var,
                                        const ThresholdConfig& config) {
  const std::string where = "weak_recovery_threshold: ";
  if (!g) throw std::invalid_argument(where + "g is empty (must be a callable)");
  if (!(noise_var > 0) || !std::isfinite(noise_var)) fail(where, "noise_var", noise_var, "must be > 0 and finite");
  config.validate();

  const double sd = std::sqrt(noise_var);
  const Rule& rule = gauss_legendre(config.nodes_per_panel);
  const ZMesh mesh = build_z_mesh(g, config.kinks, config.panel_resolution * sd, rule);
  // y covers g's range on [-9, 9] plus 10 noise standard deviations; uniform panels of width
  // panel_resolution * sd resolve the Gaussian smoothing, the finest scale p(y) and
  // E[z^2 - 1 | y] have.
  const double y_lo = mesh.g_min - kYPad * sd, y_hi = mesh.g_max + kYPad * sd;
  const double y_panels_wanted = std::ceil((y_hi - y_lo) / (config.panel_resolution * sd));
  const std::size_t y_panels = std::size_t(std::clamp(y_panels_wanted, 4.0, double(kMaxPanels)));

  ThresholdResult res;
  double previous_alpha = 0;
  std::int64_t last_work = 0;
  for (int level = 0; level <= config.max_level; ++level) {
    // Each level halves every panel on both axes, so its work is ~4x the last one's.
    // Levels 0 and 1 always run: an error estimate needs both.
    const double split = double(1 << level), q = config.nodes_per_panel;
    if (level >= 2 && (double(res.kernel_evaluations) + 4.0 * last_work > config.max_kernel_evaluations ||
                       double(mesh.edges.size() - 1) * q * split > kMaxNodes || double(y_panels) * q * split > kMaxNodes))
      break;
    const Atoms atoms = make_atoms(g, mesh, level, rule);
    const LevelValue v = integrate_y(atoms, y_lo, y_hi, y_panels << level, rule, noise_var);
    last_work = v.work;
    res.kernel_evaluations += v.work;
    res.inv_alpha = v.inv_alpha;
    res.alpha_c = to_alpha(v.inv_alpha);
    res.z_nodes = int(atoms.g.size());
    res.y_nodes = v.y_nodes;
    res.nodes_used = res.z_nodes + res.y_nodes;
    res.level = level;
    if (level >= 1) {
      if (std::isinf(res.alpha_c) && std::isinf(previous_alpha))
        res.error = 0;  // S = 0 for every y at both levels: E[z^2-1|y] vanishes identically
      else
        res.error = std::abs(res.alpha_c - previous_alpha);
      res.converged = std::isinf(res.alpha_c) ? res.error == 0 : res.error < config.rel_tol * res.alpha_c;
      if (level >= config.min_level && res.converged) break;
    }
    previous_alpha = res.alpha_c;
  }
  return res;
}

ThresholdResult oracle_threshold(const std::function<double(double)>& sigma, [[maybe_unused]] double var_sigma,
                                 const std::vector<double>& amplitudes, int k, double Delta,
                                 const ThresholdConfig& config) {
  check_direction("oracle_threshold", var_sigma, amplitudes, k, Delta);
  if (!(Delta > 0)) fail("oracle_threshold: ", "Delta", Delta, "must be > 0 and finite");
  if (!sigma) throw std::invalid_argument("oracle_threshold: sigma is empty (must be a callable)");
  const double lambda = amplitudes[k - 1];
  return weak_recovery_threshold([&sigma, lambda](double z) { return lambda * sigma(z); }, Delta, config);
}

ThresholdResult agnostic_threshold(const std::function<double(double)>& sigma, double var_sigma,
                                   const std::vector<double>& amplitudes, int k, double Delta,
                                   const ThresholdConfig& config) {
  check_direction("agnostic_threshold", var_sigma, amplitudes, k, Delta);
  if (!(Delta >= 0)) fail("agnostic_threshold: ", "Delta", Delta, "must be >= 0 and finite");
  if (!sigma) throw std::invalid_argument("agnostic_threshold: sigma is empty (must be a callable)");
  // Summed directly (not total minus lambda_k^2) so a tiny remainder is not a difference.
  double others = 0;
  for (std::size_t j = 0; j < amplitudes.size(); ++j)
    if (j != std::size_t(k - 1)) others += amplitudes[j] * amplitudes[j];
  const double noise_var = Delta + others * var_sigma;
  if (!(noise_var > 0))
    fail("agnostic_threshold: ", "Delta + sum_{j != k} lambda_j^2 var_sigma", noise_var, "must be > 0");
  const double lambda = amplitudes[k - 1];
  return weak_recovery_threshold([&sigma, lambda](double z) { return lambda * sigma(z); }, noise_var, config);
}

double weak_signal_threshold(double mu2, double lambda, double noise_var) {
  const std::string where = "weak_signal_threshold: ";
  if (!std::isfinite(mu2)) fail(where, "mu2", mu2, "must be finite");
  if (!std::isfinite(lambda)) fail(where, "lambda", lambda, "must be finite");
  if (!(noise_var > 0) || !std::isfinite(noise_var)) fail(where, "noise_var", noise_var, "must be > 0 and finite");
  const double signal = mu2 * lambda;
  return signal == 0 ? std::numeric_limits<double>::infinity() : noise_var / (signal * signal);
}

}  // namespace hmi::theory

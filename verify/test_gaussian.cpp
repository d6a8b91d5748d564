// The Gaussian generator (estimators/data.hpp): Philox4x32-10 words through a 1024-box ziggurat.
// Claims:
//  (a) the tables are the ziggurat of exp(-x^2/2): equal box areas v, the base strip plus tail
//      of area v, F = f(X), K = floor(2^52 X[i+1] / X[i]) (long double, std::erfc / std::exp);
//  (b) every instruction set gives the same bits, for every count and row (including rows
//      beyond 2^32 and the label noise, which runs its lanes across rows);
//  (c) the kernels compute the definition: agreement with verify/gaussian_reference.hpp
//      (Random123's Philox, long double) to 4e-15 relative, on a set that exercises the slow
//      path (wedges, tail, restarts);
//  (d) the output is N(0, 1): mean, variance, 4th moment, tail frequencies, chi-square on 1024
//      equiprobable bins and Kolmogorov-Smirnov, each against its sampling distribution.
// Tolerances: (a) 1e-12 relative (long double evaluation of double tables: F differences lose
// ~3 digits near the base); (c) 4e-15: x = m W[i] is one rounding, the tail adds r + log(u)/r
// (a few ulp); (d) |z| <= 5 for the 11 z-scores and chi-square (normal approximation of each;
// P(|z| > 5) = 6e-7), KS statistic sqrt(n) D <= 1.95 (P = 0.001): family-wise false alarm
// ~1e-3 per master seed. Wrong predictions (each must be rejected by the same statistics):
// N(0, 1.005^2), N(0.002, 1), and "no mass beyond r" (a ziggurat without its tail); for (a) a
// wrong r (3.65415, the 256-box value) and for (c) the reference at the next row.
#define BOOST_TEST_MODULE gaussian_generator
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "estimators/data.hpp"
#include "verify/check.hpp"
#include "verify/gaussian_reference.hpp"

namespace ref = hmi::verify::gaussian_reference;
using hmi::reports::ClaimReport;

namespace {

constexpr long double kSqrtHalfPi = 1.253314137315500251207882642405522627L;

long double f(long double x) { return std::exp(-x * x / 2); }

// Largest relative violation of the table equations, for a ziggurat of base r (the true one:
// r = kZigR). v comes from the base strip: r f(r) + int_r^inf f.
double table_violation(long double r) {
  const long double v = r * f(r) + kSqrtHalfPi * std::erfc(r / std::sqrt(2.0L));
  constexpr int N = ref::kZigBoxes;
  auto X = [](int i) { return i == N ? 0.0L : (long double)ref::kZigW[i] * 0x1p52L; };
  double worst = std::abs(double((X(0) * f(r) - v) / v));                 // pseudo-width of the base
  worst = std::max(worst, std::abs(double((X(1) - r) / r)));             // the first box ends at r
  for (int i = 1; i < N; ++i) {
    worst = std::max(worst, std::abs(double((ref::kZigF[i] - f(X(i))) / f(X(i)))));
    worst = std::max(worst, std::abs(double((X(i) * ((long double)ref::kZigF[i + 1] - ref::kZigF[i]) - v) / v)));
  }
  for (int i = 0; i < N; ++i) {  // K to within one unit of its defining floor
    const long double k = std::floor(0x1p52L * X(i + 1) / X(i));
    worst = std::max(worst, double(std::abs(k - (long double)ref::kZigK[i])) * 0x1p-52);
  }
  return worst;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tables_are_the_ziggurat_of_the_normal) {
  const double truth = table_violation(ref::kZigR), wrong = table_violation(3.6541528853610088L);
  BOOST_TEST_MESSAGE("table equations: max relative violation " << truth << " (wrong r = 3.65415, the 256-box value: " << wrong << ")");
  BOOST_TEST(truth <= 1e-12);
  BOOST_TEST(wrong > 1e-12);  // the check is not vacuous
}

BOOST_AUTO_TEST_CASE(every_instruction_set_gives_the_same_bits) {
  const char* isas[] = {"avx512", "avx2", "sse2", "generic"};
  std::vector<double> a(1000), b(1000);
  int compared = 0;
  for (std::uint64_t k = 0; k < 400; ++k) {
    const std::uint64_t seed = 0x9E3779B97F4A7C15ull * (k + 3), row = (k * 0x2545F4914F6CDD1Dull) >> (k % 61);
    const std::uint32_t stream = std::uint32_t(k % 9);
    const int count = k < 200 ? int(k) + 1 : 1000 - int(k % 7);
    hmi::est::fill_gaussian_row(seed, stream, row, count, a.data());
    for (const char* isa : isas) {
      if (!hmi::est::fill_gaussian_row_isa(isa, seed, stream, row, count, b.data())) continue;
      ++compared;
      BOOST_TEST_REQUIRE(std::memcmp(a.data(), b.data(), std::size_t(count) * sizeof(double)) == 0,
                         isa << " differs from " << hmi::est::gaussian_isa() << " at seed " << seed << ", row " << row
                             << ", count " << count);
    }
  }
  BOOST_TEST_MESSAGE(compared << " rows compared bit for bit across instruction sets");
  BOOST_TEST(compared >= 800);  // at least generic and sse2 ran everywhere

  // Label noise: value 0 of rows 0..4095 of stream 2, computed with the lanes across rows,
  // equals fill_gaussian_row(seed, 2, i, 1) (y = f(0) + xi with Delta = 1, recovered to rounding).
  hmi::theory::ModelConfig m;
  m.noise = 1.0;
  const hmi::est::Teacher t = hmi::est::make_teacher(m, 50);
  const int rows = 4096;
  std::vector<double> Z(std::size_t(rows) * t.p, 0.0), y(rows), f0(rows);
  hmi::est::detail::labels_from_projections(t, 0, rows, Z.data(), y.data());
  hmi::est::teacher_output(t, rows, Z.data(), f0.data());
  double worst = 0;
  for (int i = 0; i < rows; ++i) {
    double xi;
    hmi::est::fill_gaussian_row(t.seed, 2, std::uint64_t(i), 1, &xi);
    worst = std::max(worst, std::abs((y[i] - f0[i]) - xi) / std::max(1.0, std::abs(f0[i])));
  }
  BOOST_TEST_MESSAGE("label noise vs row generator: max difference " << worst);
  BOOST_TEST(worst <= 4e-16);  // one rounding of f(0) + xi
}

BOOST_AUTO_TEST_CASE(kernels_compute_the_definition) {
  const int d = 1000, rows = 300;
  std::vector<double> a(d);
  double worst = 0, wrong = 0;
  int slow = 0, tail = 0;
  for (int k = 0; k < rows; ++k) {
    const std::uint64_t seed = 1000 * hmi::verify::master_seed() + std::uint64_t(k), row = std::uint64_t(k) << (k % 40);
    const std::uint32_t stream = std::uint32_t(k % 5);
    hmi::est::fill_gaussian_row(seed, stream, row, d, a.data());
    for (int j = 0; j < d; ++j) {
      const ref::Normal z = ref::normal(seed, stream, row, std::uint64_t(j));
      slow += z.slow;
      tail += z.tail;
      worst = std::max(worst, double(std::abs((a[j] - z.value) / z.value)));
      if (j < 20) {  // a wrong definition: the same row index plus one
        const long double w = ref::normal(seed, stream, row + 1, std::uint64_t(j)).value;
        wrong = std::max(wrong, double(std::abs((a[j] - w) / w)));
      }
    }
  }
  BOOST_TEST_MESSAGE(rows * d << " normals against the reference: max relative error " << worst << " (" << slow
                              << " through the slow path, " << tail << " from the tail; wrong row: " << wrong << ")");
  BOOST_TEST(slow >= 600);  // 0.43 % of 300000 (~1280 expected): the slow path is exercised
  BOOST_TEST(tail >= 5);    // P(|x| > r = 4.04) = 5.4e-5 per normal: ~16 expected
  BOOST_TEST(worst <= 4e-15);
  BOOST_TEST(wrong > 4e-15);
}

namespace {

// A candidate law for the generator's output: its CDF and moments.
struct Law {
  std::string name;
  double mean, sd, cut;  // N(mean, sd^2), with no mass beyond |x| > cut (cut = inf: none removed)
  double cdf(double x) const {  // for cut < inf: the mass beyond +-cut sits at +-cut
    if (x >= cut) return 1.0;
    if (x < -cut) return 0.0;
    return 0.5 * std::erfc(-(x - mean) / (sd * std::sqrt(2.0)));
  }
  double tail(double c) const { return c >= cut ? 0.0 : cdf(-c) + (1.0 - cdf(c)); }  // P(|x| > c)
};

constexpr int kBins = 1024;

// Edges of kBins bins equiprobable under N(0, 1) (quantiles by bisection on erfc).
std::vector<double> normal_bin_edges() {
  std::vector<double> edges(kBins + 1);
  edges[0] = -INFINITY;
  edges[kBins] = INFINITY;
  for (int b = 1; b < kBins; ++b) {
    double lo = -40, hi = 40;
    for (int it = 0; it < 200; ++it) {
      const double mid = 0.5 * (lo + hi);
      (0.5 * std::erfc(-mid / std::sqrt(2.0)) < double(b) / kBins ? lo : hi) = mid;
    }
    edges[b] = 0.5 * (lo + hi);
  }
  return edges;
}

// The sample's moments, tail counts, bin counts and a KS subsample (sorted).
struct Sample {
  double n = 0, s1 = 0, s2 = 0, s4 = 0;
  std::vector<double> thresholds{1.0, 2.0, 3.0, ref::kZigR, 4.0, 4.5, 5.0};
  std::vector<double> beyond = std::vector<double>(7, 0.0);
  std::vector<double> edges = normal_bin_edges(), count = std::vector<double>(kBins, 0.0);
  std::vector<double> ks;
  void add(double v) {
    const double a = std::abs(v), v2 = v * v;
    s1 += v;
    s2 += v2;
    s4 += v2 * v2;
    for (std::size_t k = 0; k < thresholds.size(); ++k) beyond[k] += a > thresholds[k];
    count[std::size_t(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin() - 1)] += 1;
    n += 1;
  }
};

// Compares the sample with a law; returns true if every statistic is within its tolerance.
bool compare(const Sample& s, const Law& law, ClaimReport& r) {
  bool ok = true;
  const double mu = law.mean, var = law.sd * law.sd, m4 = 3 * var * var + 6 * var * mu * mu + mu * mu * mu * mu;
  const double mean = s.s1 / s.n, m2 = s.s2 / s.n, mm4 = s.s4 / s.n;
  // z-scores: SE of the mean sqrt(var/n), of E x^2 sqrt((E x^4 - (E x^2)^2)/n), of E x^4 with
  // E x^8 = 105 for N(0,1) (the law's own values; the sample's would hide a wrong law's shape).
  const double se1 = std::sqrt(var / s.n), se2 = std::sqrt((m4 - (var + mu * mu) * (var + mu * mu)) / s.n),
               se4 = std::sqrt((105.0 * var * var * var * var - m4 * m4) / s.n);
  if (law.cut == INFINITY) {
    ok &= r.check(law.name + ": mean", 0, mean, se1, mu, 5 * se1);
    ok &= r.check(law.name + ": E x^2", 0, m2, se2, var + mu * mu, 5 * se2);
    ok &= r.check(law.name + ": E x^4", 0, mm4, se4, m4, 5 * se4);
  }
  for (std::size_t k = 0; k < s.thresholds.size(); ++k) {
    const double p = law.tail(s.thresholds[k]), obs = s.beyond[k] / s.n;
    const double se = std::sqrt(std::max(p * (1 - p), 1.0 / s.n) / s.n);  // floor: one count, for p = 0
    ok &= r.check(law.name + ": P(|x| > " + hmi::theory::short_number(s.thresholds[k]) + ")", s.thresholds[k], obs, se, p,
                  5 * se);
  }
  // Chi-square on the bins (equiprobable under N(0, 1)), expected counts from the law.
  double chi2 = 0;
  for (int b = 0; b < kBins; ++b) {
    const double e = s.n * ((b + 1 == kBins ? 1.0 : law.cdf(s.edges[b + 1])) - (b == 0 ? 0.0 : law.cdf(s.edges[b])));
    const double c = s.count[std::size_t(b)];
    chi2 += e > 0 ? (c - e) * (c - e) / e : (c > 0 ? INFINITY : 0.0);
  }
  const double zchi = (chi2 - (kBins - 1)) / std::sqrt(2.0 * (kBins - 1));
  ok &= r.check(law.name + ": chi-square z (1024 bins)", 0, zchi, 1.0, 0.0, 5.0);
  // Kolmogorov-Smirnov on the subsample.
  double D = 0;
  const double m = double(s.ks.size());
  for (std::size_t i = 0; i < s.ks.size(); ++i) {
    const double F = law.cdf(s.ks[i]);
    D = std::max({D, double(i + 1) / m - F, F - double(i) / m});
  }
  ok &= r.check(law.name + ": KS sqrt(n) D", 0, std::sqrt(m) * D, 0.0, 0.0, 1.95);
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_CASE(output_is_standard_normal) {
  const auto t0 = std::chrono::steady_clock::now();
  const int d = 1024, rows = 1 << 15;  // 2^25 normals
  const std::uint64_t seed = 1000 * hmi::verify::master_seed() + 17;
  Sample s;
  std::vector<double> x(d);
  for (int r = 0; r < rows; ++r) {
    hmi::est::fill_gaussian_row(seed, std::uint64_t(r % 5), std::uint64_t(r), d, x.data());
    for (int j = 0; j < d; ++j) {
      s.add(x[j]);
      if (j % 8 == r % 8) s.ks.push_back(x[j]);  // 4M values; every position j sees rows
    }
  }
  std::sort(s.ks.begin(), s.ks.end());

  ClaimReport r;
  r.claim = "generator";
  r.title = "Philox4x32-10 + ziggurat output is N(0, 1)";
  r.config = {{"normals", s.n}, {"row_length", d}, {"seed", seed}, {"ks_subsample", s.ks.size()}};
  r.seeds = {seed};
  r.tolerance_reason = "|z| <= 5 per statistic (P = 6e-7 each, normal approximation), KS sqrt(n) D <= 1.95 (P = 0.001)";
  const bool truth = compare(s, {"N(0,1)", 0.0, 1.0, INFINITY}, r);
  hmi::verify::print_failures(r);
  BOOST_TEST(truth);
  for (const Law& wrong : {Law{"N(0,1.005^2)", 0.0, 1.005, INFINITY}, Law{"N(0.002,1)", 0.002, 1.0, INFINITY},
                           Law{"N(0,1) without the tail beyond r", 0.0, 1.0, ref::kZigR}}) {
    ClaimReport w;
    w.claim = "generator";
    r.reject(wrong.name, !compare(s, wrong, w));
  }
  hmi::verify::check_rejections(r, "generator");
  hmi::verify::write_report(r, "generator");
  BOOST_TEST_MESSAGE("output_is_standard_normal: " << hmi::verify::seconds_since(t0) << " s");
}

#include "theory/mesh.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace hmi::theory {
namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

double checked_value(const std::function<double(double)>& g, double z, const std::string& where,
                     const std::string& range) {
  const double v = g(z);
  if (!std::isfinite(v))
    throw std::invalid_argument(where + "g(" + num(z) + ") = " + num(v) + " (g must be finite on " + range + ")");
  return v;
}

AdaptedMesh build_adapted_mesh(const std::function<double(double)>& g, const std::vector<double>& kinks,
                               double dg, const QuadratureRule& rule, double lo, double hi, double base_width,
                               std::size_t max_panels, const std::string& where) {
  std::ostringstream range_text;  // (a stream: GCC 12 warns falsely on the chained + of literals)
  range_text << "[" << lo << ", " << hi << "]";
  const std::string range = range_text.str();
  if (!(hi > lo) || !(base_width > 0)) {
    std::ostringstream m;
    m << where << "mesh [" << lo << ", " << hi << "] with base width " << base_width << " (must have hi > lo and width > 0)";
    throw std::invalid_argument(m.str());
  }
  std::vector<double> base;
  const int n = std::max(1, int(std::ceil((hi - lo) / base_width - 1e-9)));
  for (int i = 0; i < n; ++i) base.push_back(lo + i * base_width);
  base.push_back(hi);
  if (lo < 0 && hi > 0) base.push_back(0.0);
  for (double k : kinks)
    if (k > lo && k < hi) base.push_back(k);
  std::sort(base.begin(), base.end());
  // Edges closer than 1e-12 (relative to the interval when it is shorter than 1) are one edge.
  const double merge = 1e-12 * std::min(1.0, hi - lo);
  base.erase(std::unique(base.begin(), base.end(), [merge](double a, double b) { return b - a < merge; }),
             base.end());

  struct Panel {
    double a, b;
    bool done;
  };
  std::vector<Panel> panels;
  for (std::size_t i = 0; i + 1 < base.size(); ++i) panels.push_back({base[i], base[i + 1], false});
  AdaptedMesh mesh;
  std::vector<double> samples(rule.nodes.size() + 2);
  // Depth cap 48: a jump in g (not declared as a kink) never meets the criterion.
  for (int depth = 0; depth <= 48; ++depth) {
    std::vector<Panel> next;
    bool split_any = false;
    for (std::size_t i = 0; i < panels.size(); ++i) {
      const Panel& p = panels[i];
      if (p.done) {
        next.push_back(p);
        continue;
      }
      const double mid = 0.5 * (p.a + p.b), half = 0.5 * (p.b - p.a);
      samples.front() = checked_value(g, p.a, where, range);
      for (std::size_t t = 0; t < rule.nodes.size(); ++t)
        samples[t + 1] = checked_value(g, mid + half * rule.nodes[t], where, range);
      samples.back() = checked_value(g, p.b, where, range);
      double variation = 0;
      for (std::size_t t = 1; t < samples.size(); ++t) variation += std::abs(samples[t] - samples[t - 1]);
      // Panel count if this one splits: those already placed, this one's two, those to come.
      const bool split = variation > dg && depth < 48 && next.size() + 2 + (panels.size() - i - 1) <= max_panels;
      if (split) {
        next.push_back({p.a, mid, false});
        next.push_back({mid, p.b, false});
        split_any = true;
      } else {
        for (double v : samples) {
          mesh.g_min = std::min(mesh.g_min, v);
          mesh.g_max = std::max(mesh.g_max, v);
        }
        next.push_back({p.a, p.b, true});
      }
    }
    panels.swap(next);
    if (!split_any) break;
  }
  mesh.edges.push_back(panels.front().a);
  for (const Panel& p : panels) mesh.edges.push_back(p.b);
  return mesh;
}

}  // namespace hmi::theory

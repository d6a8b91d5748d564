#pragma once
// Composite Gauss-Legendre panels adapted to a function g: the z- (and omega-) axis of the
// 2-D and 3-D quadratures of theory/information and theory/bayes. Both integrate a likelihood
// N(y; g(z), noise_var) over z, a bump of width sqrt(noise_var)/|g'(z)| that Gauss-Hermite
// cannot resolve at high signal-to-noise.
#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "theory/numerics.hpp"

namespace hmi::theory {

struct AdaptedMesh {
  std::vector<double> edges;  ///< panel i is [edges[i], edges[i+1]]
  double g_min = std::numeric_limits<double>::infinity();   ///< min of g on the sampled points
  double g_max = -std::numeric_limits<double>::infinity();  ///< max of g on the sampled points
};

/// g(z), throwing std::invalid_argument "<where>g(z) = v (g must be finite on [lo, hi])" when
/// it is not finite. `where` ends in ": ".
double checked_value(const std::function<double(double)>& g, double z, const std::string& where,
                     const std::string& range);

/// Level-0 panels on [lo, hi]: edges at lo + i * base_width (the last at hi), at 0 and at the
/// kinks inside (lo, hi); then every panel across which g varies by more than `dg` is bisected,
/// breadth first (so that an exhausted budget of `max_panels` leaves the mesh uniformly
/// under-resolved, which a doubling error estimate then reports), at most 48 times. The
/// variation is measured on the panel's own `rule` nodes plus its ends; g_min and g_max are
/// taken over the same points of the final panels. Non-finite g throws (see checked_value).
AdaptedMesh build_adapted_mesh(const std::function<double(double)>& g, const std::vector<double>& kinks,
                               double dg, const QuadratureRule& rule, double lo, double hi, double base_width,
                               std::size_t max_panels, const std::string& where);

}  // namespace hmi::theory

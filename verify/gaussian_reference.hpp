#pragma once
// An independent, deliberately plain statement of the generator's definition
// (estimators/data.hpp), for checking the vectorised kernels: Random123's own
// r123::Philox4x32 for the words and long-double arithmetic (std::exp) for the ziggurat, sharing
// only the tables (estimators/ziggurat_tables.inc, themselves checked against their defining
// equations in verify/test_gaussian.cpp). Used by that test and by hmi_bench's self-check.
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <Random123/philox.h>

namespace hmi::verify::gaussian_reference {

#include "estimators/ziggurat_tables.inc"

struct Words {
  std::uint64_t w0, w1;  // (x0 | x1 << 32), (x2 | x3 << 32) of one Philox4x32-10 output
};

inline Words philox(std::uint64_t seed, std::uint32_t c0, std::uint64_t row, std::uint32_t stream) {
  r123::Philox4x32 g;
  const auto r = g({{c0, std::uint32_t(row), std::uint32_t(row >> 32), stream}}, {{std::uint32_t(seed), std::uint32_t(seed >> 32)}});
  return {std::uint64_t(r[0]) | std::uint64_t(r[1]) << 32, std::uint64_t(r[2]) | std::uint64_t(r[3]) << 32};
}

struct Normal {
  long double value;
  bool slow = false;  // the word failed the fast test (wedge, tail or restart)
  bool tail = false;  // drawn from the tail beyond r
};

/// Normal j of (seed, stream, row): the word of counter 32 (j / 64) + j % 32 (low half for
/// j % 64 < 32, high half otherwise), box i = bits 0-9, sign = bit 10, m = bits 12-63; accepted
/// when m < K[i], else Marsaglia & Tsang's wedge / tail step with words from counters
/// 2^31 + 128 j + attempt, restarting from the second word of a draw after a wedge rejection.
inline Normal normal(std::uint64_t seed, std::uint32_t stream, std::uint64_t row, std::uint64_t j) {
  const Words first = philox(seed, std::uint32_t(32 * (j / 64) + j % 32), row, stream);
  std::uint64_t a = (j % 64 < 32) ? first.w0 : first.w1;
  std::uint32_t attempt = 0;
  auto draw = [&] {
    if (attempt >= 128) throw std::runtime_error("reference ziggurat: 128 rejections");
    return philox(seed, std::uint32_t((1u << 31) | (j << 7) | attempt++), row, stream);
  };
  auto open_unit = [](std::uint64_t w) { return ((long double)(w >> 12) + 0.5L) * 0x1p-52L; };
  Normal out;
  for (;;) {
    const int i = int(a % kZigBoxes);
    const long double sign = (a / kZigBoxes) % 2 ? -1.0L : 1.0L;
    const std::uint64_t m = a >> 12;
    const long double x = (long double)m * (long double)kZigW[i];
    if (std::int64_t(m) < kZigK[i]) {
      out.value = sign * x;
      return out;
    }
    out.slow = true;
    Words w = draw();
    if (i == 0) {
      out.tail = true;
      for (;;) {
        const long double t = -std::log(open_unit(w.w0)) / (long double)kZigR, e = -std::log(open_unit(w.w1));
        if (2 * e > t * t) {
          out.value = sign * ((long double)kZigR + t);
          return out;
        }
        w = draw();
      }
    }
    const long double y = kZigF[i] + (long double)(w.w0 >> 12) * 0x1p-52L * ((long double)kZigF[i + 1] - kZigF[i]);
    if (y < std::exp(-x * x / 2)) {
      out.value = sign * x;
      return out;
    }
    a = w.w1;
  }
}

}  // namespace hmi::verify::gaussian_reference

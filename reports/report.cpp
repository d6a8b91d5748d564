#include "reports/report.hpp"

#include <boost/version.hpp>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>
#include <fcntl.h>
#include <unistd.h>

#include <Eigen/Core>
#include <xtensor/xtensor_config.hpp>
#include <xtensor-blas/xblas_config.hpp>

#include "build_info.hpp"
#include "estimators/blas_kernels.hpp"
#include "estimators/data.hpp"

namespace hmi::reports {

bool ClaimReport::check(std::string label, double x, double measured, double measured_error, double expected,
                        double tolerance) {
  const bool ok = std::isfinite(measured) && std::abs(measured - expected) <= tolerance;
  points.push_back({std::move(label), x, measured, measured_error, expected, tolerance, ok});
  return ok;
}

bool ClaimReport::record(Point p) {
  points.push_back(std::move(p));
  return points.back().pass;
}

bool ClaimReport::pass() const {
  if (points.empty()) return false;  // a claim with nothing checked has not passed
  for (const auto& p : points)
    if (!p.pass) return false;
  return true;
}

namespace {
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

nlohmann::json ClaimReport::to_json() const {
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : points)
    pts.push_back({{"label", p.label}, {"x", num(p.x)}, {"measured", num(p.measured)},
                   {"measured_error", num(p.measured_error)}, {"expected", num(p.expected)},
                   {"tolerance", num(p.tolerance)}, {"pass", p.pass}});
  return {{"schema_version", kSchemaVersion}, {"claim", claim}, {"id", claim}, {"title", title}, {"config", config},
          {"seeds", seeds}, {"points", pts}, {"pass", pass()}, {"tolerance_reason", tolerance_reason},
          {"extra", extra}, {"provenance", provenance()}};
}

nlohmann::json provenance() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"git_commit", build::git_commit},
          {"compiler", build::compiler},
          {"build_type", build::build_type},
          {"hmi_version", build::version},
          {"blas", est::blas::config()},
          {"data_generator", est::kGeneratorId},
          {"gaussian_isa", est::gaussian_isa()},
          {"versions",
           {{"xtensor", std::to_string(XTENSOR_VERSION_MAJOR) + "." + std::to_string(XTENSOR_VERSION_MINOR) + "." +
                            std::to_string(XTENSOR_VERSION_PATCH)},
            {"xtensor-blas", std::to_string(XTENSOR_BLAS_VERSION_MAJOR) + "." + std::to_string(XTENSOR_BLAS_VERSION_MINOR) +
                                 "." + std::to_string(XTENSOR_BLAS_VERSION_PATCH)},
            {"eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                          std::to_string(EIGEN_MINOR_VERSION)},
            {"boost", std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000)},
            {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                  std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                  std::to_string(NLOHMANN_JSON_VERSION_PATCH)}}},
          {"date", date}};
}

void write_atomic(const std::filesystem::path& path, const std::string& text) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(dir);
  std::random_device rd;
  // Built by appending (GCC 12 warns falsely, -Wrestrict, on "literal" + std::string&&).
  std::string name = ".";
  name += path.filename().string();
  name += ".tmp.";
  name += std::to_string(::getpid());
  name += '.';
  name += std::to_string(rd());
  const auto tmp = dir / name;
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) {
      std::filesystem::remove(tmp);
      throw std::runtime_error("cannot write " + tmp.string());
    }
  }
  std::error_code renamed;
  std::filesystem::rename(tmp, path, renamed);
  if (renamed) {  // e.g. `path` is a directory: leave no temporary behind
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw std::runtime_error("cannot write " + path.string() + " (" + renamed.message() + ")");
  }
  // The rename is durable only once the directory entry is on disk: fsync the directory.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw std::runtime_error("cannot open " + dir.string() + " to make the write of " + path.string() + " durable");
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL;  // EINVAL: this file system cannot sync a directory
  ::close(fd);
  if (!synced) throw std::runtime_error("cannot fsync " + dir.string() + " after writing " + path.string());
}

void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j) { write_atomic(path, j.dump(2) + "\n"); }

std::filesystem::path report_dir() {
  const char* env = std::getenv("HMI_REPORT_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path("verify-reports");
}

}  // namespace hmi::reports

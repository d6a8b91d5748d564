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
#include "theory/model.hpp"  // brief_text

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

nlohmann::json wrong_json(const WrongPrediction& w) {
  nlohmann::json j = {{"prediction", w.name}, {"rejected", w.rejected},
                      {"asserted", w.kind == WrongPrediction::Kind::asserted},
                      {"known_blind_spot", w.kind == WrongPrediction::Kind::blind_spot}};
  if (w.points >= 0) {
    j["failed_points"] = w.failed_points;
    j["points"] = w.points;
  }
  if (!w.rejected_by.empty()) j["rejected_by"] = w.rejected_by;
  return j;
}

[[noreturn]] void malformed(const std::string& field, const nlohmann::json& v, const std::string& rule) {
  throw std::invalid_argument(field + " = " + theory::brief_text(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) + " (" + rule + ")");
}

double number(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return NAN;  // non-finite numbers are written as null
  if (!j[key].is_number()) malformed(std::string("point.") + key, j[key], "must be a number or null");
  return j[key].get<double>();
}
}  // namespace

const WrongPrediction& ClaimReport::reject(std::string name, const ClaimReport& bad, WrongPrediction::Kind kind) {
  WrongPrediction w{std::move(name), !bad.pass(), kind, 0, int(bad.points.size()), ""};
  for (const auto& p : bad.points) {
    if (p.pass) continue;
    ++w.failed_points;
    // Part tags "(a)", "(b)", ... at the start of a label name the part that rejected it.
    if (p.label.size() >= 3 && p.label[0] == '(' && p.label[2] == ')' && w.rejected_by.find(p.label.substr(0, 3)) == std::string::npos)
      w.rejected_by += p.label.substr(0, 3);
  }
  wrong_predictions.push_back(std::move(w));
  return wrong_predictions.back();
}

const WrongPrediction& ClaimReport::reject(std::string name, bool rejected, WrongPrediction::Kind kind) {
  wrong_predictions.push_back({std::move(name), rejected, kind, -1, -1, ""});
  return wrong_predictions.back();
}

std::vector<std::string> ClaimReport::missed_rejections() const {
  std::vector<std::string> out;
  for (const auto& w : wrong_predictions)
    if (w.kind == WrongPrediction::Kind::asserted && !w.rejected) out.push_back(w.name);
  return out;
}

ClaimReport ClaimReport::from_json(const nlohmann::json& j) {
  if (!j.is_object()) malformed("report", j, "must be a JSON object");
  ClaimReport r;
  const auto& id = j.contains("claim") ? j["claim"] : j.value("id", nlohmann::json());
  if (!id.is_string()) malformed("claim", id, "must be a string");
  r.claim = id;
  r.title = j.value("title", std::string());
  r.config = j.value("config", nlohmann::json::object());
  if (j.contains("seeds")) {
    if (!j["seeds"].is_array()) malformed("seeds", j["seeds"], "must be an array of integers");
    for (const auto& s : j["seeds"]) {
      if (!s.is_number_unsigned() && !(s.is_number_integer() && s.get<long long>() >= 0)) malformed("seeds", j["seeds"], "must be an array of integers");
      r.seeds.push_back(s.get<std::uint64_t>());
    }
  }
  if (j.contains("points")) {
    if (!j["points"].is_array()) malformed("points", j["points"], "must be an array");
    for (const auto& p : j["points"]) {
      if (!p.is_object() || !p.value("label", nlohmann::json()).is_string() || !p.value("pass", nlohmann::json()).is_boolean())
        malformed("point", p, "must be an object with a string label and a boolean pass");
      r.points.push_back({p["label"], number(p, "x"), number(p, "measured"), number(p, "measured_error"), number(p, "expected"),
                          number(p, "tolerance"), p["pass"]});
    }
  }
  r.tolerance_reason = j.value("tolerance_reason", std::string());
  r.extra = j.value("extra", nlohmann::json::object());
  if (r.extra.is_object() && r.extra.contains("wrong_predictions")) {
    const auto& ws = r.extra["wrong_predictions"];
    if (!ws.is_array()) malformed("extra.wrong_predictions", ws, "must be an array");
    for (const auto& w : ws) {
      if (!w.is_object() || !w.value("prediction", nlohmann::json()).is_string() || !w.value("rejected", nlohmann::json()).is_boolean())
        malformed("extra.wrong_predictions", w, "each must have a string prediction and a boolean rejected");
      WrongPrediction t{w["prediction"], w["rejected"], WrongPrediction::Kind::asserted, w.value("failed_points", -1),
                        w.value("points", -1), w.value("rejected_by", std::string())};
      if (w.value("known_blind_spot", false) == true) t.kind = WrongPrediction::Kind::blind_spot;
      else if (w.value("asserted", true) == false) t.kind = WrongPrediction::Kind::recorded;
      r.wrong_predictions.push_back(std::move(t));
    }
    r.extra.erase("wrong_predictions");
  }
  return r;
}

nlohmann::json ClaimReport::to_json() const {
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : points)
    pts.push_back({{"label", p.label}, {"x", num(p.x)}, {"measured", num(p.measured)},
                   {"measured_error", num(p.measured_error)}, {"expected", num(p.expected)},
                   {"tolerance", num(p.tolerance)}, {"pass", p.pass}});
  nlohmann::json ex = extra;
  if (!wrong_predictions.empty()) {
    nlohmann::json ws = nlohmann::json::array();
    for (const auto& w : wrong_predictions) ws.push_back(wrong_json(w));
    ex["wrong_predictions"] = ws;
  }
  return {{"schema_version", kSchemaVersion}, {"claim", claim}, {"id", claim}, {"title", title}, {"config", config},
          {"seeds", seeds}, {"points", pts}, {"pass", pass()}, {"tolerance_reason", tolerance_reason},
          {"extra", ex}, {"provenance", provenance()}};
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

// An interrupted `hmi reproduce` loses nothing and leaves nothing half-written (issue 7, item 4).
// Claim: a run killed with SIGKILL, or stopped with SIGINT, mid-way
//   * leaves only complete files: every *.json in the run folder parses, and report.json does
//     not exist before the run completes (outputs go to a temporary file renamed into place);
//   * loses no finished point: every point present after the interruption is still there,
//     byte for byte, after the resumed run, which reports them as "already done, skipped";
//   * SIGINT stops at the next point boundary with exit status 130;
// and the resumed run's report.json and figure data equal those of an uninterrupted run in
// another folder, apart from the fields that record when and where it ran (date, wall time,
// command line).
// Measurement: a 16-point configuration of the quick preset (d = 200..500, each point ~0.1-1 s)
// so that a signal sent once two, then four more, points exist lands mid-run.
#define BOOST_TEST_MODULE crash_safety
#include <boost/test/unit_test.hpp>

#include <map>

#include <nlohmann/json.hpp>

#include "verify/cli_runner.hpp"

namespace fs = std::filesystem;
using hmi::verify::Outcome;

namespace {

// The spectral sweeps at small sizes; every other experiment section of the preset (others are
// added over time) is set to null, i.e. skipped, so the test's cost stays what it is here.
const char* kConfig = R"({"threads": 1, "theory_samples": 4096,
  "cascade": {"d": 500, "alphas": [4, 10, 25], "seeds": 2, "top": 12},
  "spectrum": {"d": 200, "alphas": [3, 20], "bins": 20},
  "thresholds": {"gammas": [1.0], "p": 4, "measure": null},
  "finite_size": {"ds": [250, 500], "alphas": [5, 12], "seeds": 2, "direction": 2}})";
constexpr int kPoints = 6 + 2 + 8;

std::string test_config(const std::filesystem::path& scratch) {
  return hmi::verify::only_sections(nlohmann::json::parse(kConfig), scratch);
}

std::vector<std::string> command(const fs::path& cfg, const fs::path& out) {
  return {"reproduce", "--quick", "--no-render", "--config", cfg.string(), "--out", out.string()};
}

std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> f;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) f[e.path().filename().string()] = hmi::verify::read_text(e.path());
  return f;
}

// "(N already done, skipped)", as `hmi reproduce` prints it for a resumed run.
std::string skipped_note(int n) {
  std::string s = "(";
  s += std::to_string(n);
  s += " already done, skipped)";
  return s;
}

int json_count(const fs::path& dir) {
  int n = 0;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".json";
  return n;
}

// Every *.json anywhere in the run folder parses; returns how many there are.
int check_all_json_parse(const fs::path& run) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(run)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    ++n;
    const std::string text = hmi::verify::read_text(e.path());
    BOOST_TEST(nlohmann::json::accept(text), e.path().string() << " is not complete JSON (" << text.size() << " bytes)");
  }
  return n;
}

// Starts the run, waits until `points` point files exist (or the run ends), sends `sig`.
Outcome interrupt_after(const std::vector<std::string>& args, const fs::path& run, int points, int sig,
                        const fs::path& scratch) {
  const auto p = hmi::verify::start_hmi(args, scratch / "stdout.txt", scratch / "stderr.txt");
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (json_count(run / "points") >= points) {
      kill(p.pid, sig);
      break;
    }
    int status = 0;
    if (waitpid(p.pid, &status, WNOHANG) == p.pid) {  // finished before we could interrupt it
      BOOST_ERROR("the run ended before " << points << " points existed: make the points larger");
      return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, false, "", ""};
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > 60) {
      kill(p.pid, SIGKILL);
      BOOST_FAIL("no progress within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return hmi::verify::wait_hmi(p, 60);
}

// The report without what records when and where it ran.
nlohmann::json comparable(const nlohmann::json& j) {
  return hmi::verify::without_keys(j, {"date", "wall_time_s", "timing_s", "command"});
}

}  // namespace

BOOST_AUTO_TEST_CASE(killed_and_interrupted_runs_resume_to_the_same_report) {
  hmi::verify::ScratchDir scratch("crash");
  const fs::path cfg = scratch / "config.json", ref = scratch / "reference", run = scratch / "interrupted";
  hmi::verify::write_text(cfg, test_config(scratch.path));

  // Reference: uninterrupted.
  const Outcome r0 = hmi::verify::run_hmi(command(cfg, ref), scratch.path, 120);
  BOOST_REQUIRE_MESSAGE(r0.exit_code == 0 || r0.exit_code == 1, "reference run failed: " << r0.err);
  BOOST_REQUIRE_EQUAL(json_count(ref / "points"), kPoints);

  // 1. SIGKILL once two points exist.
  const Outcome k1 = interrupt_after(command(cfg, run), run, 2, SIGKILL, scratch.path);
  BOOST_TEST(k1.exit_code == 128 + SIGKILL);
  BOOST_TEST(!fs::exists(run / "report.json"));
  check_all_json_parse(run);
  const auto after_kill = files_of(run / "points");
  int kept = 0;
  for (const auto& [name, text] : after_kill) kept += name.size() > 5 && name.substr(name.size() - 5) == ".json";
  BOOST_TEST(kept >= 2);
  BOOST_TEST(kept < kPoints);
  BOOST_TEST_MESSAGE("after SIGKILL: " << kept << "/" << kPoints << " points kept, " << after_kill.size() - kept
                                       << " temporary file(s)");

  // 2. Resume, then SIGINT once four more points exist: stops at a point boundary, exit 130.
  const Outcome k2 = interrupt_after(command(cfg, run), run, kept + 4, SIGINT, scratch.path);
  BOOST_TEST(k2.exit_code == 130, k2.err);
  BOOST_TEST(k2.err.find(skipped_note(kept)) != std::string::npos, k2.err);
  BOOST_TEST(k2.err.find("interrupted") != std::string::npos, k2.err);
  BOOST_TEST(!fs::exists(run / "report.json"));
  check_all_json_parse(run);
  const int kept2 = json_count(run / "points");
  BOOST_TEST(kept2 >= kept + 4);
  BOOST_TEST_MESSAGE("after SIGINT: " << kept2 << "/" << kPoints << " points kept");

  // 3. Resume to completion.
  const Outcome k3 = hmi::verify::run_hmi(command(cfg, run), scratch.path, 120);
  BOOST_TEST(k3.exit_code == r0.exit_code, k3.err);
  BOOST_TEST(k3.err.find(skipped_note(kept2)) != std::string::npos, k3.err);
  BOOST_TEST(check_all_json_parse(run) > kPoints);
  // No finished point was lost or rewritten; no temporary survives the resumed run.
  const auto final_points = files_of(run / "points");
  for (const auto& [name, text] : after_kill)
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json") {
      BOOST_TEST(final_points.count(name) == 1u, name);
      if (final_points.count(name)) BOOST_TEST(final_points.at(name) == text, name << " changed");
    }
  for (const auto& e : fs::recursive_directory_iterator(run))
    BOOST_TEST(e.path().filename().string().find(".tmp.") == std::string::npos, e.path().string());
  BOOST_TEST(json_count(run / "points") == kPoints);

  // Same report and figure data as the uninterrupted run.
  const auto a = comparable(nlohmann::json::parse(hmi::verify::read_text(ref / "report.json")));
  const auto b = comparable(nlohmann::json::parse(hmi::verify::read_text(run / "report.json")));
  BOOST_TEST(a["complete"] == true);
  BOOST_TEST(a == b, "report.json differs: " << nlohmann::json::diff(a, b).dump());
  BOOST_TEST(files_of(ref / "data") == files_of(run / "data"));
  BOOST_TEST(files_of(ref / "points") == files_of(run / "points"));
}

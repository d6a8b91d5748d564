#pragma once
// Runs the real `hmi` binary from a test: fork/exec, stdout and stderr captured to files,
// optional timeout (SIGKILL), and helpers to start it in the background and signal it.
// The binary: $HMI_BIN if set (ctest sets it), else <dir of this test>/../hmi (the layout of
// the build tree, so `hmi verify` finds it too).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace hmi::verify {

inline std::filesystem::path hmi_binary() {
  if (const char* env = std::getenv("HMI_BIN"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::current_path() : exe.parent_path().parent_path()) / "hmi";
}

/// A scratch folder unique to this process, removed on destruction.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() / ("hmi-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// A started hmi process.
struct Process {
  pid_t pid = -1;
  std::filesystem::path out, err;
};

/// Starts hmi with `args` (stdout, stderr to the given files), in its own process group so a
/// signal reaches only it.
inline Process start_hmi(const std::vector<std::string>& args, const std::filesystem::path& out,
                         const std::filesystem::path& err) {
  const std::string bin = hmi_binary().string();
  std::vector<std::string> argv_s{bin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    const int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0) _exit(126);
    dup2(fo, 1);
    dup2(fe, 2);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return {pid, out, err};
}

struct Outcome {
  int exit_code = -1;  ///< exit status, or 128 + signal when killed
  bool timed_out = false;
  std::string out, err;
};

/// Waits for `p` (killing it after `timeout_s`) and collects its output.
inline Outcome wait_hmi(const Process& p, double timeout_s = 120) {
  Outcome o;
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(p.pid, &status, WNOHANG);
    if (r == p.pid) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, &status, 0);
      o.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  o.out = read_text(p.out);
  o.err = read_text(p.err);
  return o;
}

/// Runs hmi to completion in `scratch`.
inline Outcome run_hmi(const std::vector<std::string>& args, const std::filesystem::path& scratch, double timeout_s = 120) {
  return wait_hmi(start_hmi(args, scratch / "stdout.txt", scratch / "stderr.txt"), timeout_s);
}

/// A reproduce configuration holding only the sections of `cfg`: every other experiment section
/// of the quick preset (others are added over time) is set to null, i.e. skipped, so a test's
/// cost stays what it chose.
inline std::string only_sections(nlohmann::json cfg, const std::filesystem::path& scratch) {
  const auto printed = run_hmi({"reproduce", "--quick", "--print-config"}, scratch, 60);
  if (printed.exit_code != 0) throw std::runtime_error("hmi reproduce --print-config failed: " + printed.err);
  const auto preset = nlohmann::json::parse(printed.out);  // named: items() must not outlive it
  for (const auto& [key, value] : preset.items())
    if (value.is_object() && key != "model" && !cfg.contains(key)) cfg[key] = nullptr;
  return cfg.dump(2);
}

/// A report without the fields that record when and where it ran (`keys`, at every depth).
inline nlohmann::json without_keys(nlohmann::json j, const std::vector<std::string>& keys) {
  if (j.is_object()) {
    for (const auto& k : keys) j.erase(k);
    for (auto& [k, v] : j.items()) v = without_keys(v, keys);
  } else if (j.is_array()) {
    for (auto& v : j) v = without_keys(v, keys);
  }
  return j;
}

/// Number of lines of a text (a last line without '\n' counts).
inline int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

}  // namespace hmi::verify

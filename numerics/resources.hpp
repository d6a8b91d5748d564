#pragma once
// What this process can still take from the machine, for refusing a request before allocating.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace hmi {

/// Bytes this process can still allocate: MemAvailable of /proc/meminfo, or the cgroup v2 limit
/// (memory.max, as set by containers and Slurm) minus current use when that is lower. 0 if unknown.
inline std::uint64_t available_memory() {
  std::uint64_t avail = 0;
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    std::uint64_t kb = 0;
    while (in >> key >> kb >> unit)
      if (key == "MemAvailable:") {
        avail = kb * 1024;
        break;
      }
  }
  std::ifstream lim("/sys/fs/cgroup/memory.max"), cur("/sys/fs/cgroup/memory.current");
  std::string l;
  std::uint64_t c = 0;
  if (lim >> l && l != "max" && cur >> c) {
    const std::uint64_t limit = std::strtoull(l.c_str(), nullptr, 10);
    const std::uint64_t room = limit > c ? limit - c : 0;
    if (avail == 0 || room < avail) avail = room;
  }
  return avail;
}

}  // namespace hmi

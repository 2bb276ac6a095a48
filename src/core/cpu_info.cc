#include "core/cpu_info.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace accel::core {

namespace {

int ReadInt(const std::string& path) {
  std::ifstream f(path);
  int v = -1;
  f >> v;
  return f ? v : -1;
}

}  // namespace

int PhysicalCoreCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return std::max(1u, std::thread::hardware_concurrency());
  }
  std::set<std::pair<int, int>> cores;  // (package, core) pairs
  int logical = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    ++logical;
    std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    int package = ReadInt(dir + "physical_package_id");
    int core = ReadInt(dir + "core_id");
    if (package < 0 || core < 0) return std::max(1, logical);
    cores.emplace(package, core);
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

}  // namespace accel::core

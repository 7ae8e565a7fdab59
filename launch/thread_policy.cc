// launch/thread_policy.cc: OpenMP threads and wait policy (see thread_policy.h).
#include "launch/thread_policy.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace alro::launch {
namespace {

// Set to the policy's summary just before the re-exec (so the new image
// knows it already ran, and what it chose); "off" disables the policy.
constexpr char kPolicyVariable[] = "ALRO_THREAD_POLICY";

// Ranks-per-node variables of Open MPI, MPICH/Hydra and Slurm, in that order.
constexpr const char* kLocalSizeVariables[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                               "SLURM_NTASKS_PER_NODE"};

// What ApplyThreadPolicy found when it did not exec (or when exec failed).
std::string g_fallback_summary;

// The positive integer `text` starts with ("2(x3)" -> 2), or 0.
int LeadingPositiveInt(const char* text) {
  int value = 0;
  for (const char* p = text; *p >= '0' && *p <= '9'; ++p) {
    value = value * 10 + (*p - '0');
    if (value > (1 << 20)) return 0;
  }
  return value;
}

std::string FromEnvironment(const char* name) {
  const char* value = std::getenv(name);
  return absl::StrCat(name, "=", value == nullptr ? "(unset)" : value, " (environment)");
}

}  // namespace

int ThreadsPerRank(int online_cores, int affinity_cores, int local_ranks) {
  online_cores = std::max(1, online_cores);
  if (affinity_cores > 0 && affinity_cores < online_cores) return affinity_cores;
  return std::max(1, online_cores / std::max(1, local_ranks));
}

int LocalRanksFromEnvironment() {
  for (const char* name : kLocalSizeVariables) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    if (const int ranks = LeadingPositiveInt(value); ranks > 0) return ranks;
  }
  return 1;
}

void ApplyThreadPolicy(char** argv) {
  if (std::getenv(kPolicyVariable) != nullptr) return;  // "off", or this is the re-executed image
  const bool set_threads = std::getenv("OMP_NUM_THREADS") == nullptr;
  const bool set_wait = std::getenv("OMP_WAIT_POLICY") == nullptr;
  if (!set_threads && !set_wait) {
    g_fallback_summary = absl::StrCat(FromEnvironment("OMP_NUM_THREADS"), ", ", FromEnvironment("OMP_WAIT_POLICY"));
    return;
  }
  std::string threads_part = FromEnvironment("OMP_NUM_THREADS");
  if (set_threads) {
    cpu_set_t affinity;
    CPU_ZERO(&affinity);
    const int affinity_cores = sched_getaffinity(0, sizeof(affinity), &affinity) == 0 ? CPU_COUNT(&affinity) : 0;
    const int online_cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    const int local_ranks = LocalRanksFromEnvironment();
    const int threads = ThreadsPerRank(online_cores, affinity_cores, local_ranks);
    setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
    threads_part = affinity_cores > 0 && affinity_cores < online_cores
                       ? absl::StrCat("OMP_NUM_THREADS=", threads, " (set by alro: the ", affinity_cores,
                                      " core(s) this rank is bound to)")
                       : absl::StrCat("OMP_NUM_THREADS=", threads, " (set by alro: ", online_cores, " core(s) / ",
                                      local_ranks, " rank(s) on this node)");
  }
  const std::string wait_part =
      set_wait ? std::string("OMP_WAIT_POLICY=PASSIVE (set by alro)") : FromEnvironment("OMP_WAIT_POLICY");
  if (set_wait) setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  const std::string summary =
      absl::StrCat(threads_part, ", ", wait_part, "; set them, or ALRO_THREAD_POLICY=off, to choose yourself");
  setenv(kPolicyVariable, summary.c_str(), 1);
  execv("/proc/self/exe", argv);
  // Still here: exec failed. The thread count still applies (LibTorch reads
  // OMP_NUM_THREADS when it first starts its pool); the wait policy does not.
  g_fallback_summary = absl::StrCat(summary, " [re-exec failed (", std::strerror(errno),
                                    "): OMP_WAIT_POLICY not in effect; export it before starting alro]");
  unsetenv(kPolicyVariable);
}

std::string ThreadPolicySummary() {
  if (!g_fallback_summary.empty()) return g_fallback_summary;
  const char* policy = std::getenv(kPolicyVariable);
  if (policy != nullptr && std::strcmp(policy, "off") == 0) {
    return absl::StrCat(FromEnvironment("OMP_NUM_THREADS"), ", ", FromEnvironment("OMP_WAIT_POLICY"),
                        "; ALRO_THREAD_POLICY=off");
  }
  if (policy != nullptr) return policy;
  return absl::StrCat(FromEnvironment("OMP_NUM_THREADS"), ", ", FromEnvironment("OMP_WAIT_POLICY"),
                      " (ApplyThreadPolicy did not run)");
}

}  // namespace alro::launch

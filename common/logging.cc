// common/logging.cc: the logger behind ALRO_LOG.
#include "common/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace alro {
namespace {

std::atomic<int> g_rank{0};
std::atomic<bool> g_all_ranks{false};
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

// Reads ALRO_LOG_LEVEL / ALRO_LOG_ALL_RANKS once, at first use.
struct EnvDefaults {
  EnvDefaults() {
    if (const char* level = std::getenv("ALRO_LOG_LEVEL")) {
      LogLevel parsed;
      if (ParseLogLevel(level, &parsed)) g_level = static_cast<int>(parsed);
    }
    if (const char* all = std::getenv("ALRO_LOG_ALL_RANKS")) g_all_ranks = (all[0] == '1');
  }
};
const EnvDefaults& Defaults() {
  static const EnvDefaults defaults;
  return defaults;
}

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 'D';
    case LogLevel::kInfo: return 'I';
    case LogLevel::kWarning: return 'W';
    case LogLevel::kError: return 'E';
  }
  return '?';
}

}  // namespace

void SetLogRank(int rank) { g_rank = rank; }
void SetLogAllRanks(bool all_ranks) { Defaults(); g_all_ranks = all_ranks; }
void SetLogLevel(LogLevel level) { Defaults(); g_level = static_cast<int>(level); }

bool ParseLogLevel(const std::string& text, LogLevel* level) {
  if (text == "debug") *level = LogLevel::kDebug;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "warning" || text == "warn") *level = LogLevel::kWarning;
  else if (text == "error") *level = LogLevel::kError;
  else return false;
  return true;
}

bool LogEnabled(LogLevel level) {
  Defaults();
  if (static_cast<int>(level) < g_level.load()) return false;
  if (level >= LogLevel::kWarning) return true;
  return g_all_ranks.load() || g_rank.load() == 0;
}

namespace internal {
LogMessage::~LogMessage() {
  using Clock = std::chrono::system_clock;
  const auto now = Clock::now();
  const std::time_t seconds = Clock::to_time_t(now);
  const int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "[%c %02d:%02d:%02d.%03d r%d] ", LevelLetter(level_),
                local.tm_hour, local.tm_min, local.tm_sec, millis, g_rank.load());
  // One fwrite per line so lines from threads and ranks do not interleave.
  const std::string line = prefix + stream_.str() + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}
}  // namespace internal
}  // namespace alro

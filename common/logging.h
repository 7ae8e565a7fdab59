// common/logging.h: rank-aware, leveled logging to stderr.
//
//   ALRO_LOG(INFO) << "step " << step << " loss " << loss;
//
// Each line reads "[I 10:42:01.123 r3] message". By default only rank 0
// prints INFO and DEBUG; WARNING and ERROR print on every rank. Set
// ALRO_LOG_ALL_RANKS=1 (or SetLogAllRanks) to hear every rank, and
// ALRO_LOG_LEVEL=debug|info|warning|error to change the threshold.
#pragma once

#include <sstream>
#include <string>

namespace alro {

/// Severity of a log line, in increasing order.
enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

/// Tells the logger which rank this process is (call once after MPI starts).
void SetLogRank(int rank);

/// Makes every rank print INFO/DEBUG lines, not only rank 0.
void SetLogAllRanks(bool all_ranks);

/// Sets the lowest level that is printed.
void SetLogLevel(LogLevel level);

/// Parses "debug", "info", "warning" or "error"; returns false otherwise.
bool ParseLogLevel(const std::string& text, LogLevel* level);

/// True when a line at `level` would be printed by this rank.
bool LogEnabled(LogLevel level);

namespace internal {
/// Collects one log line and writes it atomically in its destructor.
class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
/// Swallows the stream expression when the level is disabled.
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace internal
}  // namespace alro

#define ALRO_LOG_LEVEL_DEBUG ::alro::LogLevel::kDebug
#define ALRO_LOG_LEVEL_INFO ::alro::LogLevel::kInfo
#define ALRO_LOG_LEVEL_WARNING ::alro::LogLevel::kWarning
#define ALRO_LOG_LEVEL_ERROR ::alro::LogLevel::kError

/// Streams one log line at DEBUG, INFO, WARNING or ERROR.
#define ALRO_LOG(severity)                                   \
  !::alro::LogEnabled(ALRO_LOG_LEVEL_##severity)             \
      ? (void)0                                              \
      : ::alro::internal::LogVoidify() &                     \
            ::alro::internal::LogMessage(ALRO_LOG_LEVEL_##severity).stream()

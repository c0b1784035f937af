#include "ike-bridge/espgw_ike/log.h"

#include <sys/time.h>
#include <syslog.h>

#include <cstdio>
#include <ctime>

namespace espgw::ike {

const char* log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "info";
}

void StderrLog::write(LogLevel level, std::string_view message) {
  if (level > max_) return;
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
  std::fprintf(stderr, "%s.%03dZ %s: %.*s\n", stamp, static_cast<int>(tv.tv_usec / 1000),
               log_level_name(level), static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

SyslogLog::SyslogLog(LogLevel max) : max_(max) {
  openlog("espgw-ike", LOG_PID, LOG_DAEMON);
}

void SyslogLog::write(LogLevel level, std::string_view message) {
  if (level > max_) return;
  static constexpr int kPriority[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
  syslog(kPriority[static_cast<int>(level)], "%.*s", static_cast<int>(message.size()),
         message.data());
}

void MemoryLog::write(LogLevel level, std::string_view message) {
  lines.push_back(std::string(log_level_name(level)) + ": " + std::string(message));
}

}  // namespace espgw::ike

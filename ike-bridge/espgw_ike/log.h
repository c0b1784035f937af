#pragma once
// espgw-ike's log: one line per message, to stderr (--foreground) or syslog (as a daemon).
// Nothing that holds key material is ever handed to it.

#include <string>
#include <string_view>
#include <vector>

namespace espgw::ike {

enum class LogLevel { kError, kWarning, kInfo, kDebug };

class Log {
 public:
  virtual ~Log() = default;
  virtual void write(LogLevel level, std::string_view message) = 0;

  void error(std::string_view m) { write(LogLevel::kError, m); }
  void warning(std::string_view m) { write(LogLevel::kWarning, m); }
  void info(std::string_view m) { write(LogLevel::kInfo, m); }
  void debug(std::string_view m) { write(LogLevel::kDebug, m); }
};

// "2024-05-21T10:00:00.123Z info: message" on stderr, flushed per line.
class StderrLog final : public Log {
 public:
  explicit StderrLog(LogLevel max = LogLevel::kInfo) : max_(max) {}
  void write(LogLevel level, std::string_view message) override;

 private:
  LogLevel max_;
};

// syslog(3), facility daemon, ident "espgw-ike".
class SyslogLog final : public Log {
 public:
  explicit SyslogLog(LogLevel max = LogLevel::kInfo);
  void write(LogLevel level, std::string_view message) override;

 private:
  LogLevel max_;
};

// Keeps the lines (tests).
class MemoryLog final : public Log {
 public:
  void write(LogLevel level, std::string_view message) override;
  std::vector<std::string> lines;  // "info: message"
};

const char* log_level_name(LogLevel level) noexcept;

}  // namespace espgw::ike

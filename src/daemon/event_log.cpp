#include "daemon/event_log.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "skedd/time/clock.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

LogFormat g_format = LogFormat::kText;  // set once at start-up, before any event

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

std::string text_value(const nlohmann::json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    // A job's text may be any bytes: invalid UTF-8 is replaced, never thrown about.
    return needs_quotes(s) ? v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : s;
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void init_logging(LogFormat format, spdlog::level::level_enum level,
                  const std::optional<std::string>& file) {
  g_format = format;
  spdlog::sink_ptr sink;
  if (file) {
    sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(*file, 10 * 1024 * 1024, 3);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("skedd", sink);
  // JSON lines carry their own time and level.
  logger->set_pattern(format == LogFormat::kJson ? "%v" : "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void log_event(spdlog::level::level_enum level, std::string_view name,
               const nlohmann::json& fields) {
  if (!spdlog::should_log(level)) return;
  if (g_format == LogFormat::kJson) {
    nlohmann::json line = {
        {"time", format_rfc3339_utc(SystemClock().wall_now())},
        {"level", spdlog::level::to_string_view(level).data()},
        {"event", name},
    };
    for (const auto& [key, value] : fields.items()) line[key] = value;
    spdlog::log(level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string text(name);
  for (const auto& [key, value] : fields.items()) {
    text += " " + key + "=" + text_value(value);
  }
  spdlog::log(level, "{}", text);
}

spdlog::level::level_enum log_level_of(Severity severity) {
  switch (severity) {
    case Severity::kDebug:
      return spdlog::level::debug;
    case Severity::kInfo:
      return spdlog::level::info;
    case Severity::kWarn:
      return spdlog::level::warn;
    case Severity::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

bool LogSink::wants(EventKind, Severity severity) const {
  return spdlog::should_log(log_level_of(severity));
}

void LogSink::emit(const Event& event) {
  log_event(log_level_of(event.severity), event_name(event.kind), event.fields);
}

}  // namespace skedd

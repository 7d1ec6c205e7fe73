// Structured log events: `name key=value ...` as text, or one JSON object per line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "skedd/runtime/events.h"

namespace skedd {

enum class LogFormat { kText, kJson };

/// Sets up the default spdlog logger: stderr, or a rotating file (10 MiB x 3) when `file` is
/// given; text or JSON lines. Throws spdlog_ex when the file cannot be opened.
void init_logging(LogFormat format, spdlog::level::level_enum level,
                  const std::optional<std::string>& file);

/// Logs event `name` with `fields` (a JSON object) at `level`. Text form:
/// `run_finished job=backup state=failed exit_code=1 message="exec /x: No such file"`.
void log_event(spdlog::level::level_enum level, std::string_view name,
               const nlohmann::json& fields = nlohmann::json::object());

spdlog::level::level_enum log_level_of(Severity severity);

/// The daemon's sink for the runtime's events: each one a line through log_event(), named
/// by event_name(), at the level of its severity.
class LogSink final : public EventSink {
 public:
  bool wants(EventKind kind, Severity severity) const override;
  void emit(const Event& event) override;
};

}  // namespace skedd

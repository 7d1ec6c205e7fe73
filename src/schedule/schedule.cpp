#include "skedd/schedule/schedule.h"

#include "skedd/time/duration.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool starts_with_word(std::string_view text, std::string_view word) {
  return text.size() > word.size() && text.substr(0, word.size()) == word &&
         (text[word.size()] == ' ' || text[word.size()] == '\t');
}

}  // namespace

std::optional<FireTime> Schedule::next_after(Instant after, Instant anchor) const {
  if (const auto* cron = std::get_if<CronSchedule>(&kind)) return cron->spec.next_after(after);
  if (const auto* every = std::get_if<EverySchedule>(&kind)) {
    // The first fire is one interval after the anchor, then on the anchor's grid.
    const Duration step = every->interval;
    if (after < anchor) return FireTime{anchor + step};
    const auto k = (after - anchor) / step + 1;
    return FireTime{anchor + k * step};
  }
  if (const auto* at = std::get_if<AtSchedule>(&kind)) {
    if (at->at > after) return FireTime{at->at};
    return std::nullopt;
  }
  return std::nullopt;  // @reboot is not a time
}

Result<Schedule> parse_every_schedule(std::string_view text) {
  auto d = parse_duration(trim(text));
  if (!d) return d.error();
  if (d.value() < std::chrono::seconds(1)) {
    return Error::invalid_argument("the interval must be at least 1s, got \"" +
                                   std::string(trim(text)) + "\"");
  }
  return Schedule{EverySchedule{d.value()}, "every " + format_duration(d.value())};
}

Result<Schedule> parse_at_schedule(std::string_view text) {
  auto t = parse_rfc3339(trim(text));
  if (!t) return t.error();
  return Schedule{AtSchedule{t.value()}, "at " + std::string(trim(text))};
}

Result<Schedule> parse_cron_schedule(std::string_view text, const TimeZone& zone) {
  const std::string_view t = trim(text);
  if (t == "@reboot") return Schedule{RebootSchedule{}, "@reboot"};
  if (starts_with_word(t, "@every")) {
    auto every = parse_every_schedule(t.substr(6));
    if (!every) return every.error();
    every->text = std::string(t);
    return every;
  }
  auto spec = parse_cron(t, zone);
  if (!spec) return spec.error();
  return Schedule{CronSchedule{std::move(spec.value())}, std::string(t)};
}

Result<Schedule> parse_schedule_expression(std::string_view text, const TimeZone& zone) {
  const std::string_view t = trim(text);
  if (starts_with_word(t, "every")) return parse_every_schedule(t.substr(5));
  if (starts_with_word(t, "at")) return parse_at_schedule(t.substr(2));
  // A timestamp starts with four digits and a dash; a cron expression never does.
  if (t.size() >= 5 && t[4] == '-' && t.find(' ') == std::string_view::npos &&
      t.find('T') != std::string_view::npos) {
    return parse_at_schedule(t);
  }
  return parse_cron_schedule(t, zone);
}

}  // namespace skedd

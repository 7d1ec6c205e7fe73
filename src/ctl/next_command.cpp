// skedctl next: the next fire times of an expression, computed locally (no daemon).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/command.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/clock.h"
#include "skedd/time/timestamp.h"

namespace skedd::ctl {
namespace {

struct NextOptions {
  std::vector<std::string> words;
  std::string zone = "local";
  std::string from;
  int count = 5;
  bool json = false;
};

const char* weekday_name(Instant t, const TimeZone& zone) {
  static const char* kNames[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  const auto cs = zone.cctz_zone().lookup(std::chrono::floor<cctz::seconds>(t)).cs;
  return kNames[static_cast<int>(cctz::get_weekday(cctz::civil_day(cs)))];
}

// An error of `next`: on stderr, or as {"ok": false, "error": ...} on stdout with --json.
int next_error(const NextOptions& o, const std::string& message, int code) {
  if (o.json) {
    std::cout << nlohmann::json{{"ok", false},
                                {"error", {{"code", "INVALID_ARGUMENT"}, {"message", message}}}}
                     .dump()
              << '\n';
  } else {
    std::cerr << "skedctl next: " << message << '\n';
  }
  return code;
}

int run_next(const NextOptions& o) {
  std::string expr;
  for (const std::string& w : o.words) expr += (expr.empty() ? "" : " ") + w;
  auto zone = TimeZone::load(o.zone);
  if (!zone) {
    return next_error(o, "--tz: " + zone.error().message, kExitUsage);
  }
  SystemClock clock;
  Instant from = clock.wall_now();
  if (!o.from.empty()) {
    auto t = parse_timestamp(o.from, zone.value());
    if (!t) {
      return next_error(o, "--from: " + t.error().message, kExitUsage);
    }
    from = t.value();
  }
  auto schedule = parse_schedule_expression(expr, zone.value());
  if (!schedule) {
    return next_error(o, schedule.error().message, kExitFailure);
  }
  const auto* cron = std::get_if<CronSchedule>(&schedule->kind);
  nlohmann::json fires = nlohmann::json::array();
  Instant after = from;
  int printed = 0;
  for (int i = 0; i < o.count; ++i) {
    auto fire = schedule->next_after(after, from);
    if (!fire) break;
    const std::string note = cron != nullptr ? cron->spec.dst_note(*fire) : "";
    const int offset = zone->cctz_zone().lookup(std::chrono::floor<cctz::seconds>(fire->at)).offset;
    if (o.json) {
      nlohmann::json f = {{"time", format_rfc3339(fire->at, zone.value())},
                          {"utc", format_rfc3339_utc(fire->at)},
                          {"utc_offset_seconds", offset}};
      if (!note.empty()) f["note"] = note;
      fires.push_back(std::move(f));
    } else {
      std::cout << weekday_name(fire->at, zone.value()) << "  "
                << format_rfc3339(fire->at, zone.value());
      if (!note.empty()) std::cout << "  (" << note << ")";
      std::cout << '\n';
    }
    after = fire->at;
    ++printed;
  }
  if (o.json) {
    nlohmann::json out = {{"expression", schedule->text},
                          {"timezone", zone->name()},
                          {"from", format_rfc3339(from, zone.value())},
                          {"fires", fires}};
    if (schedule->is_reboot()) out["reboot"] = true;
    std::cout << out.dump() << '\n';
  } else if (printed == 0) {
    if (schedule->is_reboot())
      std::cout << "@reboot: runs once per boot, not at a time\n";
    else
      std::cout << "never: \"" << schedule->text << "\" has no fire after "
                << format_rfc3339(from, zone.value()) << '\n';
  }
  return kExitOk;
}

class NextCommand final : public Command {
 public:
  NextCommand()
      : Command("next", "print the next fire times of a schedule expression (no daemon needed)") {}
  void declare(CLI::App& sub) override {
    sub.add_option("expression", o_.words,
                   "cron expression or macro, \"every 90s\", or an RFC 3339 time")
        ->required();
    sub.add_option("--tz", o_.zone, "IANA time zone (default: the host's)");
    sub.add_option("--from", o_.from,
                   "start after this time: RFC 3339, or a local time in --tz (default: now)");
    sub.add_option("-n,--count", o_.count, "how many fire times")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    sub.add_flag("--json", o_.json, "print JSON");
  }
  int run() override { return run_next(o_); }

 private:
  NextOptions o_;
};

}  // namespace

std::unique_ptr<Command> next_command() {
  return std::make_unique<NextCommand>();
}

}  // namespace skedd::ctl

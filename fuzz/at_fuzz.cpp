// Times a user writes: `at = "..."` (RFC 3339 with an offset), `skedctl next --from` (a local
// time in a zone), `skedctl runs --since`, and every schedule expression `skedctl next` takes.
// format_rfc3339_utc is the printer: an instant printed reads back as the same instant.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/timestamp.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const TimeZone zones[] = {TimeZone(), TimeZone::load("America/New_York").value()};
  const std::string_view text = fuzz::text_of(data, size);

  Result<Instant> t = parse_rfc3339(text);
  fuzz::require_message(t, "parse_rfc3339");
  if (t.ok()) {
    const std::string printed = format_rfc3339_utc(*t);
    Result<Instant> again = parse_rfc3339(printed);
    fuzz::require(again.ok() && *again == *t, "format_rfc3339_utc reads back",
                  std::string(text) + " -> " + printed);
  }
  Result<Schedule> at = parse_at_schedule(text);
  fuzz::require_message(at, "parse_at_schedule");
  if (at.ok()) fuzz::require(at->is_at(), "an at schedule is a one-shot", std::string(text));

  for (const TimeZone& zone : zones) {
    Result<Instant> local = parse_timestamp(text, zone);
    fuzz::require_message(local, "parse_timestamp");
    if (local.ok()) {
      const std::string printed = format_rfc3339(*local, zone);
      Result<Instant> again = parse_rfc3339(printed);
      fuzz::require(again.ok() && *again == *local, "format_rfc3339 reads back",
                    std::string(text) + " -> " + printed);
    }
    Result<Schedule> any = parse_schedule_expression(text, zone);
    fuzz::require_message(any, "parse_schedule_expression");
  }
  Result<Schedule> every = parse_every_schedule(text);
  fuzz::require_message(every, "parse_every_schedule");
  return 0;
}

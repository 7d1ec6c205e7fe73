// Durations (timeouts, `every`, retry backoff, jitter, `skedctl --every`): parse_duration,
// and format_duration as its printer: what it prints reads back as the same duration.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/time/duration.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);
  Result<Duration> d = parse_duration(text);
  fuzz::require_message(d, "parse_duration");
  if (!d.ok()) return 0;
  fuzz::require(*d >= Duration::zero(), "a duration is not negative", std::string(text));
  const std::string printed = format_duration(*d);
  Result<Duration> again = parse_duration(printed);
  fuzz::require(again.ok() && *again == *d, "format_duration reads back",
                std::string(text) + " -> " + printed);
  return 0;
}

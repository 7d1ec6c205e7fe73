#pragma once

#include <string>
#include <string_view>

#include "skedd/time/time_zone.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// Parses an RFC 3339 timestamp: "2026-12-01T09:00:00.250+01:00", "2026-03-08T06:30:00Z".
/// 'T' may also be 't' or a space, 'Z' also 'z'; up to 9 fraction digits (kept to the
/// microsecond). An offset is required; errors name the text and the column.
Result<Instant> parse_rfc3339(std::string_view text);

/// Like parse_rfc3339, but a time without an offset ("2026-03-08T01:30:00") is read as a
/// civil time in `zone`: one in a DST gap resolves to the instant of the jump, one in a
/// repeated interval to its first occurrence (as cctz::convert does).
Result<Instant> parse_timestamp(std::string_view text, const TimeZone& zone);

/// Formats an instant in `zone` as RFC 3339 with its offset, e.g. "2026-03-08T03:00:00-04:00";
/// the fraction is shown only when non-zero (as many digits as needed, up to 6);
/// UTC is shown as "Z", and so is an instant whose offset in `zone` is not whole minutes
/// (local mean time before a zone had standard time).
std::string format_rfc3339(Instant t, const TimeZone& zone);

/// Formats in UTC with "Z".
std::string format_rfc3339_utc(Instant t);

}  // namespace skedd

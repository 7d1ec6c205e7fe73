#pragma once

#include <string>
#include <string_view>

#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// Parses a duration such as "90s", "1h30m", "2d", "500ms", "1.5h": one or more
/// <number><unit> terms, units us, ms, s, m, h, d, w; a number may have a fraction.
/// The whole text must be used; negative durations are errors; "0s" is zero.
/// On failure the message names the text and the column of the bad character.
Result<Duration> parse_duration(std::string_view text);

/// Formats a duration in the largest exact units, e.g. 5400s -> "1h30m", 0 -> "0s".
std::string format_duration(Duration d);

}  // namespace skedd

#pragma once

#include <cstdint>
#include <string_view>

#include "skedd/util/result.h"

namespace skedd {

/// Parses a byte size: "4096", "512K", "10M", "1G", "2T" (binary units, optional "iB"/"B").
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace skedd

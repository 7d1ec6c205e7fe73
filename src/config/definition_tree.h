// A job definition's TOML, parsed once, in a binary form that is read back without parsing
// text: a million recorded definitions load at start-up, and TOML parsing was most of that.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace skedd::config {

/// `table` in the binary form: every value, and each key with its line and column (a table's
/// key with its table's, which is where a [job.NAME] header is), so that keys keep their file
/// order. Values keep no source of their own. Empty when tables or arrays nest deeper than
/// decode_tree() reads (64 levels): the text is parsed instead.
std::string encode_tree(const toml::table& table);

/// The table encode_tree() made, or nullopt when `tree` is not one (truncated, unknown tags,
/// trailing bytes): the caller parses the text instead.
std::optional<toml::table> decode_tree(std::string_view tree);

}  // namespace skedd::config

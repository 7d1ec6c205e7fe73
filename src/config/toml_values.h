// Typed values of TOML keys, each read with the message a config error gives when it is not
// one ("must be a duration such as \"30s\""), and the distance for "did you mean".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "skedd/time/types.h"

namespace skedd::config {

using Problem = std::optional<std::string>;  // an error message, or nothing

Problem want_string(const toml::node& n, std::string& out);
Problem want_int(const toml::node& n, long long lo, long long hi, int& out);
Problem want_bool(const toml::node& n, bool& out);
Problem want_duration(const toml::node& n, Duration& out);
Problem want_optional_duration(const toml::node& n, std::optional<Duration>& out);
Problem want_size(const toml::node& n, std::uint64_t& out);

template <typename E>
Problem want_enum(const toml::node& n, std::optional<E> (*parse)(std::string_view),
                  const char* choices, E& out) {
  std::string text;
  if (want_string(n, text)) return std::string("must be one of ") + choices;
  auto v = parse(text);
  if (!v) return "\"" + text + "\" is not one of " + choices;
  out = *v;
  return std::nullopt;
}

}  // namespace skedd::config

#include "config/toml_values.h"

#include <algorithm>
#include <vector>

#include "skedd/time/duration.h"
#include "skedd/util/size.h"

namespace skedd::config {

Problem want_string(const toml::node& n, std::string& out) {
  if (auto v = n.value_exact<std::string>()) {
    out = *v;
    return std::nullopt;
  }
  return "must be a string";
}

Problem want_int(const toml::node& n, long long lo, long long hi, int& out) {
  auto v = n.value_exact<std::int64_t>();
  if (!v) return "must be an integer";
  if (*v < lo || *v > hi) {
    return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
           std::to_string(*v);
  }
  out = static_cast<int>(*v);
  return std::nullopt;
}

Problem want_bool(const toml::node& n, bool& out) {
  if (auto v = n.value_exact<bool>()) {
    out = *v;
    return std::nullopt;
  }
  return "must be true or false";
}

Problem want_duration(const toml::node& n, Duration& out) {
  std::string text;
  if (want_string(n, text)) return "must be a duration string such as \"30s\" or \"1h30m\"";
  auto d = parse_duration(text);
  if (!d) return d.error().message;
  out = d.value();
  return std::nullopt;
}

// Timeouts and deadlines: when set, they must be positive.
Problem want_optional_duration(const toml::node& n, std::optional<Duration>& out) {
  Duration d{};
  if (auto p = want_duration(n, d)) return p;
  if (d <= Duration::zero()) return "must be greater than zero";
  out = d;
  return std::nullopt;
}

Problem want_size(const toml::node& n, std::uint64_t& out) {
  if (auto v = n.value_exact<std::int64_t>()) {
    if (*v < 0) return "must not be negative";
    out = static_cast<std::uint64_t>(*v);
    return std::nullopt;
  }
  std::string text;
  if (want_string(n, text)) return "must be a size such as \"512M\" or a number of bytes";
  auto s = parse_size(text);
  if (!s) return s.error().message;
  out = s.value();
  return std::nullopt;
}

}  // namespace skedd::config

// ASCII character classes for the parsers of cron expressions, crontabs and durations. They
// never depend on the locale (skedd calls no setlocale; these would not change if it did).
#pragma once

namespace skedd {

/// A space or a tab: what separates cron fields and crontab columns.
constexpr bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

/// What C's isspace() takes in the "C" locale (cron's load_env() uses it): blank, \n, \v, \f, \r.
constexpr bool is_space(char c) {
  return is_blank(c) || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace skedd

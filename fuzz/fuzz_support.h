// What every fuzz target shares. A target gets bytes from libFuzzer, reads them with one of
// skedd's parsers of untrusted input and checks what the parser promises: an error names what
// is wrong, and where a printer exists, what it prints reads back the same. A broken promise
// aborts, which libFuzzer reports as a crash and saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "skedd/cron/crontab.h"

namespace skedd::fuzz {

/// The bytes as text.
inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Aborts, naming the broken promise and the values involved, unless `holds`.
inline void require(bool holds, const char* promise, const std::string& detail = {}) {
  if (holds) return;
  std::fprintf(stderr, "broken promise: %s\n%s\n", promise, detail.c_str());
  std::abort();
}

/// Every parser's errors say something: an empty message would leave the user guessing.
template <typename R>
void require_message(const R& result, const char* parser) {
  if (!result.ok()) require(!result.error().message.empty(), parser, "an empty error message");
}

/// The crontab format a target's first byte picks: odd a user's crontab, even /etc/cron.d's.
inline CrontabSource crontab_source(std::uint8_t first) {
  if (first % 2 != 0) {
    return {"/var/spool/cron/crontabs/fuzz", CrontabFormat::kUser, "fuzz", TimeZone()};
  }
  return {"/etc/cron.d/fuzz", CrontabFormat::kSystem, "", TimeZone()};
}

}  // namespace skedd::fuzz

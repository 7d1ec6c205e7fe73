// How skedctl's text output meets a terminal: its width, colours (NO_COLOR), a pager for long
// output, and times for people (local, to the second, with the relative form beside).
#pragma once

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "skedd/time/time_zone.h"

namespace skedd::ctl {

/// The global options that shape text output (set once by main()).
struct OutputOptions {
  bool no_pager = false;
};
OutputOptions& output_options();

/// Where a command's text goes and how it looks there.
struct Display {
  bool tty = false;       ///< standard output is a terminal
  bool colour = false;    ///< a terminal, and NO_COLOR is unset or empty
  std::size_t width = 0;  ///< the terminal's columns; 0: no limit (not a terminal, --wide)
  bool utc = false;       ///< --utc: times as RFC 3339 in UTC
  TimeZone zone;          ///< the zone times are shown in: the local one ($TZ)
};
/// `wide`: no column is cut to the terminal's width. `utc`: times in UTC.
Display display(bool wide, bool utc);

/// `state` in its colour on a colour display: green succeeded, cyan running or paused,
/// dim scheduled, red the failures; as it is otherwise.
std::string paint(const Display& d, const std::string& state);
/// "2026-12-06 21:40:05 (3m ago)" in d.zone (or `zone`), "-" for an empty or null time;
/// RFC 3339 UTC with --utc.
std::string when(const Display& d, const std::string& rfc3339, const TimeZone* zone = nullptr);
/// "1.2s", "3m04s", "2h05m": how long from `from` to `to` (RFC 3339); "-" without both.
std::string took(const std::string& from, const std::string& to);

/// Columns a string takes on a terminal: UTF-8 code points, colour escapes not counted.
std::size_t visible_width(std::string_view s);
/// `s` cut to `width` columns, its end replaced by "…" when cut.
std::string ellipsize(const std::string& s, std::size_t width);

/// While it lives, std::cout is held; when it ends, what was written goes through a pager
/// ($SKEDCTL_PAGER, else $PAGER, else "less -FRX") if standard output is a terminal and it
/// is longer than the terminal, else straight out. An empty pager, "cat", --no-pager or
/// output that is not a terminal: nothing is held.
class Paged {
 public:
  Paged();
  ~Paged();
  Paged(const Paged&) = delete;
  Paged& operator=(const Paged&) = delete;

 private:
  std::string pager_;
  std::ostringstream held_;
  std::streambuf* out_ = nullptr;  // std::cout's own buffer while held
};

}  // namespace skedd::ctl

#include "ctl/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <cctz/time_zone.h>

#include "ctl/table.h"
#include "skedd/time/timestamp.h"

namespace skedd::ctl {
namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string(fallback);
}

// The terminal's size (columns, rows) from standard output, else $COLUMNS/$LINES; 0 unknown.
std::pair<std::size_t, std::size_t> terminal_size() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  const auto number = [](const char* name) -> std::size_t {
    const char* v = std::getenv(name);
    return v != nullptr ? std::strtoul(v, nullptr, 10) : 0;
  };
  return {number("COLUMNS"), number("LINES")};
}

}  // namespace

OutputOptions& output_options() {
  static OutputOptions options;
  return options;
}

Display display(bool wide, bool utc) {
  Display d;
  d.tty = ::isatty(STDOUT_FILENO) != 0;
  const char* no_colour = std::getenv("NO_COLOR");
  d.colour = d.tty && (no_colour == nullptr || *no_colour == '\0');
  if (d.tty && !wide) d.width = terminal_size().first;
  d.utc = utc;
  d.zone = TimeZone::local();
  return d;
}

std::string paint(const Display& d, const std::string& state) {
  if (!d.colour) return state;
  const char* code = state == "succeeded"                         ? "32"
                     : state == "running" || state == "paused"    ? "36"
                     : state == "scheduled" || state == "skipped" ? "2"
                                                                  : "31";
  return std::string("\x1b[") + code + "m" + state + "\x1b[0m";
}

std::string when(const Display& d, const std::string& rfc3339, const TimeZone* zone) {
  if (rfc3339.empty() || rfc3339 == "-") return "-";
  auto t = parse_rfc3339(rfc3339);
  if (!t) return rfc3339;
  if (d.utc) return format_rfc3339_utc(std::chrono::floor<std::chrono::seconds>(t.value()));
  const TimeZone& in = zone != nullptr ? *zone : d.zone;
  const auto seconds =
      std::chrono::time_point_cast<cctz::seconds>(std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              t.value().time_since_epoch())));
  return cctz::format("%Y-%m-%d %H:%M:%S", seconds, in.cctz_zone()) + " (" + relative(rfc3339) +
         ")";
}

std::string took(const std::string& from, const std::string& to) {
  auto a = parse_rfc3339(from);
  auto b = parse_rfc3339(to);
  if (from.empty() || to.empty() || !a || !b) return "-";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(b.value() - a.value());
  const long long total = std::max<long long>(0, ms.count());
  char buf[32];
  if (total < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(total) / 1000.0);
  } else if (total < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", total / 60'000, total % 60'000 / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", total / 3'600'000, total % 3'600'000 / 60'000);
  }
  return buf;
}

std::size_t visible_width(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && (s[i] < '@' || s[i] > '~')) ++i;  // to the final byte
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;  // not a continuation byte
  }
  return n;
}

std::string ellipsize(const std::string& s, std::size_t width) {
  if (visible_width(s) <= width) return s;
  if (width == 0) return {};
  // Keeps width - 1 columns (escapes and whole code points), then "…" and a colour reset.
  std::string out;
  std::size_t n = 0;
  bool escaped = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      const std::size_t start = i;
      i += 2;
      while (i < s.size() && (s[i] < '@' || s[i] > '~')) ++i;
      out.append(s, start, i - start + 1);
      escaped = true;
      continue;
    }
    const bool lead = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (lead && n == width - 1) break;
    if (lead) ++n;
    out += s[i];
  }
  out += "\u2026";
  if (escaped) out += "\x1b[0m";
  return out;
}

Paged::Paged() {
  pager_ = env_or("SKEDCTL_PAGER", "");
  if (std::getenv("SKEDCTL_PAGER") == nullptr) pager_ = env_or("PAGER", "less -FRX");
  if (output_options().no_pager || pager_.empty() || pager_ == "cat" ||
      ::isatty(STDOUT_FILENO) == 0) {
    return;
  }
  out_ = std::cout.rdbuf(held_.rdbuf());
}

Paged::~Paged() {
  if (out_ == nullptr) return;
  std::cout.rdbuf(out_);
  const std::string text = held_.str();
  const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  const std::size_t rows = terminal_size().second;
  if (rows == 0 || lines < rows) {
    std::cout << text << std::flush;
    return;
  }
  // The user's own pager, as the user (skedctl runs as whoever calls it), through the shell
  // as git and man run theirs.
  std::cout.flush();
  FILE* pager = ::popen(pager_.c_str(), "w");
  if (pager == nullptr) {
    std::cout << text << std::flush;
    return;
  }
  // A pager quit early (q in less) closes its end: not a reason for skedctl to die.
  const auto previous = std::signal(SIGPIPE, SIG_IGN);
  std::fwrite(text.data(), 1, text.size(), pager);
  ::pclose(pager);
  std::signal(SIGPIPE, previous);
}

}  // namespace skedd::ctl

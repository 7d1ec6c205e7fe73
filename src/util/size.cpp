#include "skedd/util/size.h"

#include <string>

namespace skedd {

Result<std::uint64_t> parse_size(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return Error::invalid_argument("invalid size \"" + std::string(text) + "\": " + why);
  };
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (std::uint64_t{1} << 50)) return bad("too large");
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return bad("expected a number");
  std::string_view unit = text.substr(i);
  if (unit.ends_with("iB"))
    unit.remove_suffix(2);
  else if (unit.size() > 1 && unit.ends_with("B"))
    unit.remove_suffix(1);
  int shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "k")
    shift = 10;
  else if (unit == "M")
    shift = 20;
  else if (unit == "G")
    shift = 30;
  else if (unit == "T")
    shift = 40;
  else
    return bad("unknown unit \"" + std::string(unit) + "\" (K, M, G, T)");
  if (shift > 0 && n > (std::uint64_t{1} << (63 - shift))) return bad("too large");
  return n << shift;
}

}  // namespace skedd

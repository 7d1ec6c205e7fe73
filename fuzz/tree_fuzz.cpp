// The store's binary form of definitions (config/definition_tree.h), read back at every start
// from the database: decode_tree() of any bytes either refuses them or gives a table whose
// encoding reads back the same. TOML text encoded and decoded is the table parsed.
#include <string>

#include <toml++/toml.h>

#include "config/definition_tree.h"
#include "fuzz/fuzz_support.h"

using namespace skedd;

namespace {

void round_trip(const toml::table& table, const char* what) {
  const std::string encoded = config::encode_tree(table);
  if (encoded.empty()) return;  // nested deeper than the reader reads: none is recorded
  std::optional<toml::table> decoded = config::decode_tree(encoded);
  fuzz::require(decoded.has_value() && *decoded == table, what);
  fuzz::require(config::encode_tree(*decoded) == encoded, "an encoding is stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view bytes = fuzz::text_of(data, size);
  if (std::optional<toml::table> table = config::decode_tree(bytes)) {
    round_trip(*table, "a decoded table encodes and decodes the same");
  }
  try {
    round_trip(toml::parse(bytes, std::string_view("fuzz")),
               "a parsed table encodes and decodes the same");
  } catch (const toml::parse_error&) {
    // Not TOML: the decoding above is all there is to check.
  }
  return 0;
}

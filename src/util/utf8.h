// UTF-8 well-formedness, for text that must go into TOML or JSON (neither can hold other bytes).
#pragma once

#include <string_view>

namespace skedd {

/// True when `text` is well-formed UTF-8: no overlong forms, no surrogates, nothing past
/// U+10FFFF, no sequence cut short.
bool valid_utf8(std::string_view text);

}  // namespace skedd

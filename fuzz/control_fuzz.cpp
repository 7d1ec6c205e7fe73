// The control protocol (skedd(8), CONTROL PROTOCOL): a line any local user may send. A line is
// either a request or a failure with a code and a message; encode_request() is the printer
// clients use, and a request it prints decodes to a request that prints the same.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/control/protocol.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > control::kMaxRequestBytes) return 0;  // the server refuses longer lines unread
  const std::string_view line = fuzz::text_of(data, size);
  const control::Decoded decoded = control::decode_request(line);
  if (const auto* failure = std::get_if<control::Failure>(&decoded.request)) {
    fuzz::require(!failure->code.empty() && !failure->message.empty(),
                  "a refused line gets a code and a message", std::string(line));
    return 0;
  }
  fuzz::require(decoded.id.is_null() || decoded.id.is_number() ||
                    (decoded.id.is_string() && decoded.id.get<std::string>().size() <= 64),
                "a request id is null, a number or a short string", std::string(line));
  const control::Request& request = std::get<control::Request>(decoded.request);
  const std::string printed = control::encode_request(decoded.id, request);
  const control::Decoded again = control::decode_request(printed);
  const auto* same = std::get_if<control::Request>(&again.request);
  fuzz::require(same != nullptr, "a printed request decodes", printed);
  fuzz::require(control::encode_request(again.id, *same) == printed,
                "a printed request decodes to the same request", printed);
  return 0;
}

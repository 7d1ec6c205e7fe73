// The run channel (fd 3): bytes a run writes, split into lines as the supervisor splits them
// and parsed. No line is longer than a checkpoint plus its keyword; a checkpoint is at most
// kMaxCheckpoint bytes; progress is 0..100 and an exit code 0..255.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/core/run_channel.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::text_of(data, size);
  LineSplitter splitter;
  // Fed in two parts, as reads cut a stream anywhere.
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  splitter.append(bytes.substr(0, cut));
  std::string line;
  std::size_t total = 0;
  auto drain = [&] {
    while (splitter.next(line)) {
      fuzz::require(line.size() <= kMaxCheckpoint + 64, "a line is bounded");
      total += line.size();
      Result<RunChannelLine> parsed = parse_run_channel_line(line);
      fuzz::require_message(parsed, "parse_run_channel_line");
      if (!parsed.ok()) continue;
      if (const auto* c = std::get_if<CheckpointLine>(&*parsed)) {
        fuzz::require(c->text.size() <= kMaxCheckpoint, "a checkpoint is bounded");
      } else if (const auto* p = std::get_if<ProgressLine>(&*parsed)) {
        fuzz::require(p->percent >= 0 && p->percent <= 100, "progress is a percentage", line);
      } else if (const auto* e = std::get_if<ExitLine>(&*parsed)) {
        fuzz::require(e->code >= 0 && e->code <= 255, "an exit code is a byte", line);
      }
    }
  };
  drain();
  splitter.append(bytes.substr(cut));
  drain();
  fuzz::require(total <= size, "lines hold only bytes that were written");
  return 0;
}

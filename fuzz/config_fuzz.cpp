// A whole skedd.toml from text (the main file alone: its jobs directory is not read): every
// table, key and value the loader checks. Errors are `file:line:column: message` lines.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/config/config.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;  // longer texts only slow the search down
  LoadOptions options;
  options.read_jobs_dir = false;
  options.handlers = {"fuzz"};
  Result<Config> config = parse_config(fuzz::text_of(data, size), "/fuzz/skedd.toml", options);
  fuzz::require_message(config, "parse_config");
  if (!config.ok()) {
    const std::string& message = config.error().message;
    fuzz::require(message.rfind("/fuzz/skedd.toml", 0) == 0, "errors name the file", message);
    return 0;
  }
  for (const JobSpec& job : config->jobs) {
    fuzz::require(validate_job_name(job.name).ok(), "a loaded job's name is valid", job.name);
    fuzz::require(!job.command.empty() || !job.options->handler.empty(),
                  "a loaded job runs something", job.name);
  }
  return 0;
}

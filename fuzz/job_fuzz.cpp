// A job definition as a user sends it over the control socket (`skedctl add --file`, the
// library's add()): TOML holding [job.NAME] tables. One job read from its text and from its
// recorded binary form (definition_tree(), what a restart reads back) is the same job.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/config/config.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  static const Config base = [] {
    Config c;
    c.pools["small"] = 2;
    c.daemon.handlers = {"fuzz"};
    return c;
  }();
  const std::string text(fuzz::text_of(data, size));
  Result<std::vector<JobSpec>> jobs = parse_job_definitions(text, "api", base);
  fuzz::require_message(jobs, "parse_job_definitions");
  if (!jobs.ok()) {
    fuzz::require(jobs.error().message.rfind("api", 0) == 0, "errors name the source",
                  jobs.error().message);
    return 0;
  }
  for (const JobSpec& job : *jobs) {
    fuzz::require(validate_job_name(job.name).ok(), "a job's name is valid", job.name);
  }
  if (jobs->size() != 1) return 0;
  const std::string tree = definition_tree(text);
  // Empty when nested deeper than a tree is read back: the text is read instead.
  Result<JobSpec> again = parse_job_definition(text, tree, "api", base);
  fuzz::require(again.ok() && same_definition(*again, jobs->front()),
                "a definition read from its binary form is the same job", text);
  return 0;
}

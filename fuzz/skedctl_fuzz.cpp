// skedctl's own text: the flags of `add` and `update`, which it writes into a [job.NAME] table.
// Whatever the flags hold, the table is valid TOML (or skedctl says which flag it cannot
// write), and a job read from it has exactly the name and command given: no flag can add a
// key, a table or a second job. The input is the flags, NUL-separated, in JobFlags' order.
#include <string>
#include <vector>

#include "ctl/job_flags.h"
#include "fuzz/fuzz_support.h"
#include "skedd/config/config.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text = fuzz::text_of(data, size);
  std::vector<std::string> parts;
  for (std::size_t from = 0;;) {
    const std::size_t nul = text.find('\0', from);
    parts.emplace_back(text.substr(from, nul - from));
    if (nul == std::string_view::npos) break;
    from = nul + 1;
  }
  parts.resize(13);
  ctl::JobFlags flags;
  std::string* fields[] = {&flags.name,         &flags.cron,         &flags.every,
                           &flags.at,           &flags.command,      &flags.user,
                           &flags.group,        &flags.timezone,     &flags.overlap,
                           &flags.soft_timeout, &flags.hard_timeout, &flags.pool};
  for (std::size_t i = 0; i < std::size(fields); ++i) *fields[i] = parts[i];
  if (!parts[12].empty()) flags.retries = static_cast<unsigned char>(parts[12][0]) - 100;

  Result<std::string> definition = ctl::definition_of(flags);
  fuzz::require_message(definition, "definition_of");
  if (!definition.ok()) return 0;
  fuzz::require(!definition_tree(*definition).empty(), "the flags make valid TOML", *definition);
  static const Config base;
  Result<std::vector<JobSpec>> jobs = parse_job_definitions(*definition, "api", base);
  if (!jobs.ok()) return 0;  // a value the job table refuses (a bad name, zone, duration)
  fuzz::require(jobs->size() == 1 && jobs->front().name == flags.name,
                "the flags make one job of the name given", *definition);
  const std::vector<std::string> command = {"/bin/sh", "-c", flags.command};
  fuzz::require(jobs->front().command == command, "the job runs the command given", *definition);
  return 0;
}

// `skedctl import-crontab`: a crontab (the first byte picks the format: odd a user's crontab,
// even /etc/cron.d's) written as jobs.d TOML. Whatever the crontab holds, the TOML it prints
// loads, and holds the jobs it says it imported.
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/config/config.h"
#include "skedd/cron/crontab.h"
#include "skedd/cron/crontab_import.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  const CrontabSource source = fuzz::crontab_source(data[0]);
  const CrontabImport imported = import_crontab(read_crontab(text, source), source);
  if (imported.imported == 0) return 0;
  static const Config base;
  Result<std::vector<JobSpec>> jobs = parse_job_definitions(imported.toml, "import", base);
  fuzz::require(jobs.ok(), "import-crontab's TOML loads",
                (jobs.ok() ? "" : jobs.error().message) + "\n" + imported.toml);
  fuzz::require(static_cast<int>(jobs->size()) == imported.imported,
                "import-crontab's TOML holds the jobs it imported", imported.toml);
  return 0;
}

// Crontabs in both formats: /etc/crontab and /etc/cron.d (a user field) and a user's crontab
// (`skedctl crontab`, /var/spool/cron/crontabs). The reader never fails as a whole: each line
// loads or is an error naming its line, and what loads becomes a job (import_fuzz.cpp checks
// what `skedctl import-crontab` prints of it).
#include <algorithm>
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/cron/crontab.h"

using namespace skedd;

namespace {

void check(std::string_view text, const CrontabSource& source) {
  const Crontab crontab = read_crontab(text, source);
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const CrontabMessage& m : crontab.errors) {
    fuzz::require(m.line >= 1 && m.line <= lines && !m.message.empty(),
                  "an error names a line of the file and what is wrong", m.to_string());
  }
  for (const CrontabEntry& entry : crontab.entries) {
    Result<JobSpec> job = crontab_job_spec(
        entry, [](const std::string&) { return std::optional<std::string>("/home/fuzz"); });
    fuzz::require(job.ok(), "a line that loads makes a job",
                  job.ok() ? "" : entry.job_name + ": " + job.error().message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Half a dozen lines are enough to combine variables, CRON_TZ and jobs; longer inputs only
  // slow the search (about 4,700 runs/s at 4 KiB, 10,000 at 512 B, 22,000 at this bound).
  if (size == 0 || size > 256) return 0;
  // The first byte picks the format (odd: a user's crontab), as in import_fuzz.cpp, so that
  // each run reads the text once.
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  check(text, fuzz::crontab_source(data[0]));
  return 0;
}

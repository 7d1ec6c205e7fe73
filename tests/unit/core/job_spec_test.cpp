// same_definition(): what a reload treats as unchanged.
#include "skedd/core/job_spec.h"

#include <catch2/catch.hpp>

namespace {

skedd::JobSpec job(const std::string& cron) {
  skedd::JobSpec spec;
  spec.name = "j";
  spec.schedule = skedd::parse_cron_schedule(cron, skedd::TimeZone()).value();
  spec.options.edit().command = {"/bin/true"};
  return spec;
}

}  // namespace

TEST_CASE("same definition ignores where a job was defined, nothing else", "[job_spec]") {
  skedd::JobSpec a = job("30 2 * * *");
  skedd::JobSpec b = job("30 2 * * *");
  b.defined_at = {"other.toml", 9, 1};
  CHECK(skedd::same_definition(a, b));

  b.options.edit().retries = 1;
  CHECK_FALSE(skedd::same_definition(a, b));

  skedd::JobSpec c = job("30 3 * * *");
  CHECK_FALSE(skedd::same_definition(a, c));

  skedd::JobSpec d = job("30 2 * * *");
  std::get<skedd::CronSchedule>(d.schedule.edit().kind)
      .spec.set_dst_policy(skedd::DstSkipped::kSkip, skedd::DstRepeated::kOnce);
  CHECK_FALSE(skedd::same_definition(a, d));

  skedd::JobSpec e = job("30 2 * * *");
  e.options.edit().env["X"] = "1";
  CHECK_FALSE(skedd::same_definition(a, e));
}

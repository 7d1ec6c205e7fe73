// same_definition(): what a reload treats as unchanged.
#include "skedd/core/job_spec.h"

#include <catch2/catch.hpp>

namespace {

skedd::JobSpec job(const std::string& cron) {
  skedd::JobSpec spec;
  spec.name = "j";
  spec.schedule = skedd::parse_cron_schedule(cron, skedd::TimeZone()).value();
  spec.command = {"/bin/true"};
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

  skedd::JobSpec f = job("30 2 * * *");
  f.command.push_back("--all");
  CHECK_FALSE(skedd::same_definition(a, f));
}

TEST_CASE("jobs that differ only in their commands share one options value", "[job_spec]") {
  // What lets 100,000 cron-like jobs, each with its own command, fit in cron's memory.
  skedd::JobSpec a = job("30 2 * * *");
  skedd::JobSpec b = job("30 2 * * *");
  b.command = {"/bin/true", "b"};
  skedd::intern_shared_parts(a);
  skedd::intern_shared_parts(b);
  CHECK(a.options.shares_with(b.options));
  CHECK(a.schedule.shares_with(b.schedule));
  CHECK(b.command == std::vector<std::string>{"/bin/true", "b"});
  skedd::JobSpec c = job("30 2 * * *");
  c.options.edit().retries = 2;
  skedd::intern_shared_parts(c);
  CHECK_FALSE(a.options.shares_with(c.options));
}

TEST_CASE("an argv keeps its arguments, empty ones too, in one string", "[job_spec]") {
  const skedd::Argv argv{"/bin/sh", "-c", "echo hi", ""};
  CHECK(argv.size() == 4);
  CHECK(argv.front() == "/bin/sh");
  CHECK(argv[1] == "-c");
  CHECK(argv[2] == "echo hi");
  CHECK(argv[3].empty());
  CHECK(argv[4].empty());
  CHECK(argv.back().empty());
  CHECK(argv.to_vector() == std::vector<std::string>{"/bin/sh", "-c", "echo hi", ""});
  CHECK(argv == std::vector<std::string>{"/bin/sh", "-c", "echo hi", ""});
  CHECK_FALSE(argv == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});

  skedd::Argv built;
  CHECK(built.empty());
  CHECK(built.size() == 0);
  CHECK(built.back().empty());
  built.push_back("/bin/true");
  CHECK(built.back() == "/bin/true");
  built.push_back("x");
  CHECK(built == skedd::Argv{"/bin/true", "x"});
  CHECK(built.back() == "x");
  built.clear();
  CHECK(built.empty());
}

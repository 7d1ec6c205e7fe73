// load_config() on real files in a fresh temp dir per test: typed values, defaults, jobs.d
// order, and every error as its whole text (file:line:column: message).
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

#include "skedd/config/config.h"
#include "skedd/time/timestamp.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using skedd::Config;
using skedd::JobSpec;
using skedd::load_config;

// Each test's files live in a directory of their own.
class TempDir : public skedd::test::TempDir {
 public:
  TempDir() : skedd::test::TempDir("skedd-config-test") {}
};

// The main file most error tests use: a fixed zone so nothing depends on the host.
constexpr const char* kPlainMain = "[daemon]\ntimezone = \"UTC\"\n";

Config load_ok(const std::string& path) {
  auto cfg = load_config(path);
  INFO((cfg.ok() ? std::string() : cfg.error().message));
  REQUIRE(cfg.ok());
  return std::move(cfg).value();
}

std::string load_error(const std::string& path) {
  auto cfg = load_config(path);
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.error().code == skedd::ErrorCode::kInvalidArgument);
  return cfg.error().message;
}

// The error text of a config whose main file is kPlainMain and whose one jobs file is `job`.
std::string job_file_error(const TempDir& dir, const std::string& job) {
  const std::string main = dir.write("skedd.toml", kPlainMain);
  dir.write("jobs.d/job.toml", job);
  return load_error(main);
}

const JobSpec& job_named(const Config& cfg, const std::string& name) {
  auto it = std::find_if(cfg.jobs.begin(), cfg.jobs.end(),
                         [&](const JobSpec& j) { return j.name == name; });
  INFO("job " << name);
  REQUIRE(it != cfg.jobs.end());
  return *it;
}

std::vector<std::string> job_names(const Config& cfg) {
  std::vector<std::string> names;
  for (const JobSpec& j : cfg.jobs) names.push_back(j.name);
  return names;
}

const skedd::CronSpec& cron_of(const JobSpec& job) {
  const auto* cron = std::get_if<skedd::CronSchedule>(&job.schedule->kind);
  REQUIRE(cron != nullptr);
  return cron->spec;
}

constexpr const char* kFullMain = R"([daemon]
state_dir = "state/../var"
socket = "run/skedd.sock"
jobs_dir = "jobs.d"
timezone = "Europe/Berlin"
max_concurrent_runs = 8
kill_grace = "15s"
on_shutdown = "leave"

[pools]
db = 2
io = 4

[store]
synchronous = "full"
keep_runs = 500
keep_days = 7
max_unwritten = 5000

[cron]
sources = ["/etc/crontab", "/etc/cron.d"]

[defaults]
timezone = "America/New_York"
user = "nobody"
group = "nogroup"
working_dir = "/tmp"
env = { LANG = "C.UTF-8", TERM = "dumb" }
umask = "027"
nice = 5
limit_nofile = 1024
limit_memory = "512M"
log_max_size = "1M"
priority = 10
pool = "io"
soft_timeout = "10m"
hard_timeout = "15m"
soft_signal = "INT"
kill_leftovers = false
retries = 2
retry_backoff = "1m"
retry_backoff_max = "2h"
overlap = "queue"
catch_up = "once"
max_catch_up = 3
starting_deadline = "5m"
jitter = "30s"
jitter_fixed = true
on_interrupt = "restart"
max_interrupts = 5
dst_skipped = "skip"
dst_repeated = "twice"
)";

// Sets every job key, each to something other than its [defaults] value.
constexpr const char* kFullJob = R"([job.nightly]
description = "Nightly backup of the databases"
cron = "30 2 * * *"
command = ["/usr/bin/backup", "--all", "--to", "/srv/backup"]
timezone = "UTC"
user = "backup"
group = "disk"
working_dir = "/var/backups"
env = { RETENTION = "14", LANG = "C" }
umask = 0o077
nice = -5
limit_nofile = 4096
limit_memory = 1073741824
log_max_size = "64K"
priority = -3
pool = "db"
soft_timeout = "1h"
hard_timeout = "1h30m"
soft_signal = "SIGUSR1"
kill_leftovers = true
retries = 3
retry_backoff = "45s"
retry_backoff_max = "10m"
overlap = "replace"
catch_up = "all"
max_catch_up = 20
starting_deadline = "2h"
jitter = "1.5m"
jitter_fixed = false
on_interrupt = "fail"
max_interrupts = 0
dst_skipped = "run"
dst_repeated = "once"
)";

// Says only what it must: everything else comes from [defaults].
constexpr const char* kSilentJobs = R"([job.report]
every = "90s"
command = "df -h | mail -s disk root"

[job.cleanup]
cron = "15 3 * * *"
command = ["/usr/bin/cleanup"]

[job.launch]
at = "2026-12-01T09:00:00+01:00"
command = ["/bin/true"]
)";

TEST_CASE("a full configuration loads with every [daemon], [pools], [store] and [cron] key typed",
          "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kFullMain);
  dir.write("jobs.d/10-nightly.toml", kFullJob);
  dir.write("jobs.d/20-silent.toml", kSilentJobs);
  const Config cfg = load_ok(main);

  CHECK(cfg.path == main);
  CHECK(cfg.files == std::vector<std::string>{main, dir / "jobs.d/10-nightly.toml",
                                              dir / "jobs.d/20-silent.toml"});
  // Relative paths are resolved against the config file's directory, and normalized.
  CHECK(cfg.daemon.state_dir == dir / "var");
  CHECK(cfg.daemon.socket == dir / "run/skedd.sock");
  CHECK(cfg.daemon.jobs_dir == dir / "jobs.d");
  CHECK(cfg.daemon.timezone.name() == "Europe/Berlin");
  CHECK(cfg.daemon.max_concurrent_runs == 8);
  CHECK(cfg.daemon.kill_grace == 15s);
  CHECK(cfg.daemon.on_shutdown == skedd::OnShutdown::kLeave);

  CHECK(cfg.pools == std::map<std::string, int>{{"db", 2}, {"io", 4}});

  CHECK(cfg.store.synchronous == skedd::Synchronous::kFull);
  CHECK(cfg.store.keep_runs == 500);
  CHECK(cfg.store.keep_days == 7);
  CHECK(cfg.store.max_unwritten == 5000);

  CHECK(cfg.cron.sources == std::vector<std::string>{"/etc/crontab", "/etc/cron.d"});

  CHECK(job_names(cfg) == std::vector<std::string>{"nightly", "report", "cleanup", "launch"});
}

TEST_CASE("parse_config reads a main file's text as load_config reads the file", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kFullMain);
  dir.write("jobs.d/10-nightly.toml", kFullJob);
  const Config from_file = load_ok(main);
  auto from_text = skedd::parse_config(kFullMain, main);
  REQUIRE(from_text.ok());
  CHECK(from_text->daemon.state_dir == from_file.daemon.state_dir);
  CHECK(from_text->pools == from_file.pools);
  CHECK(from_text->files == from_file.files);
  skedd::LoadOptions alone;
  alone.read_jobs_dir = false;
  auto main_only = skedd::parse_config(kFullMain, main, alone);
  REQUIRE(main_only.ok());
  CHECK(main_only->files == std::vector<std::string>{main});
  CHECK(main_only->jobs.size() + 1 == from_file.jobs.size());
  auto bad = skedd::parse_config("[daemon\n", "/etc/skedd/skedd.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("/etc/skedd/skedd.toml:1:", 0) == 0);
}

TEST_CASE("a job that sets every key gets exactly those values, overriding [defaults]",
          "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kFullMain);
  const std::string file = dir.write("jobs.d/10-nightly.toml", kFullJob);
  const Config cfg = load_ok(main);
  const JobSpec& job = job_named(cfg, "nightly");

  CHECK(job.schedule->is_cron());
  CHECK(job.schedule->text == "30 2 * * *");
  CHECK(job.zone.name() == "UTC");
  CHECK(cron_of(job).zone().name() == "UTC");
  CHECK(cron_of(job).dst_skipped() == skedd::DstSkipped::kRun);
  CHECK(cron_of(job).dst_repeated() == skedd::DstRepeated::kOnce);
  CHECK(job.command == std::vector<std::string>{"/usr/bin/backup", "--all", "--to", "/srv/backup"});
  CHECK_FALSE(job.options->shell);
  CHECK(job.options->user == "backup");
  CHECK(job.options->group == "disk");
  CHECK(job.options->working_dir == "/var/backups");
  // A job's env is laid over the [defaults] env: its own keys win, the others stay.
  CHECK(job.options->env ==
        std::map<std::string, std::string>{{"LANG", "C"}, {"RETENTION", "14"}, {"TERM", "dumb"}});
  CHECK(job.options->umask == 077);
  CHECK(job.options->nice == -5);
  CHECK(job.options->limit_nofile == 4096u);
  CHECK(job.options->limit_memory == 1073741824u);
  CHECK(job.options->log_max_size == 64u * 1024);
  CHECK(job.options->priority == -3);
  CHECK(job.options->pool == "db");
  CHECK(job.options->soft_timeout == skedd::Duration(1h));
  CHECK(job.options->hard_timeout == skedd::Duration(90min));
  CHECK(job.options->soft_signal == SIGUSR1);
  CHECK(job.options->kill_leftovers);
  CHECK(job.options->retries == 3);
  CHECK(job.options->retry_backoff == 45s);
  CHECK(job.options->retry_backoff_max == 10min);
  CHECK(job.options->overlap == skedd::OverlapPolicy::kReplace);
  CHECK(job.options->catch_up == skedd::CatchUp::kAll);
  CHECK(job.options->max_catch_up == 20);
  CHECK(job.options->starting_deadline == skedd::Duration(2h));
  CHECK(job.options->jitter == 90s);
  CHECK_FALSE(job.options->jitter_fixed);
  CHECK(job.options->on_interrupt == skedd::OnInterrupt::kFail);
  CHECK(job.options->max_interrupts == 0);
  CHECK(job.defined_at.to_string() == file + ":1:1");
}

TEST_CASE("a job that is silent on a key gets the [defaults] value", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kFullMain);
  dir.write("jobs.d/20-silent.toml", kSilentJobs);
  const Config cfg = load_ok(main);

  const JobSpec& cleanup = job_named(cfg, "cleanup");
  CHECK(cleanup.zone.name() == "America/New_York");
  CHECK(cron_of(cleanup).zone().name() == "America/New_York");
  CHECK(cron_of(cleanup).dst_skipped() == skedd::DstSkipped::kSkip);
  CHECK(cron_of(cleanup).dst_repeated() == skedd::DstRepeated::kTwice);
  CHECK(cleanup.options->user == "nobody");
  CHECK(cleanup.options->group == "nogroup");
  CHECK(cleanup.options->working_dir == "/tmp");
  CHECK(cleanup.options->env ==
        std::map<std::string, std::string>{{"LANG", "C.UTF-8"}, {"TERM", "dumb"}});
  CHECK(cleanup.options->umask == 027);
  CHECK(cleanup.options->nice == 5);
  CHECK(cleanup.options->limit_nofile == 1024u);
  CHECK(cleanup.options->limit_memory == 512u * 1024 * 1024);
  CHECK(cleanup.options->log_max_size == 1024u * 1024);
  CHECK(cleanup.options->priority == 10);
  CHECK(cleanup.options->pool == "io");
  CHECK(cleanup.options->soft_timeout == skedd::Duration(10min));
  CHECK(cleanup.options->hard_timeout == skedd::Duration(15min));
  CHECK(cleanup.options->soft_signal == SIGINT);
  CHECK_FALSE(cleanup.options->kill_leftovers);
  CHECK(cleanup.options->retries == 2);
  CHECK(cleanup.options->retry_backoff == 1min);
  CHECK(cleanup.options->retry_backoff_max == 2h);
  CHECK(cleanup.options->overlap == skedd::OverlapPolicy::kQueue);
  CHECK(cleanup.options->catch_up == skedd::CatchUp::kOnce);
  CHECK(cleanup.options->max_catch_up == 3);
  CHECK(cleanup.options->starting_deadline == skedd::Duration(5min));
  CHECK(cleanup.options->jitter == 30s);
  CHECK(cleanup.options->jitter_fixed);
  CHECK(cleanup.options->on_interrupt == skedd::OnInterrupt::kRestart);
  CHECK(cleanup.options->max_interrupts == 5);

  // A string command runs through the shell; DST defaults do not apply to `every`.
  const JobSpec& report = job_named(cfg, "report");
  CHECK(report.schedule->is_every());
  CHECK(report.schedule->text == "every 1m30s");
  CHECK(std::get<skedd::EverySchedule>(report.schedule->kind).interval == 90s);
  CHECK(report.command == std::vector<std::string>{"/bin/sh", "-c", "df -h | mail -s disk root"});
  CHECK(report.options->shell);

  const JobSpec& launch = job_named(cfg, "launch");
  CHECK(launch.schedule->is_at());
  CHECK(launch.schedule->text == "at 2026-12-01T09:00:00+01:00");
  CHECK(std::get<skedd::AtSchedule>(launch.schedule->kind).at.time_since_epoch() ==
        std::chrono::seconds(1796112000));
}

TEST_CASE("without [defaults] a job gets the built-in values and the [daemon] zone", "[config]") {
  TempDir dir;
  const std::string main =
      dir.write("skedd.toml",
                "[daemon]\ntimezone = \"Asia/Tokyo\"\n\n"
                "[job.tick]\ncron = \"0 * * * *\"\ncommand = [\"/bin/true\"]\n");
  const Config cfg = load_ok(main);
  const JobSpec& job = job_named(cfg, "tick");
  CHECK(job.zone.name() == "Asia/Tokyo");
  CHECK(job.defined_at.to_string() == main + ":4:1");
  CHECK_FALSE(job.options->user.has_value());
  CHECK_FALSE(job.options->umask.has_value());
  CHECK_FALSE(job.options->soft_timeout.has_value());
  CHECK_FALSE(job.options->hard_timeout.has_value());
  CHECK(job.options->env.empty());
  CHECK(job.options->pool.empty());
  CHECK(job.options->soft_signal == SIGTERM);
  CHECK(job.options->overlap == skedd::OverlapPolicy::kSkip);
  CHECK(job.options->catch_up == skedd::CatchUp::kNone);
  CHECK(job.options->retry_backoff == 30s);
  CHECK(job.options->log_max_size == 10u * 1024 * 1024);
  CHECK(cron_of(job).dst_skipped() == skedd::DstSkipped::kRun);

  // The [daemon], [store] defaults; state_dir and socket stay absolute.
  CHECK(cfg.daemon.state_dir == "/var/lib/skedd");
  CHECK(cfg.daemon.socket == "/run/skedd/skedd.sock");
  CHECK(cfg.daemon.jobs_dir == dir / "jobs.d");
  CHECK(cfg.daemon.max_concurrent_runs == 64);
  CHECK(cfg.daemon.kill_grace == 10s);
  CHECK(cfg.daemon.on_shutdown == skedd::OnShutdown::kLeave);
  CHECK(cfg.store.synchronous == skedd::Synchronous::kNormal);
  CHECK(cfg.store.keep_runs == 100);
  CHECK(cfg.store.keep_days == 30);
  CHECK(cfg.store.max_unwritten == 20000);
  CHECK(cfg.files == std::vector<std::string>{main});
}

TEST_CASE("umask, sizes and signals accept each documented spelling", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kPlainMain);
  dir.write("jobs.d/a.toml", R"([job.a]
every = "1m"
command = "true"
umask = "0022"
limit_memory = "2GiB"
log_max_size = 4096
soft_signal = "HUP"

[job.b]
every = "1m"
command = "true"
umask = 0
limit_memory = "10MB"
log_max_size = "5k"
soft_signal = "9"
)");
  const Config cfg = load_ok(main);
  const JobSpec& a = job_named(cfg, "a");
  CHECK(a.options->umask == 022);
  CHECK(a.options->limit_memory == 2ull << 30);
  CHECK(a.options->log_max_size == 4096u);
  CHECK(a.options->soft_signal == SIGHUP);
  const JobSpec& b = job_named(cfg, "b");
  CHECK(b.options->umask == 0);
  CHECK(b.options->limit_memory == 10u << 20);
  CHECK(b.options->log_max_size == 5u << 10);
  CHECK(b.options->soft_signal == SIGKILL);
}

TEST_CASE("jobs.d files load in file-name order, hidden and non-.toml files are ignored",
          "[config]") {
  TempDir dir;
  const std::string main = dir.write(
      "skedd.toml", std::string(kPlainMain) + "\n[job.main]\nevery = \"1h\"\ncommand = \"true\"\n");
  const auto job = [](const std::string& name) {
    return "[job." + name + "]\nevery = \"1h\"\ncommand = \"true\"\n";
  };
  // Written out of order, so the directory order is unlikely to be the name order.
  dir.write("jobs.d/30-c.toml", job("c1") + "\n" + job("c2"));
  dir.write("jobs.d/10-a.toml", job("a"));
  dir.write("jobs.d/20-b.toml", job("b"));
  dir.write("jobs.d/.hidden.toml", job("hidden"));
  dir.write("jobs.d/15-notes.txt", job("txt"));
  dir.write("jobs.d/25-b.toml.bak", job("bak"));
  dir.write("jobs.d/26-b.toml~", job("tilde"));
  dir.write("jobs.d/README", "not toml at all = = =");
  const Config cfg = load_ok(main);
  CHECK(job_names(cfg) == std::vector<std::string>{"main", "a", "b", "c1", "c2"});
  CHECK(cfg.files == std::vector<std::string>{main, dir / "jobs.d/10-a.toml",
                                              dir / "jobs.d/20-b.toml", dir / "jobs.d/30-c.toml"});
}

TEST_CASE("a large jobs file, read on several threads, keeps file order and its errors' order",
          "[config]") {
  // 45,000 jobs: more than one reading thread's share (20,000) on a machine of two cores.
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kPlainMain);
  std::string jobs;
  constexpr int kJobs = 45'000;
  for (int i = kJobs - 1; i >= 0; --i) {  // names out of key order
    const std::string cron = i == 40'000 ? "61 * * * *" : std::to_string(i % 60) + " 3 * * *";
    jobs += "[job.j" + std::to_string(i) + "]\ncron = \"" + cron +
            "\"\ncommand = [\"/bin/true\", \"" + std::to_string(i) + "\"]\n" +
            (i == 100 ? "retires = 1\n" : "");
  }
  dir.write("jobs.d/many.toml", jobs);
  const std::string f = dir / "jobs.d/many.toml";
  // The errors in file order: j40000 comes first in the file, j100 near its end.
  const int line_40000 = (kJobs - 1 - 40'000) * 3 + 2;
  const int line_100 = (kJobs - 1 - 100) * 3 + 1 + 3;
  CHECK(load_error(main) ==
        f + ":" + std::to_string(line_40000) +
            ":8: job \"j40000\": cron: minute field: 61 is out of range 0-59 (column 1 of "
            "\"61 * * * *\")\n" +
            f + ":" + std::to_string(line_100) +
            ":1: job \"j100\": unknown key \"retires\" (did you mean "
            "\"retries\"?)");

  jobs.clear();
  for (int i = kJobs - 1; i >= 0; --i) {
    jobs += "[job.j" + std::to_string(i) + "]\ncron = \"" + std::to_string(i % 60) +
            " 3 * * *\"\ncommand = [\"/bin/true\", \"" + std::to_string(i) + "\"]\n";
  }
  dir.write("jobs.d/many.toml", jobs);
  const Config cfg = load_ok(main);
  REQUIRE(cfg.jobs.size() == kJobs);
  for (int k = 0; k < kJobs; ++k) {
    const int i = kJobs - 1 - k;
    const JobSpec& job = cfg.jobs[static_cast<std::size_t>(k)];
    if (job.name != "j" + std::to_string(i) || job.command[1] != std::to_string(i) ||
        job.schedule->text != std::to_string(i % 60) + " 3 * * *") {
      FAIL("job " << k << " is " << job.name << ", not j" << i);
    }
  }
  // Jobs of one cron text share a schedule; the options, with nothing to tell them apart, too.
  CHECK(cfg.jobs[0].schedule.shares_with(cfg.jobs[60].schedule));
  CHECK(cfg.jobs[0].options.shares_with(cfg.jobs[kJobs - 1].options));
}

TEST_CASE("jobs of one cron text but another zone or DST policy get schedules of their own",
          "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kPlainMain);
  dir.write("jobs.d/j.toml", R"([job.a]
cron = "30 2 * * *"
command = "true"

[job.b]
cron = "30 2 * * *"
timezone = "Europe/Berlin"
command = "true"

[job.c]
cron = "30 2 * * *"
timezone = "Europe/Berlin"
dst_skipped = "skip"
command = "true"

[job.d]
cron = "30 2 * * *"
timezone = "Europe/Berlin"
command = "true"
)");
  const Config cfg = load_ok(main);
  const auto spec_of = [&](const char* name) {
    return std::get<skedd::CronSchedule>(job_named(cfg, name).schedule->kind).spec;
  };
  CHECK(spec_of("a").zone().name() == "UTC");
  CHECK(spec_of("b").zone().name() == "Europe/Berlin");
  CHECK(spec_of("b").dst_skipped() == skedd::DstSkipped::kRun);
  CHECK(spec_of("c").dst_skipped() == skedd::DstSkipped::kSkip);
  CHECK(job_named(cfg, "b").schedule.shares_with(job_named(cfg, "d").schedule));
  CHECK_FALSE(job_named(cfg, "a").schedule.shares_with(job_named(cfg, "b").schedule));
  CHECK_FALSE(job_named(cfg, "b").schedule.shares_with(job_named(cfg, "c").schedule));
}

TEST_CASE("an explicit jobs_dir is resolved against the config dir and must exist", "[config]") {
  TempDir dir;
  SECTION("relative jobs_dir") {
    const std::string main =
        dir.write("etc/skedd.toml", "[daemon]\ntimezone = \"UTC\"\njobs_dir = \"../jobs\"\n");
    dir.write("jobs/x.toml", "[job.x]\nevery = \"1h\"\ncommand = \"true\"\n");
    const Config cfg = load_ok(main);
    CHECK(cfg.daemon.jobs_dir == dir / "jobs");
    CHECK(job_names(cfg) == std::vector<std::string>{"x"});
  }
  SECTION("missing jobs_dir") {
    const std::string main =
        dir.write("skedd.toml", "[daemon]\ntimezone = \"UTC\"\njobs_dir = \"nowhere\"\n");
    CHECK(load_error(main) ==
          main + ":3:12: daemon.jobs_dir: \"" + dir / "nowhere" + "\" is not a directory");
  }
  SECTION("the default jobs.d may be missing") {
    const std::string main = dir.write("skedd.toml", kPlainMain);
    CHECK(load_ok(main).jobs.empty());
  }
}

// --- errors: each asserted as the whole message ---

TEST_CASE("a TOML syntax error names the file, line and column", "[config]") {
  TempDir dir;
  SECTION("in a jobs file") {
    const std::string err = job_file_error(dir, "[job.a]\nevery = \"1h\"\ncommand = \"true\n");
    CHECK(err == dir /
                     "jobs.d/job.toml:3:16: Error while parsing string: unescaped control "
                     "characters other than TAB (U+0009) are explicitly prohibited");
  }
  SECTION("in the main file, which stops the load") {
    const std::string main = dir.write("skedd.toml", "[daemon]\ntimezone = UTC\n");
    dir.write("jobs.d/job.toml", "[job.a]\n");
    CHECK(load_error(main) ==
          main + ":2:12: Error while parsing value: could not determine value type");
  }
}

TEST_CASE("an unknown key is reported with a did-you-mean suggestion", "[config]") {
  TempDir dir;
  SECTION("job key") {
    const std::string err =
        job_file_error(dir, "[job.a]\nevery = \"1h\"\ncommand = \"true\"\nretires = 3\n");
    CHECK(err == dir /
                     "jobs.d/job.toml:4:1: job \"a\": unknown key \"retires\" (did you mean "
                     "\"retries\"?)");
  }
  SECTION("job key too far from any known key") {
    const std::string err =
        job_file_error(dir, "[job.a]\nevery = \"1h\"\ncommand = \"true\"\nfrobnicate = 3\n");
    CHECK(err == dir / "jobs.d/job.toml:4:1: job \"a\": unknown key \"frobnicate\"");
  }
  SECTION("settings tables") {
    const std::string main = dir.write(
        "skedd.toml", "[daemon]\nstatedir = \"/x\"\n[store]\nkeep = 1\n[cron]\nsource = []\n");
    CHECK(load_error(main) ==
          main + ":2:1: unknown key \"statedir\" in [daemon] (did you mean state_dir?)\n" +  //
              main + ":4:1: unknown key \"keep\" in [store]\n" +                             //
              main + ":6:1: unknown key \"source\" in [cron] (did you mean sources?)");
  }
}

TEST_CASE("values of the wrong type say what the key must be", "[config]") {
  TempDir dir;
  SECTION("job keys") {
    const std::string err = job_file_error(dir, R"([job.a]
every = "1h"
command = 42
retries = "3"
kill_leftovers = "yes"
env = "LANG=C"
user = ""
working_dir = "relative/dir"
nice = 20
umask = "0o22"
overlap = "sometimes"
soft_signal = "TERMINATE"
limit_memory = "12X"
)");
    const std::string f = dir / "jobs.d/job.toml";
    CHECK(err ==
          f +
              ":3:11: job \"a\": command: must be an argv array such as [\"/usr/bin/backup\", "
              "\"--all\"] or a shell string\n" +
              f + ":4:11: job \"a\": retries: must be an integer\n" + f +
              ":5:18: job \"a\": kill_leftovers: must be true or false\n" + f +
              ":6:7: job \"a\": env: must be a table such as { RETENTION = \"14\" }\n" + f +
              ":7:8: job \"a\": user: must not be empty\n" + f +
              ":8:15: job \"a\": working_dir: must be an absolute path\n" + f +
              ":9:8: job \"a\": nice: must be between -20 and 19, got 20\n" + f +
              ":10:9: job \"a\": umask: must be an octal string such as \"022\" or a TOML "
              "octal such as 0o022\n" +
              f +
              ":11:11: job \"a\": overlap: \"sometimes\" is not one of skip, queue, replace, "
              "allow\n" +
              f + ":12:15: job \"a\": soft_signal: unknown signal \"TERMINATE\"\n" + f +
              ":13:16: job \"a\": limit_memory: invalid size \"12X\": unknown unit \"X\" (K, M, "
              "G, T)");
  }
  SECTION("command arrays") {
    const std::string err = job_file_error(dir, R"([job.a]
every = "1h"
command = ["/bin/echo", 1]

[job.b]
every = "1h"
command = []

[job.c]
every = "1h"
command = ""

[job.d]
every = "1h"
command = ["/bin/echo", "a\u0000b"]

[job.e]
every = "1h"
command = "echo \u0000"
)");
    const std::string f = dir / "jobs.d/job.toml";
    CHECK(err == f + ":3:11: job \"a\": command: every argv element must be a string\n" +  //
                     f + ":7:11: job \"b\": command: argv[0] must not be empty\n" +        //
                     f + ":11:11: job \"c\": command: must not be empty\n" +               //
                     f +
                     ":15:11: job \"d\": command: argv elements must not contain a NUL "
                     "character\n" +
                     f + ":19:11: job \"e\": command: must not contain a NUL character");
  }
  SECTION("settings tables") {
    const std::string main = dir.write("skedd.toml", R"([daemon]
state_dir = 3
max_concurrent_runs = "8"
on_shutdown = "kill"

[pools]
db = 0
"bad pool" = 1

[store]
synchronous = true
keep_days = -1
max_unwritten = 0

[cron]
sources = "/etc/crontab"
)");
    CHECK(load_error(main) ==
          main + ":2:13: daemon.state_dir: must be a non-empty string\n" +  //
              main + ":3:23: daemon.max_concurrent_runs: must be an integer from 1 to 100000\n" +
              main + ":4:15: daemon.on_shutdown: must be leave or stop\n" +              //
              main + ":7:6: pools.db: must be an integer from 1 to 100000\n" +           //
              main + ":8:1: pools: invalid pool name \"bad pool\"\n" +                   //
              main + ":11:15: store.synchronous: must be normal or full\n" +             //
              main + ":12:13: store.keep_days: must be an integer from 0 to 100000\n" +  //
              main + ":13:17: store.max_unwritten: must be an integer from 1 to 100000000\n" +
              main + ":16:11: cron.sources: must be an array of paths");
  }
  SECTION("a settings key that is not a table") {
    const std::string main = dir.write("skedd.toml", "daemon = \"fast\"\njob = 1\n");
    CHECK(load_error(main) == main + ":1:10: \"daemon\" must be a table ([daemon])\n" +  //
                                  main + ":2:7: \"job\" must be a table ([job])");
  }
}

TEST_CASE("a bad duration names the key and the column in the text", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml",
                                     "[daemon]\ntimezone = \"UTC\"\n"
                                     "kill_grace = \"5x\"\n");
  dir.write("jobs.d/job.toml", R"([job.a]
every = "1h"
command = "true"
soft_timeout = "10 minutes"
retry_backoff = 30
jitter = "-5s"
)");
  const std::string f = dir / "jobs.d/job.toml";
  CHECK(load_error(main) ==
        main +
            ":3:14: daemon.kill_grace: invalid duration \"5x\": unknown unit \"x\" (us, ms, s, "
            "m, h, d, w) at column 2\n" +
            f +
            ":4:16: job \"a\": soft_timeout: invalid duration \"10 minutes\": unexpected "
            "character at column 3\n" +
            f +
            ":5:17: job \"a\": retry_backoff: must be a duration string such as \"30s\" or "
            "\"1h30m\"\n" +
            f +
            ":6:10: job \"a\": jitter: invalid duration \"-5s\": negative durations at column 1");
}

TEST_CASE("hard_timeout must be greater than soft_timeout", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kPlainMain);
  SECTION("both in the job: reported at hard_timeout") {
    dir.write("jobs.d/backup.toml", R"([job.nightly]
cron = "0 3 * * *"
command = "backup"
hard_timeout= "30m"
soft_timeout = "1h"
)");
    CHECK(load_error(main) == dir /
                                  "jobs.d/backup.toml:4:15: job \"nightly\": hard_timeout must "
                                  "be greater than soft_timeout");
  }
  SECTION("equal is not greater") {
    dir.write("jobs.d/backup.toml", R"([job.nightly]
cron = "0 3 * * *"
command = "backup"
soft_timeout = "1h"
hard_timeout = "60m"
)");
    CHECK(load_error(main) == dir /
                                  "jobs.d/backup.toml:5:16: job \"nightly\": hard_timeout must "
                                  "be greater than soft_timeout");
  }
  SECTION("hard_timeout from [defaults]: reported at the job") {
    dir.write("skedd.toml", std::string(kPlainMain) + "[defaults]\nhard_timeout = \"10m\"\n");
    dir.write("jobs.d/backup.toml", R"([job.nightly]
cron = "0 3 * * *"
command = "backup"
soft_timeout = "1h"
)");
    CHECK(load_error(main) == dir /
                                  "jobs.d/backup.toml:1:1: job \"nightly\": hard_timeout must "
                                  "be greater than soft_timeout");
  }
}

TEST_CASE("a job needs exactly one schedule and a command", "[config]") {
  TempDir dir;
  const std::string f = dir / "jobs.d/job.toml";
  SECTION("no schedule") {
    CHECK(job_file_error(dir, "[job.a]\ncommand = \"true\"\n") ==
          f + ":1:1: job \"a\": no schedule: set one of cron, every or at");
  }
  SECTION("two schedules") {
    CHECK(
        job_file_error(dir, "[job.a]\ncron = \"@hourly\"\nevery = \"1h\"\ncommand = \"true\"\n") ==
        f + ":3:9: job \"a\": more than one of cron, every and at is set");
  }
  SECTION("three schedules: reported at `at`") {
    CHECK(job_file_error(dir,
                         "[job.a]\nat = \"2030-01-01T00:00:00Z\"\ncron = \"@hourly\"\n"
                         "every = \"1h\"\ncommand = \"true\"\n") ==
          f + ":2:6: job \"a\": more than one of cron, every and at is set");
  }
  SECTION("no command") {
    CHECK(job_file_error(dir, "[job.a]\nevery = \"1h\"\n") ==
          f + ":1:1: job \"a\": no command (or handler)");
  }
  SECTION("neither") {
    CHECK(job_file_error(dir, "\n\n[job.a]\nuser = \"nobody\"\n") ==
          f + ":3:1: job \"a\": no schedule: set one of cron, every or at\n" +  //
              f + ":3:1: job \"a\": no command (or handler)");
  }
}

TEST_CASE("a job name must be usable as a file name", "[config]") {
  TempDir dir;
  const std::string err = job_file_error(dir, R"([job."bad name"]
every = "1h"
command = "true"

[job._hidden]
every = "1h"
command = "true"
)");
  const std::string f = dir / "jobs.d/job.toml";
  CHECK(err == f +
                   ":1:6: invalid job name \"bad name\": character 4 is not a letter, digit, "
                   "'_', '.' or '-' (names become file names)\n" +
                   f + ":5:6: invalid job name \"_hidden\": must start with a letter or digit");
}

TEST_CASE("a job's pool must be defined in [pools]", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", std::string(kPlainMain) + "[pools]\ndb = 1\n");
  dir.write("jobs.d/job.toml", "[job.a]\nevery = \"1h\"\ncommand = \"true\"\npool = \"gpu\"\n");
  CHECK(load_error(main) ==
        dir / "jobs.d/job.toml:4:8: job \"a\": pool \"gpu\" is not defined in [pools]");
}

TEST_CASE("a log cap below 4K is refused", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kPlainMain);
  dir.write("jobs.d/job.toml", "[job.a]\nevery = \"1h\"\ncommand = \"true\"\nlog_max_size = 0\n");
  CHECK(load_error(main) ==
        dir / "jobs.d/job.toml:4:16: job \"a\": log_max_size: must be at least 4K");
}

TEST_CASE("an unknown time zone is refused in [daemon] and in a job", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", "[daemon]\ntimezone = \"Mars/Olympus\"\n");
  dir.write("jobs.d/job.toml",
            "[job.a]\ncron = \"0 3 * * *\"\ncommand = \"true\"\ntimezone = \"Europe/Atlantis\"\n");
  CHECK(load_error(main) ==
        main +
            ":2:12: daemon.timezone: unknown time zone \"Mars/Olympus\" (expected an IANA "
            "name such as \"Europe/Berlin\")\n" +
            dir /
                "jobs.d/job.toml:4:12: job \"a\": timezone: unknown time zone \"Europe/Atlantis\" "
                "(did you mean Europe/Athens?)");
}

TEST_CASE("a bad cron expression reports the parser's message at the value", "[config]") {
  TempDir dir;
  const std::string err = job_file_error(dir, R"([job.a]
cron = "61 * * * *"
command = "true"

[job.b]
cron = "0 3 * *"
command = "true"

[job.c]
cron = "@fortnightly"
command = "true"

[job.d]
every = "500ms"
command = "true"

[job.e]
at = "2030-01-01 09:00"
command = "true"
)");
  const std::string f = dir / "jobs.d/job.toml";
  CHECK(err ==
        f +
            ":2:8: job \"a\": cron: minute field: 61 is out of range 0-59 (column 1 of \"61 * * "
            "* *\")\n" +
            f +
            ":6:8: job \"b\": cron: expected 5 fields (minute hour day-of-month month "
            "day-of-week) or 6 with leading seconds, got 4 in \"0 3 * *\"\n" +
            f +
            ":10:8: job \"c\": cron: unknown macro \"@fortnightly\" (expected @yearly, "
            "@annually, @monthly, @weekly, @daily, @midnight, @hourly, @reboot or @every "
            "<duration>)\n" +
            f + ":14:9: job \"d\": every: the interval must be at least 1s, got \"500ms\"\n" + f +
            ":18:6: job \"e\": at: invalid timestamp \"2030-01-01 09:00\": expected hh:mm:ss at "
            "column 12");
}

TEST_CASE("a cron expression that never fires is refused", "[config]") {
  TempDir dir;
  CHECK(job_file_error(dir, "[job.a]\ncron = \"0 0 30 2 *\"\ncommand = \"true\"\n") ==
        dir / "jobs.d/job.toml:2:8: job \"a\": cron: \"0 0 30 2 *\" never fires");
}

TEST_CASE("DST policies apply only to fixed-time cron schedules", "[config]") {
  TempDir dir;
  const std::string f = dir / "jobs.d/job.toml";
  SECTION("wildcard hour") {
    CHECK(job_file_error(dir,
                         "[job.a]\ncron = \"*/15 * * * *\"\ncommand = \"true\"\n"
                         "dst_skipped = \"skip\"\n") ==
          f + ":4:15: job \"a\": dst_skipped and dst_repeated apply only to fixed-time "
              "schedules; \"*/15 * * * *\" has a wildcard in its minute or hour field");
  }
  SECTION("every") {
    CHECK(job_file_error(dir,
                         "[job.a]\nevery = \"1h\"\ncommand = \"true\"\n"
                         "dst_repeated = \"twice\"\n") ==
          f + ":4:16: job \"a\": dst_skipped and dst_repeated apply only to cron schedules");
  }
  SECTION("a [defaults] DST policy is silently not applied to wildcard jobs") {
    const std::string main =
        dir.write("skedd.toml", std::string(kPlainMain) + "[defaults]\ndst_skipped = \"skip\"\n");
    dir.write("jobs.d/job.toml", "[job.a]\ncron = \"*/15 * * * *\"\ncommand = \"true\"\n");
    CHECK(job_names(load_ok(main)) == std::vector<std::string>{"a"});
  }
}

TEST_CASE("a job name defined twice names both locations", "[config]") {
  TempDir dir;
  const std::string main = dir.write(
      "skedd.toml", std::string(kPlainMain) + "\n[job.backup]\nevery = \"1h\"\ncommand = \"a\"\n");
  dir.write("jobs.d/a.toml", "[job.backup]\nevery = \"2h\"\ncommand = \"b\"\n");
  dir.write("jobs.d/b.toml", "# the same again\n\n[job.backup]\nevery = \"3h\"\ncommand = \"c\"\n");
  CHECK(load_error(main) ==
        dir / "jobs.d/a.toml:1:1: job \"backup\" is already defined at " + main + ":4:1\n" +
            dir / "jobs.d/b.toml:3:1: job \"backup\" is already defined at " + main + ":4:1");
}

TEST_CASE("a jobs file holds only [job.NAME] and [workflow.NAME] tables", "[config]") {
  TempDir dir;
  SECTION("jobs file") {
    CHECK(job_file_error(dir,
                         "[daemon]\ntimezone = \"UTC\"\n\n[job.a]\nevery = \"1h\"\n"
                         "command = \"true\"\n") ==
          dir /
              "jobs.d/job.toml:1:2: unknown table \"daemon\" (a jobs file holds only "
              "[job.NAME] and [workflow.NAME] tables)");
  }
  SECTION("main file") {
    const std::string main = dir.write("skedd.toml", "[deamon]\ntimezone = \"UTC\"\n");
    CHECK(load_error(main) == main +
                                  ":1:2: unknown table \"deamon\" (expected daemon, pools, "
                                  "store, defaults, cron, http, job or workflow)");
  }
  SECTION("a job table that is not a table") {
    CHECK(job_file_error(dir, "job.a = \"0 3 * * *\"\n") ==
          dir / "jobs.d/job.toml:1:9: job \"a\": must be a table ([job.a])");
  }
}

TEST_CASE("[defaults] takes only per-job keys, checked once", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", R"([daemon]
timezone = "UTC"

[defaults]
cron = "@daily"
command = "true"
retry = 3
pool = "gpu"
nice = "low"
)");
  dir.write("jobs.d/a.toml", "[job.a]\nevery = \"1h\"\ncommand = \"true\"\n");
  dir.write("jobs.d/b.toml", "[job.b]\nevery = \"1h\"\ncommand = \"true\"\n");
  CHECK(load_error(main) ==
        main + ":5:1: defaults: \"cron\" cannot have a default; set it per job\n" + main +
            ":6:1: defaults: \"command\" cannot have a default; set it per job\n" + main +
            ":7:1: defaults: unknown key \"retry\" (did you mean \"retries\"?)\n" + main +
            ":9:8: defaults: nice: must be an integer\n" + main +
            ":8:8: defaults: pool \"gpu\" is not defined in [pools]");
}

TEST_CASE("errors of several files are reported together, one per line, in order", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", R"([daemon]
timezone = "UTC"
max_concurrent_runs = 0

[job.inline]
every = "1h"
)");
  dir.write("jobs.d/20-b.toml",
            "[job.b1]\nevery = \"1h\"\ncommand = \"true\"\nnice = 99\n\n"
            "[job.b2]\ncommand = \"true\"\n");
  dir.write("jobs.d/10-a.toml", "[job.a]\nevery = \"1h\"\ncommand = \"true\"\n");
  dir.write("jobs.d/15-broken.toml", "[job.x\n");
  dir.write("jobs.d/30-c.toml", "[job.c]\ncron = \"0 25 * * *\"\ncommand = \"true\"\n");
  const std::string d = dir / "jobs.d/";
  CHECK(load_error(main) ==
        main + ":3:23: daemon.max_concurrent_runs: must be an integer from 1 to 100000\n" + main +
            ":5:1: job \"inline\": no command (or handler)\n" + d +
            "15-broken.toml:1:7: Error while parsing table header: expected ']', saw '\\n'\n" + d +
            "20-b.toml:4:8: job \"b1\": nice: must be between -20 and 19, got 99\n" + d +
            "20-b.toml:6:1: job \"b2\": no schedule: set one of cron, every or at\n" + d +
            "30-c.toml:2:8: job \"c\": cron: hour field: 25 is out of range 0-23 (column 3 of "
            "\"0 25 * * *\")");
}

TEST_CASE("files writable by group or others are refused with their mode", "[config]") {
  TempDir dir;
  SECTION("group-writable jobs file; the other files are still checked") {
    const std::string main = dir.write("skedd.toml", kPlainMain);
    dir.write("jobs.d/a.toml", "[job.a]\nevery = \"1h\"\ncommand = \"true\"\n", 0664);
    dir.write("jobs.d/b.toml", "[job.b]\nevery = \"1h\"\n", 0600);
    CHECK(load_error(main) ==
          dir / "jobs.d/a.toml: refusing a file writable by group or others (mode 0664; fix with "
                "chmod go-w)\n" +
              dir / "jobs.d/b.toml:1:1: job \"b\": no command (or handler)");
  }
  SECTION("world-writable main file") {
    const std::string main = dir.write("skedd.toml", kPlainMain, 0646);
    CHECK(load_error(main) ==
          main + ": refusing a file writable by group or others (mode 0646; fix with chmod go-w)");
  }
  SECTION("the check can be turned off") {
    const std::string main = dir.write("skedd.toml", kPlainMain, 0666);
    auto cfg = load_config(main, skedd::LoadOptions{.check_file_safety = false, .handlers = {}});
    CHECK(cfg.ok());
  }
  SECTION("a missing main file") {
    CHECK(load_error(dir / "absent.toml") == dir / "absent.toml: No such file or directory");
  }
}

TEST_CASE("handler jobs: a registered handler with its params as JSON", "[config]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", kPlainMain);
  const skedd::LoadOptions with_report{.check_file_safety = true, .handlers = {"report", "noop"}};
  SECTION("params become a JSON object; no params is {}") {
    dir.write("jobs.d/job.toml",
              "[job.a]\nevery = \"1h\"\nhandler = \"report\"\n"
              "params = { region = \"eu\", days = 7, tags = [\"x\"] }\n"
              "[job.b]\nevery = \"1h\"\nhandler = \"noop\"\n");
    auto cfg = load_config(main, with_report);
    INFO((cfg.ok() ? std::string() : cfg.error().message));
    REQUIRE(cfg.ok());
    const JobSpec& a = job_named(cfg.value(), "a");
    CHECK(a.options->handler == "report");
    CHECK(a.command.empty());
    CHECK(nlohmann::json::parse(a.params) ==
          nlohmann::json{{"region", "eu"}, {"days", 7}, {"tags", {"x"}}});
    CHECK(job_named(cfg.value(), "b").params == "{}");
  }
  SECTION("params are kept as compact JSON: no whitespace but inside strings") {
    dir.write("jobs.d/job.toml",
              "[job.a]\nevery = \"1h\"\nhandler = \"report\"\n"
              "params = { id = 42 }\n"
              "[job.b]\nevery = \"1h\"\nhandler = \"report\"\n"
              "params = { note = \"a \\\" b\\n c\", list = [1, { x = \" y \" }] }\n");
    auto cfg = load_config(main, with_report);
    INFO((cfg.ok() ? std::string() : cfg.error().message));
    REQUIRE(cfg.ok());
    CHECK(job_named(cfg.value(), "a").params == R"({"id":42})");
    const std::string& b = job_named(cfg.value(), "b").params;
    CHECK(b == R"({"list":[1,{"x":" y "}],"note":"a \" b\n c"})");
    CHECK(nlohmann::json::parse(b)["note"] == "a \" b\n c");
  }
  SECTION("params of every TOML type") {
    dir.write("jobs.d/job.toml",
              "[job.a]\nevery = \"1h\"\nhandler = \"report\"\n"
              "params = { f = 1.5, g = -2e-3, h = inf, t = true, n = false, d = 2026-11-25, "
              "tm = 07:30:00, dt = 2026-11-25T07:30:00Z, ctl = \"\\u0001\\t\", "
              "nested = { empty = [], deep = { k = [[1], [\"2\"]] } } }\n");
    auto cfg = load_config(main, with_report);
    INFO((cfg.ok() ? std::string() : cfg.error().message));
    REQUIRE(cfg.ok());
    const std::string& a = job_named(cfg.value(), "a").params;
    CHECK(a == R"({"ctl":"\u0001\t","d":"2026-11-25","dt":"2026-11-25T07:30:00Z",)"
               R"("f":1.5,"g":-0.002,"h":null,"n":false,)"
               R"("nested":{"deep":{"k":[[1],["2"]]},"empty":[]},"t":true,"tm":"07:30:00"})");
    const auto parsed = nlohmann::json::parse(a);
    CHECK(parsed["ctl"] == "\x01\t");
    CHECK(parsed["f"] == 1.5);
  }
  const std::string f = dir / "jobs.d/job.toml";
  SECTION("an unknown handler is a config error naming the registered ones") {
    dir.write("jobs.d/job.toml", "[job.a]\nevery = \"1h\"\nhandler = \"reprot\"\n");
    auto cfg = load_config(main, with_report);
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().message ==
          f + ":3:11: job \"a\": handler \"reprot\" is not registered (registered: noop, report)");
  }
  SECTION("a program with no handlers says so") {
    CHECK(job_file_error(dir, "[job.a]\nevery = \"1h\"\nhandler = \"report\"\n") ==
          f + ":3:11: job \"a\": handler \"report\" is not registered (this program registers "
              "none)");
  }
  SECTION("command and handler together, params without handler, params not a table") {
    dir.write("jobs.d/job.toml",
              "[job.a]\nevery = \"1h\"\ncommand = \"true\"\nhandler = \"report\"\n"
              "[job.b]\nevery = \"1h\"\ncommand = \"true\"\nparams = { x = 1 }\n"
              "[job.c]\nevery = \"1h\"\nhandler = \"report\"\nparams = 3\n");
    auto cfg = load_config(main, with_report);
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().message ==
          f + ":4:11: job \"a\": command and handler are both set; a job has one\n" + f +
              ":5:1: job \"b\": params is set but handler is not\n" + f +
              ":12:10: job \"c\": params: must be a table, such as { region = \"eu\", days = 7 }");
  }
}

}  // namespace

TEST_CASE("jobs that differ only in name, schedule and params share one JobOptions", "[config]") {
  const std::string text =
      "[job.a]\ncron = \"0 1 * * *\"\nhandler = \"noop\"\nparams = { id = 1 }\n"
      "[job.b]\nevery = \"5m\"\nhandler = \"noop\"\nparams = { id = 2 }\n"
      "[job.c]\ncron = \"0 1 * * *\"\nhandler = \"noop\"\npriority = 5\n";
  skedd::Config base;
  base.daemon.handlers = {"noop"};
  auto jobs = skedd::parse_job_definitions(text, "api", base);
  REQUIRE(jobs);
  REQUIRE(jobs->size() == 3);
  const auto& a = (*jobs)[0];
  const auto& b = (*jobs)[1];
  const auto& c = (*jobs)[2];
  CHECK(a.options.shares_with(b.options));
  CHECK_FALSE(a.options.shares_with(c.options));
  CHECK(c.options->priority == 5);
  CHECK(a.params != b.params);

  // Editing one copy's options leaves the others alone (copy on write).
  skedd::JobSpec edited = a;
  edited.options.edit().priority = 9;
  CHECK(a.options->priority == 0);
  CHECK(b.options->priority == 0);
  CHECK_FALSE(edited.options.shares_with(a.options));
  CHECK_FALSE(skedd::same_definition(edited, a));
}

TEST_CASE("jobs with the same recurring schedule share it, one-shots and other zones do not",
          "[config]") {
  const std::string text =
      "[job.a]\ncron = \"0 1 * * *\"\nhandler = \"noop\"\n"
      "[job.b]\ncron = \"0 1 * * *\"\nhandler = \"noop\"\npriority = 5\n"
      "[job.c]\ncron = \"0 1 * * *\"\ntimezone = \"Europe/Berlin\"\nhandler = \"noop\"\n"
      "[job.d]\ncron = \"0 1 * * *\"\ndst_skipped = \"skip\"\nhandler = \"noop\"\n"
      "[job.e]\nevery = \"5m\"\nhandler = \"noop\"\n"
      "[job.f]\nevery = \"5m\"\nhandler = \"noop\"\n"
      "[job.g]\nat = \"2030-01-01T00:00:00Z\"\nhandler = \"noop\"\n"
      "[job.h]\nat = \"2030-01-01T00:00:00Z\"\nhandler = \"noop\"\n";
  skedd::Config base;
  base.daemon.handlers = {"noop"};
  auto jobs = skedd::parse_job_definitions(text, "api", base);
  REQUIRE(jobs);
  REQUIRE(jobs->size() == 8);
  const auto& j = *jobs;
  CHECK(j[0].schedule.shares_with(j[1].schedule));
  CHECK_FALSE(j[0].schedule.shares_with(j[2].schedule));  // another zone
  CHECK(j[2].schedule->is_cron());
  CHECK_FALSE(j[0].schedule.shares_with(j[3].schedule));  // another DST policy
  CHECK(std::get<skedd::CronSchedule>(j[3].schedule->kind).spec.dst_skipped() ==
        skedd::DstSkipped::kSkip);
  CHECK(j[4].schedule.shares_with(j[5].schedule));
  CHECK_FALSE(j[6].schedule.shares_with(j[7].schedule));
  CHECK(j[6].schedule->text == j[7].schedule->text);
  // Every job still fires on its own schedule.
  const skedd::Instant t0 = skedd::parse_rfc3339("2026-06-01T00:00:00Z").value();
  CHECK(j[0].schedule->next_after(t0, t0)->at ==
        skedd::parse_rfc3339("2026-06-01T01:00:00Z").value());
  CHECK(j[2].schedule->next_after(t0, t0)->at ==
        skedd::parse_rfc3339("2026-06-02T01:00:00+02:00").value());
}

TEST_CASE("the bounds on users read, default and are range-checked", "[config]") {
  TempDir dir;
  dir.write("jobs.d/none.toml", "");
  const Config defaults = load_ok(dir.write("skedd.toml", "[daemon]\nmax_concurrent_runs = 10\n"));
  CHECK(defaults.daemon.runs_per_user() == 2);  // max(1, 10 / 4)
  CHECK_FALSE(defaults.daemon.allow_user_handlers);
  CHECK(defaults.daemon.max_log_size == 64u << 20);
  CHECK(defaults.daemon.max_jobs_per_user == 1000);
  CHECK(defaults.daemon.max_definition_size == 64u << 10);
  CHECK(defaults.daemon.max_connections == 256);
  CHECK(defaults.daemon.max_connections_per_user == 32);
  CHECK(defaults.store.keep_versions == 10);
  CHECK(defaults.store.busy_timeout == std::chrono::seconds(5));
  CHECK(load_ok(dir.write("skedd.toml", "[daemon]\nmax_concurrent_runs = 2\n"))
            .daemon.runs_per_user() == 1);

  const Config set = load_ok(dir.write(
      "skedd.toml",
      "[daemon]\nmax_runs_per_user = 3\nallow_user_handlers = true\nmax_log_size = \"1M\"\n"
      "max_jobs_per_user = 5\nmax_definition_size = 2048\nmax_connections = 64\n"
      "max_connections_per_user = 4\n[store]\nkeep_versions = 2\nbusy_timeout = \"30s\"\n"));
  CHECK(set.daemon.runs_per_user() == 3);
  CHECK(set.daemon.allow_user_handlers);
  CHECK(set.daemon.max_log_size == 1u << 20);
  CHECK(set.daemon.max_jobs_per_user == 5);
  CHECK(set.daemon.max_definition_size == 2048u);
  CHECK(set.daemon.max_connections == 64);
  CHECK(set.daemon.max_connections_per_user == 4);
  CHECK(set.store.keep_versions == 2);
  CHECK(set.store.busy_timeout == std::chrono::seconds(30));

  const std::string bad = dir.write("skedd.toml",
                                    "[daemon]\nmax_log_size = \"1K\"\n"
                                    "max_connections = 8\n[store]\nkeep_versions = 0\n"
                                    "busy_timeout = \"11m\"\n");
  const auto refused = skedd::load_config(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("max_log_size") != std::string::npos);
  CHECK(refused.error().message.find("max_connections: must be an integer from 32 to 100000") !=
        std::string::npos);
  CHECK(refused.error().message.find("keep_versions: must be an integer from 1 to 1000000") !=
        std::string::npos);
  CHECK(refused.error().message.find(":6:16: store.busy_timeout: must be at most \"10m\"") !=
        std::string::npos);
}

TEST_CASE("HTTP is off by default, and [http] listen is read and checked", "[config]") {
  TempDir dir;
  CHECK_FALSE(load_ok(dir.write("skedd.toml", kPlainMain)).http.enabled());
  const Config tcp = load_ok(dir.write("skedd.toml", std::string(kPlainMain) +
                                                         "[http]\nlisten = \"127.0.0.1:9470\"\n"
                                                         "[http.tokens]\nroot = \"/etc/t\"\n"));
  CHECK(tcp.http.host == "127.0.0.1");
  CHECK(tcp.http.port == 9470);
  CHECK(tcp.http.tokens.at("root") == "/etc/t");
  const Config v6 =
      load_ok(dir.write("skedd.toml", std::string(kPlainMain) + "[http]\nlisten = \"[::1]:0\"\n"));
  CHECK(v6.http.host == "::1");
  const Config unix_socket = load_ok(dir.write(
      "skedd.toml", std::string(kPlainMain) + "[http]\nlisten = \"/run/skedd/http.sock\"\n"));
  CHECK(unix_socket.http.unix_path == "/run/skedd/http.sock");
  const auto error_of = [&](const std::string& http) {
    const std::string main = dir.write("skedd.toml", std::string(kPlainMain) + "[http]\n" + http);
    return load_error(main).substr(main.size());
  };
  CHECK(error_of("listen = \"0.0.0.0:9470\"\n") ==
        ":4:10: http.listen: \"0.0.0.0\" is not a loopback address: set http.allow_remote = "
        "true to serve other machines (only with tokens and a firewall; skedd does not speak "
        "TLS)");
  CHECK(error_of("listen = \"example.com:80\"\n") ==
        ":4:10: http.listen: the host must be an IP address or localhost (\"example.com\" is "
        "not; an IPv6 address goes in brackets)");
  CHECK(error_of("listen = \"127.0.0.1:70000\"\n") ==
        ":4:10: http.listen: the port must be a number from 0 to 65535");
  CHECK(error_of("listen = \"9470\"\n") ==
        ":4:10: http.listen: must be HOST:PORT (such as \"127.0.0.1:9470\") or an absolute Unix "
        "socket path");
  CHECK(error_of("listen = \"127.0.0.1:1\"\n[http.tokens]\nalice = \"token\"\n") ==
        ":6:9: http.tokens.alice: must be the absolute path of a token file");
  CHECK(error_of("lisen = \"127.0.0.1:1\"\n") ==
        ":4:1: unknown key \"lisen\" in [http] (did you mean listen?)");
  CHECK(load_ok(dir.write("skedd.toml", std::string(kPlainMain) +
                                            "[http]\nlisten = \"0.0.0.0:9470\"\n"
                                            "allow_remote = true\n"))
            .http.host == "0.0.0.0");
}

TEST_CASE("stall_timeout is at least 1s, and the success deadline keys are durations", "[config]") {
  TempDir dir;
  CHECK(job_file_error(dir,
                       "[job.x]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"
                       "stall_timeout = \"500ms\"\n")
            .ends_with("jobs.d/job.toml:4:17: job \"x\": stall_timeout: must be at least 1s "
                       "(output is looked at once a second)"));
  const std::string main = dir.write("skedd.toml", kPlainMain);
  dir.write("jobs.d/job.toml",
            "[job.x]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\nstall_timeout = \"2m\"\n"
            "on_stall_kill = true\nexpect_duration = \"20m\"\nexpect_grace = \"1m\"\n");
  const Config cfg = load_ok(main);
  const skedd::JobOptions& o = *job_named(cfg, "x").options;
  CHECK(o.stall_timeout == std::chrono::minutes(2));
  CHECK(o.on_stall_kill);
  CHECK(o.expect_duration == std::chrono::minutes(20));
  CHECK(o.expect_grace == std::chrono::minutes(1));
}

TEST_CASE("hooks are commands, may come from [defaults], and hook_timeout is at least 1s",
          "[config]") {
  TempDir dir;
  CHECK(job_file_error(dir,
                       "[job.x]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"
                       "on_failure = 7\n")
            .ends_with("jobs.d/job.toml:4:14: job \"x\": on_failure: must be an argv array such "
                       "as [\"/usr/bin/backup\", \"--all\"] or a shell string"));
  CHECK(job_file_error(dir,
                       "[job.x]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"
                       "hook_timeout = \"0s\"\n")
            .ends_with("jobs.d/job.toml:4:16: job \"x\": hook_timeout: must be at least 1s"));
  const std::string main = dir.write(
      "skedd.toml", std::string(kPlainMain) + "[defaults]\non_missed = \"echo missed\"\n");
  dir.write("jobs.d/job.toml",
            "[job.x]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"
            "on_failure = [\"/usr/local/bin/page\", \"--urgent\"]\nhook_timeout = \"30s\"\n");
  const Config cfg = load_ok(main);
  const skedd::JobOptions& o = *job_named(cfg, "x").options;
  const auto failure = static_cast<std::size_t>(skedd::HookKind::kFailure);
  const auto missed = static_cast<std::size_t>(skedd::HookKind::kMissed);
  CHECK(o.hooks[failure] == std::vector<std::string>{"/usr/local/bin/page", "--urgent"});
  CHECK_FALSE(o.hook_shell[failure]);
  CHECK(o.hooks[missed] == std::vector<std::string>{"/bin/sh", "-c", "echo missed"});
  CHECK(o.hook_shell[missed]);
  CHECK(o.hooks[static_cast<std::size_t>(skedd::HookKind::kSuccess)].empty());
  CHECK(o.hook_timeout == std::chrono::seconds(30));
}

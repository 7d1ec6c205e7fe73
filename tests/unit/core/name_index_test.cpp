#include "runtime/name_index.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/api_jobs.h"

namespace {

using skedd::JobId;

}  // namespace

TEST_CASE("name index finds, replaces and forgets ids by their names", "[name_index]") {
  std::vector<std::string> names = {"backup", "report", "cleanup", "backup"};
  skedd::NameIndex<> index([&](JobId id) -> std::string_view { return names[id.value]; });
  CHECK_FALSE(index.find("backup"));
  index.assign(JobId{0});
  index.assign(JobId{1});
  index.assign(JobId{2});
  CHECK(index.size() == 3);
  CHECK(index.find("report") == JobId{1});
  index.assign(JobId{3});  // "backup" again: replaces id 0
  CHECK(index.size() == 3);
  CHECK(index.find("backup") == JobId{3});
  index.erase("report");
  index.erase("report");  // no effect
  index.erase("nothing");
  CHECK(index.size() == 2);
  CHECK_FALSE(index.contains("report"));
  CHECK(index.contains("cleanup"));
}

TEST_CASE("name index agrees with a std::map under random assigns and erases", "[name_index]") {
  // Few distinct names over many slots: long probe runs, so erasing must shift entries back.
  // Grown by doubling from its first 16 slots, or sized by reserve() to 1,429 (no power of
  // two), so that probe runs wrap around at either end.
  const std::size_t reserved = GENERATE(0, 1000);
  std::vector<std::string> names;
  skedd::NameIndex<> index([&](JobId id) -> std::string_view { return names[id.value]; });
  index.reserve(reserved);
  std::map<std::string, JobId> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 50000; ++step) {
    const std::string name = "job" + std::to_string(rng() % 700);
    if (rng() % 3 != 0) {
      const JobId id{static_cast<std::uint32_t>(names.size())};
      names.push_back(name);
      index.assign(id);
      model[name] = id;
    } else {
      index.erase(name);
      model.erase(name);
    }
    if (step % 97 == 0) {
      REQUIRE(index.size() == model.size());
      for (const auto& [n, id] : model) REQUIRE(index.find(n) == id);
      REQUIRE(index.ids().size() == model.size());
    }
  }
}

TEST_CASE("API jobs are found by name, replaced, removed, and their entries reused",
          "[name_index]") {
  const auto spec = [](const std::string& name) {
    auto s = std::make_shared<skedd::JobSpec>();
    s->name = name;
    return std::shared_ptr<const skedd::JobSpec>(s);
  };
  skedd::ApiJobs jobs;
  jobs.put({spec("a"), 1});
  jobs.put({spec("b"), 1});
  jobs.put({spec("a"), 2});  // replaces
  REQUIRE(jobs.find("a") != nullptr);
  CHECK(jobs.find("a")->version == 2);
  CHECK(jobs.size() == 2);
  jobs.erase("a");
  CHECK(jobs.find("a") == nullptr);
  CHECK_FALSE(jobs.contains("a"));
  jobs.put({spec("c"), 5});  // takes the freed entry
  CHECK(jobs.size() == 2);
  std::vector<std::string> seen;
  for (const skedd::ApiJob& job : jobs.entries()) {
    if (job.spec) seen.push_back(job.spec->name);
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{"b", "c"});
  CHECK(jobs.find("c")->version == 5);
  CHECK(jobs.find("b")->version == 1);
}

TEST_CASE("name index keeps its ids when room is made for more", "[name_index]") {
  std::vector<std::string> names;
  skedd::NameIndex<> index([&](JobId id) -> std::string_view { return names[id.value]; });
  index.reserve(0);
  const auto add = [&](int n) {
    for (int i = 0; i < n; ++i) {
      names.push_back("job" + std::to_string(names.size()));
      index.assign(JobId{static_cast<std::uint32_t>(names.size() - 1)});
    }
  };
  add(100);
  index.reserve(5000);  // rehashes the 100 into the larger table
  add(4900);
  index.reserve(10);  // never shrinks
  REQUIRE(index.size() == 5000);
  for (std::uint32_t i = 0; i < 5000; ++i) REQUIRE(index.find(names[i]) == JobId{i});
  CHECK_FALSE(index.contains("job5000"));
  index.erase("job42");
  CHECK_FALSE(index.contains("job42"));
  CHECK(index.find("job43") == JobId{43});
}

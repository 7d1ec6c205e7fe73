// A definition's tree: what it holds comes back as parsed, a job read from it is the job read
// from its text, and a tree that does not read back leaves the text to be parsed.
#include <string>

#include <catch2/catch.hpp>

#include "config/definition_tree.h"
#include "config/diagnostics.h"
#include "skedd/config/config.h"

namespace {

using skedd::config::decode_tree;
using skedd::config::encode_tree;

// Every kind of TOML value, keys out of name order, and tables both ways.
constexpr const char* kEveryKind = R"([job.zeta]
cron = "0 3 * * *"
handler = "report"
priority = -7
soft_timeout = "90s"
params = { zz = 1, aa = -9223372036854775807, pi = 3.25, yes = true, no = false, day = 2026-03-08, at = 07:30:15.125, local = 2026-03-08T07:30:00, utc = 2026-03-08T07:30:00Z, east = 2026-03-08T07:30:00+05:45, west = 2026-03-08T07:30:00-03:00, list = [1, "two", [3.5, false], { k = "v" }], nested = { b = { c = "deep" } }, text = "tab\tquote\"nul-free \u00e9" }
[job.zeta.env]
ZED = "last"
ALPHA = "first"
)";

skedd::Config base_with(std::initializer_list<const char*> handlers) {
  skedd::Config base;
  for (const char* h : handlers) base.daemon.handlers.insert(h);
  return base;
}

std::vector<std::string> keys_in_file_order(const toml::table& t) {
  std::vector<std::string> out;
  for (const auto& entry : skedd::config::in_file_order(t)) out.emplace_back(entry.key.str());
  return out;
}

}  // namespace

TEST_CASE("a tree reads back every value it was made of, keys in their file order", "[config]") {
  const toml::table parsed = toml::parse(kEveryKind);
  const std::string tree = encode_tree(parsed);
  const std::optional<toml::table> back = decode_tree(tree);
  REQUIRE(back);
  CHECK(*back == parsed);
  const toml::table& zeta = *(*back)["job"]["zeta"].as_table();
  CHECK(keys_in_file_order(zeta) ==
        std::vector<std::string>{"cron", "handler", "priority", "soft_timeout", "params", "env"});
  CHECK(keys_in_file_order(*zeta["env"].as_table()) == std::vector<std::string>{"ZED", "ALPHA"});
  // The [job.zeta] table's key carries the header's place: where its job is defined.
  const toml::table& jobs = *(*back)["job"].as_table();
  const auto key = jobs.find("zeta");
  REQUIRE(key != jobs.end());
  CHECK(key->first.source().begin.line == 1);
  CHECK(key->first.source().begin.column == 1);
}

TEST_CASE("a job read from its definition's tree is the job read from its text", "[config]") {
  const skedd::Config base = base_with({"report"});
  const std::string tree = skedd::definition_tree(kEveryKind);
  REQUIRE_FALSE(tree.empty());
  auto from_text = skedd::parse_job_definition(kEveryKind, "api", base);
  auto from_tree = skedd::parse_job_definition(kEveryKind, tree, "api", base);
  REQUIRE(from_text);
  REQUIRE(from_tree);
  CHECK(skedd::same_definition(*from_text, *from_tree));
  CHECK(from_tree->name == "zeta");
  CHECK(from_tree->params == from_text->params);
  CHECK(from_tree->options->env == from_text->options->env);
  CHECK(from_tree->defined_at.to_string() == from_text->defined_at.to_string());
  CHECK(from_tree->options->priority == -7);
}

TEST_CASE("a tree that does not read back leaves the job to its text", "[config]") {
  const skedd::Config base = base_with({"report"});
  const std::string tree = skedd::definition_tree(kEveryKind);
  // Cut short at every length, and with a byte past the end: never read, never a crash.
  for (std::size_t n = 0; n < tree.size(); ++n) {
    INFO("cut at " << n);
    CHECK_FALSE(decode_tree(std::string_view(tree).substr(0, n)));
    auto job = skedd::parse_job_definition(kEveryKind, tree.substr(0, n), "api", base);
    REQUIRE(job);
    CHECK(job->name == "zeta");
  }
  CHECK_FALSE(decode_tree(tree + "x"));
  std::string other_version = tree;
  other_version[0] = 2;
  CHECK_FALSE(decode_tree(other_version));
  // A tree whose one table holds a key twice is not one encode_tree() wrote.
  toml::table one;
  one.insert("k", 1);
  std::string twice = encode_tree(one);
  REQUIRE(twice.size() > 2);
  twice[1] = 2;              // the entry count
  twice += twice.substr(2);  // the same entry again
  CHECK_FALSE(decode_tree(twice));
  CHECK(skedd::definition_tree("not = [valid").empty());
}

TEST_CASE("fuzz tree-crash-f0a2c373: tables nested past the reader's depth get no tree",
          "[config]") {
  // A dotted key of 70 parts was encoded 70 tables deep, and the reader, which stops at 64,
  // refused what the writer wrote. Now none is written, and the job is read from its text.
  std::string key = "[job.deep]\nhandler = \"report\"\nevery = \"1m\"\nparams.p";
  for (int i = 0; i < 70; ++i) key += ".p";
  const std::string text = key + " = 1\n";
  const skedd::Config base = base_with({"report"});
  CHECK(skedd::definition_tree(text).empty());
  toml::table shallow;
  shallow.insert("k", toml::table{{"k", 1}});
  CHECK(decode_tree(encode_tree(shallow)) == shallow);
  auto from_text = skedd::parse_job_definition(text, "api", base);
  auto from_tree = skedd::parse_job_definition(text, skedd::definition_tree(text), "api", base);
  REQUIRE(from_text.ok());
  REQUIRE(from_tree.ok());
  CHECK(skedd::same_definition(*from_text, *from_tree));
}

TEST_CASE("a job whose tree reads back but is not valid has its text's errors", "[config]") {
  // The handler is gone since the job was recorded: the error names the line and column.
  const std::string text = "[job.gone]\ncron = \"0 3 * * *\"\nhandler = \"report\"\n";
  const std::string tree = skedd::definition_tree(text);
  const skedd::Config base = base_with({"other"});
  auto from_tree = skedd::parse_job_definition(text, tree, "api", base);
  auto from_text = skedd::parse_job_definition(text, "api", base);
  REQUIRE_FALSE(from_tree);
  REQUIRE_FALSE(from_text);
  CHECK(from_tree.error().message == from_text.error().message);
  CHECK(from_tree.error().message.find("api:3:") == 0);
}

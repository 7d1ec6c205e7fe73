// "Did you mean": the edit distance and the choice of the nearest name.
#include <catch2/catch.hpp>

#include "util/suggest.h"

TEST_CASE("edit distance counts insertions, deletions, substitutions and swaps", "[util]") {
  using skedd::edit_distance;
  CHECK(edit_distance("list", "list", 3) == 0);
  CHECK(edit_distance("lsit", "list", 3) == 1);  // a swap of neighbours is one edit
  CHECK(edit_distance("lis", "list", 3) == 1);
  CHECK(edit_distance("lists", "list", 3) == 1);
  CHECK(edit_distance("lost", "list", 3) == 1);
  CHECK(edit_distance("kitten", "sitting", 5) == 3);
  CHECK(edit_distance("", "abc", 5) == 3);
  // Beyond the cap: cap + 1, however far.
  CHECK(edit_distance("abcdef", "uvwxyz", 2) == 3);
  CHECK(edit_distance("a", "abcdefgh", 2) == 3);
}

TEST_CASE("a suggestion is the nearest name within a third of the typed length", "[util]") {
  skedd::Suggestion s("hearbeat");
  for (const char* name : {"backup", "heartbeats", "heartbeat", "report"}) s.offer(name);
  CHECK(s.best() == "heartbeat");
  CHECK(s.hint() == " (did you mean heartbeat?)");

  skedd::Suggestion far("zzz");
  far.offer("list");
  far.offer("zzz");  // the typed name itself is never suggested
  CHECK_FALSE(far.best().has_value());
  CHECK(far.hint().empty());

  skedd::Suggestion tie("cat");  // one edit from both: the first offered
  tie.offer("cut");
  tie.offer("bat");
  CHECK(tie.best() == "cut");
}

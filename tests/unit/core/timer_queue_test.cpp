#include "skedd/core/timer_queue.h"

#include <algorithm>
#include <map>
#include <random>
#include <tuple>

#include <catch2/catch.hpp>

namespace {

using Queue = skedd::TimerQueue<long, int>;

std::vector<std::uint64_t> keys_of(const std::vector<Queue::Entry>& entries) {
  std::vector<std::uint64_t> keys;
  for (const auto& e : entries) keys.push_back(e.key);
  return keys;
}

}  // namespace

TEST_CASE("timer queue pops by due, then higher priority, then push order", "[timer_queue]") {
  Queue q(100);
  q.push(1, 20, 0, 10);
  q.push(2, 10, 0, 20);
  q.push(3, 10, 5, 30);
  q.push(4, 10, 0, 40);
  q.push(1000, 5, 0, 50);  // a sparse key
  CHECK(q.next_deadline() == 5);
  CHECK(q.size() == 5);
  const auto due = q.pop_due(10);
  CHECK(keys_of(due) == std::vector<std::uint64_t>{1000, 3, 2, 4});
  CHECK(due[1].payload == 30);
  CHECK(q.size() == 1);
  CHECK(q.contains(1));
  CHECK_FALSE(q.contains(2));
  CHECK(q.next_deadline() == 20);
}

TEST_CASE("timer queue replaces an entry pushed again under its key and removes by key",
          "[timer_queue]") {
  Queue q(100);
  q.push(7, 30, 0, 1);
  q.push(8, 40, 0, 2);
  q.push(7, 50, 0, 3);
  REQUIRE(q.find(7) != nullptr);
  CHECK(q.find(7)->due == 50);
  CHECK(q.find(7)->payload == 3);
  CHECK(q.size() == 2);
  q.remove(8);
  q.remove(8);    // no effect
  q.remove(999);  // unknown key: no effect
  CHECK(q.size() == 1);
  CHECK(q.next_deadline() == 50);
  CHECK(keys_of(q.pop_due(100)) == std::vector<std::uint64_t>{7});
  CHECK(q.empty());
  CHECK_FALSE(q.next_deadline());
}

TEST_CASE("timer queue agrees with an ordered model under random pushes, removes and pops",
          "[timer_queue]") {
  std::mt19937_64 rng(42);
  Queue q(64);  // keys below 64 dense, the rest in the hash map
  std::map<std::uint64_t, std::tuple<long, int, std::uint64_t>> model;  // key -> due, prio, seq
  std::uint64_t seq = 0;
  long now = 0;
  for (int step = 0; step < 20000; ++step) {
    const std::uint64_t key = rng() % 128;
    switch (rng() % 4) {
      case 0:
      case 1: {
        const long due = now + static_cast<long>(rng() % 50);
        const int prio = static_cast<int>(rng() % 3);
        q.push(key, due, prio, static_cast<int>(key));
        model[key] = {due, prio, seq++};
        break;
      }
      case 2:
        q.remove(key);
        model.erase(key);
        break;
      default: {
        now += static_cast<long>(rng() % 10);
        std::vector<std::pair<std::tuple<long, int, std::uint64_t>, std::uint64_t>> expected;
        for (const auto& [k, v] : model) {
          if (std::get<0>(v) <= now)
            expected.push_back({{std::get<0>(v), -std::get<1>(v), std::get<2>(v)}, k});
        }
        std::sort(expected.begin(), expected.end());
        std::vector<std::uint64_t> want;
        for (const auto& [order, k] : expected) {
          want.push_back(k);
          model.erase(k);
        }
        REQUIRE(keys_of(q.pop_due(now)) == want);
      }
    }
    REQUIRE(q.size() == model.size());
  }
}

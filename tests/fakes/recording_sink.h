// An EventSink that keeps every event, for tests to look at what the runtime said.
#pragma once

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "skedd/runtime/events.h"

namespace skedd::test {

/// An event as kept: Event only refers to its fields.
struct Recorded {
  EventKind kind;
  Severity severity;
  nlohmann::json fields;
};

class RecordingSink final : public EventSink {
 public:
  bool wants(EventKind, Severity severity) const override { return severity >= min_; }
  void emit(const Event& event) override {
    events_.push_back(Recorded{event.kind, event.severity, event.fields});
  }

  /// Debug events are left out unless asked for.
  void set_min(Severity min) { min_ = min; }
  const std::vector<Recorded>& events() const { return events_; }
  /// The events of `kind`, in order.
  std::vector<Recorded> of(EventKind kind) const {
    std::vector<Recorded> out;
    std::copy_if(events_.begin(), events_.end(), std::back_inserter(out),
                 [kind](const Recorded& e) { return e.kind == kind; });
    return out;
  }
  std::size_t count(EventKind kind) const { return of(kind).size(); }
  /// The events' names in order ("run_started", ...), for a failing test's message.
  std::string names() const {
    std::string out;
    for (const Recorded& e : events_) {
      if (!out.empty()) out += ' ';
      out += event_name(e.kind);
    }
    return out;
  }
  void clear() { events_.clear(); }

 private:
  Severity min_ = Severity::kInfo;
  std::vector<Recorded> events_;
};

}  // namespace skedd::test

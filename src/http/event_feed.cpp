#include "http/event_feed.h"

#include <algorithm>

#include "skedd/time/clock.h"
#include "skedd/time/timestamp.h"

namespace skedd::http {

void EventFeed::subscribe(Subscriber subscriber) {
  subscriber.stream->push(": skedd events\n\n");
  subscribers_.push_back(std::move(subscriber));
}

void EventFeed::prune() {
  std::erase_if(subscribers_, [](const Subscriber& s) { return s.stream->gone(); });
}

std::size_t EventFeed::subscribers() {
  prune();
  return subscribers_.size();
}

void EventFeed::keepalive() {
  prune();
  for (const Subscriber& s : subscribers_) s.stream->push(": keepalive\n\n");
}

bool EventFeed::wants(EventKind kind, Severity severity) const {
  // Debug events (some at the rate of fires) are the log's only.
  return next_.wants(kind, severity) || (!subscribers_.empty() && severity >= Severity::kInfo);
}

std::string EventFeed::format(std::uint64_t id, const Event& event, const std::string& time) {
  nlohmann::json line = {
      {"time", time}, {"level", severity_name(event.severity)}, {"event", event_name(event.kind)}};
  if (event.fields.is_object()) line.update(event.fields);
  return "id: " + std::to_string(id) + "\nevent: " + std::string(event_name(event.kind)) +
         "\ndata: " + line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

void EventFeed::emit(const Event& event) {
  if (next_.wants(event.kind, event.severity)) next_.emit(event);
  if (subscribers_.empty() || event.severity < Severity::kInfo ||
      !loop_.get_executor().running_in_this_thread()) {
    return;
  }
  std::string text;  // formatted once, for the first client that sees it
  bool dropped = false;
  for (Subscriber& s : subscribers_) {
    if (s.stream->gone() || !s.sees(event.fields)) continue;
    if (text.empty())
      text = format(next_id_++, event, format_rfc3339_utc(SystemClock().wall_now()));
    if (s.stream->push(text)) continue;
    s.stream->finish("event: overflow\ndata: {\"error\":\"this client fell " +
                     std::to_string(kEventStreamQueue / 1024) +
                     " KiB behind the events; connect again\"}\n\n");
    dropped = true;
  }
  if (dropped) prune();
}

}  // namespace skedd::http

// GET /api/v1/events: the runtime's events as Server-Sent Events, each client seeing only
// the events its caller may see, then on to the next sink (the metrics, the log) as before.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/response_stream.h"
#include "skedd/runtime/events.h"
#include "util/asio.h"

namespace skedd::http {

/// What one event stream holds queued at most; a client that falls this far behind is told
/// so (an `overflow` event) and its stream ends. It may connect again.
constexpr std::size_t kEventStreamQueue = 256 * 1024;

class EventFeed final : public EventSink {
 public:
  /// Events are sent to clients only when emitted on `loop`'s thread (those of opening and
  /// closing the store, on another thread, go on to `next` only).
  EventFeed(EventSink& next, asio::io_context& loop) : next_(next), loop_(loop) {}

  struct Subscriber {
    std::shared_ptr<ResponseStream> stream;
    /// Whether this client sees an event with these fields (its caller's rule, its filter).
    std::function<bool(const nlohmann::json& fields)> sees;
  };
  /// Adds a client (loop thread). Its stream starts with a comment line.
  void subscribe(Subscriber subscriber);
  /// Clients still connected (loop thread; drops those gone).
  std::size_t subscribers();
  /// A comment line to every client, so that proxies keep the connection and a client that
  /// went away is seen; drops those gone (loop thread).
  void keepalive();

  bool wants(EventKind kind, Severity severity) const override;
  void emit(const Event& event) override;

  /// One event in the text/event-stream format: `id`, `event` (its name) and one `data` line
  /// of JSON with the fields as the JSON log writes them (time, level, event, ...).
  static std::string format(std::uint64_t id, const Event& event, const std::string& time);

 private:
  void prune();

  EventSink& next_;
  asio::io_context& loop_;
  std::vector<Subscriber> subscribers_;
  std::uint64_t next_id_ = 1;
};

}  // namespace skedd::http

// A response body written while it is produced (Server-Sent Events, a followed run log): the
// event loop pushes bytes, the HTTP server's thread writes them out as chunks. The queue is
// bounded: a client that reads too slowly is not allowed to make skedd hold its backlog.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace skedd::http {

class ResponseStream {
 public:
  /// `max_queued`: the bytes pushed and not yet taken by the server at most.
  explicit ResponseStream(std::size_t max_queued) : max_queued_(max_queued) {}

  // The producer's side (the event loop).

  /// Queues `bytes`. False, queueing nothing, when the client has gone, the stream has
  /// finished, or `bytes` would take the queue over its bound.
  bool push(std::string_view bytes);
  /// No more bytes: the response ends once the queue is written. `last` is queued first,
  /// over the bound if need be (a short line saying why the stream ends).
  void finish(std::string_view last = {});
  /// Nothing more is taken: the client has gone (or the server stopped), or the stream has
  /// finished.
  bool gone() const;
  std::size_t queued() const;

  // The server's side (its own thread).

  /// `wake` is called (on the producer's thread) when bytes are pushed or the stream finishes;
  /// called at once when some are queued already.
  void set_wake(std::function<void()> wake);
  /// Takes what is queued; `finished` tells whether nothing more will come after it.
  std::string take(bool& finished);
  /// The client has gone: the producer sees gone() and stops.
  void close();

 private:
  void wake();

  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::string queue_;
  bool finished_ = false;
  bool gone_ = false;
  std::function<void()> wake_;
};

}  // namespace skedd::http

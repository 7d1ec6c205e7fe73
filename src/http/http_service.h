// What each HTTP request does: the routes of the HTTP API, /metrics and /readyz, answered on
// the event loop's thread through the control service (the same requests, authorization and
// error codes as the control socket). No sockets here: the server (http_server.h) parses,
// bounds and identifies; this maps a request to a control request and its reply to a status.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/control.h"
#include "control/control_server.h"
#include "http/event_feed.h"
#include "http/metrics.h"
#include "http/response_stream.h"
#include "skedd/config/config.h"
#include "util/asio.h"

#include <boost/asio/steady_timer.hpp>

namespace skedd::http {

struct HttpRequest {
  std::string method;  ///< GET, POST, PUT, DELETE, ...
  std::string path;    ///< percent-decoded, without the query
  std::map<std::string, std::string> query;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// When set, the body is written from this stream as it is produced (chunked; the
  /// connection closes after it) and `body` is ignored.
  std::shared_ptr<ResponseStream> stream = nullptr;
};

/// A request target split into its decoded path and query parameters; nullopt when it is not
/// an origin-form target ("/..."), or holds a bad percent escape or a NUL.
std::optional<std::pair<std::string, std::map<std::string, std::string>>> parse_target(
    std::string_view target);

/// The HTTP status of a control failure code.
int status_of(const std::string& code);

/// A JSON error body: {"error": {"code": ..., "message": ...}}.
HttpResponse error_response(int status, const std::string& code, const std::string& message);

/// Streamed responses (events, followed logs) open at a time at most; more are answered 503.
/// Users other than root together get all but the last kRootStreams of them, and each at
/// most kMaxStreamsPerUser: no user can take them all, nor lock root out.
constexpr std::size_t kMaxStreams = 32;
constexpr std::size_t kRootStreams = 4;
constexpr std::size_t kMaxStreamsPerUser = 8;
/// How often a followed log is read again; and what it may hold queued for a slow client.
constexpr std::chrono::milliseconds kFollowInterval{250};
constexpr std::size_t kFollowQueue = 256 * 1024;
/// How often an event stream gets a comment line (proxies keep it; a client gone is seen).
constexpr std::chrono::seconds kKeepalive{15};

class HttpService {
 public:
  /// `gate` holds a reply back until what its request wrote is committed (as on the socket).
  /// `feed`: where GET /api/v1/events subscribes (none: that path answers 404).
  HttpService(asio::io_context& io, Engine& engine, Store& store, Control& control,
              const Metrics* metrics, EventFeed* feed, HttpConfig config, ReplyGate gate,
              std::string version);

  /// Answers `request` from `caller` (nullopt: no credentials) by calling `done`, at once or
  /// after the store's commit. `loop_lag`: how long the request waited for the loop. Loop
  /// thread.
  void handle(const HttpRequest& request, const std::optional<Peer>& caller, double loop_lag,
              std::function<void(HttpResponse)> done);

  /// /readyz: 200, or 503 with why skedd is not ready (the store cannot commit, or it is
  /// draining). Loop thread; the server answers 503 itself when the loop does not call back.
  HttpResponse readiness();

  /// A new configuration's [http] settings (a reload); the listen address is kept.
  void set_config(HttpConfig config) { config_ = std::move(config); }

 private:
  /// The control request of an API route, or the response that refuses it.
  std::variant<control::Request, HttpResponse> api_request(const HttpRequest& request);
  HttpResponse metrics(const std::optional<Peer>& caller, double loop_lag);
  /// /ui and its pages and buttons.
  HttpResponse ui(const HttpRequest& request, const std::optional<Peer>& caller);
  /// trigger?wait=D: asks for run `run` every 200 ms until it has ended (200 with its record)
  /// or `until` (202 with `accepted`, the trigger's reply).
  void wait_for_end(RunId run, Peer caller, std::chrono::steady_clock::time_point until,
                    nlohmann::json accepted, std::function<void(HttpResponse)> done);

  /// GET /api/v1/events: a stream of the events `caller` may see (?job=NAME: that job's).
  HttpResponse events(const HttpRequest& request, const Peer& caller);
  /// log?follow=1: the log from `first` (the first read's reply) on, read again every
  /// kFollowInterval until the run has ended and all of its log is sent.
  HttpResponse follow(RunId run, const Peer& caller, const nlohmann::json& first);
  /// Pushes what `read` (a log reply) holds; ends the stream, or reads again.
  void follow_read(RunId run, const Peer& caller, const std::shared_ptr<ResponseStream>& stream,
                   const nlohmann::json& read);
  void follow_next(RunId run, Peer caller, std::uint64_t offset,
                   std::shared_ptr<ResponseStream> stream, std::chrono::milliseconds after);
  /// Whether `caller` may open another stream (kMaxStreams, kMaxStreamsPerUser), counting
  /// those still connected; the refusal when not.
  std::optional<HttpResponse> refuse_stream(const Peer& caller);
  /// Counts `stream` as `caller`'s until it is gone.
  void count_stream(const Peer& caller, const std::shared_ptr<ResponseStream>& stream) {
    streams_.push_back({caller.uid, stream});
  }
  void arm_keepalive();

  asio::io_context& io_;

  Engine& engine_;
  Store& store_;
  Control& control_;
  const Metrics* metrics_;
  EventFeed* feed_;
  struct Streaming {
    uid_t uid;
    std::weak_ptr<ResponseStream> stream;
  };
  std::vector<Streaming> streams_;                 // for refuse_stream(); gone ones pruned there
  std::unique_ptr<asio::steady_timer> keepalive_;  // while events are streamed
  HttpConfig config_;
  ReplyGate gate_;
  std::string version_;
  double started_at_;
};

}  // namespace skedd::http

// skedd-runhost: the parent of skedd's runs, which outlives skedd's restarts so that every
// run's exit status is known (see skedd(8), RUN HOST). It runs nothing of its own: it spawns
// what skedd asks, keeps each exit until skedd has recorded it, and delivers lines to runs.
// It serves only its own uid, on a socket in a directory of its own (0700).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "exec/host_protocol.h"
#include "skedd/exec/process_spawner.h"
#include "util/unique_fd.h"

namespace skedd::runhost {

struct RunHostOptions {
  std::string dir;    ///< STATE_DIR/runhost: the socket, the lock, the exit records
  int ready_fd = -1;  ///< written one byte (then closed) once the socket listens
  std::chrono::seconds idle_exit{60};  ///< no runs and no skedd for this long: the host exits
  std::string inherit;                 ///< a re-executed host's state file (see reexec())
};

class RunHost {
 public:
  explicit RunHost(boost::asio::io_context& io, RunHostOptions options);
  ~RunHost();
  RunHost(const RunHost&) = delete;
  RunHost& operator=(const RunHost&) = delete;

  /// Takes the directory's lock, reads the exit records and listens. An error (another host
  /// holds the lock, the directory is not private) ends the host.
  Status start();

 private:
  /// A running child: its start time, the run's control channel (held so that what the run
  /// writes while no skedd reads waits in the FIFO), and the write end of its input.
  struct Child {
    std::uint64_t start = 0;
    std::uint64_t run = 0;  ///< the run id it was spawned as (SKEDD_RUN_ID), 0 if none
    UniqueFd control;
    UniqueFd input;
  };
  /// An exit not yet acknowledged, with the control channel still held.
  struct Kept {
    std::uint64_t start = 0;
    std::uint64_t run = 0;
    ProcessExit exit;
    UniqueFd control;
  };

  Status listen();
  void accept();
  void read_client();
  /// Handles, in order, what the connected skedd sent before a new one replaces it.
  void drain_client();
  void handle(Message& m);
  void hello(const nlohmann::json& body);
  void spawn(Message& m);
  void ack(const nlohmann::json& body);
  void send_input(const nlohmann::json& body);
  void set_deadline(const nlohmann::json& body);
  void reexec(const nlohmann::json& body);
  void on_exit(pid_t pid, const ProcessExit& exit);
  void watch(pid_t pid);
  void watch_children();
  void reply(const nlohmann::json& body);
  void drop_client(const std::string& why);
  void check_idle();
  void maybe_exit();

  /// The records: "exit PID START CODE SIGNAL ENDED_US" ("-" for none) and "ack PID START",
  /// appended; rewritten with only what is kept when the host starts.
  Status load_records();
  void append_record(const std::string& line);
  Status write_inherit_file(const std::string& path);
  Status load_inherit_file();

  boost::asio::io_context& io_;
  RunHostOptions options_;
  PosixSpawner spawner_;
  UniqueFd lock_;
  UniqueFd records_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> listener_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> client_;
  std::map<pid_t, Child> children_;
  std::map<pid_t, Kept> kept_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer idle_;
  boost::asio::signal_set child_signal_;
  boost::asio::signal_set stop_signals_;
  bool stopping_ = false;  ///< skedd said stop: exit once the last run has ended
  /// skedd connections accepted since this host started (across a re-exec: since then). A
  /// skedd that finds the connection after its predecessor's knows this host got every
  /// request its predecessor sent (the hello's "connection").
  std::uint64_t connections_ = 0;
};

}  // namespace skedd::runhost

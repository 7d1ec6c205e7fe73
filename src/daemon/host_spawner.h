// skedd's side of the run host: a ProcessSpawner whose runs are the children of
// skedd-runhost, so that an exit that happens while skedd is down is kept and told to the
// next skedd. Without a host (it cannot be started, or died), runs are spawned and watched
// here as before, and runs of a dead host are adopted with unknown exits.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "exec/host_protocol.h"
#include "skedd/exec/process_spawner.h"

namespace skedd {

struct HostSettings {
  std::string dir;     ///< STATE_DIR/runhost
  std::string binary;  ///< skedd-runhost (next to skedd)
  std::chrono::seconds idle_exit{60};
};

class HostSpawner final : public ProcessSpawner {
 public:
  HostSpawner(boost::asio::io_context& io, rlimit run_nofile, HostSettings settings);
  ~HostSpawner() override;
  HostSpawner(const HostSpawner&) = delete;
  HostSpawner& operator=(const HostSpawner&) = delete;

  /// Connects to the host of the state dir, starting one when none runs, and learns what it
  /// kept; a host of another protocol version is asked to re-execute as `binary` first.
  /// An error leaves the spawner spawning runs itself (logged by the caller).
  Status connect();
  bool connected() const { return socket_ != nullptr; }
  /// The host's pid, while connected.
  pid_t host_pid() const { return host_pid_; }

  Result<pid_t> spawn(const SpawnRequest& request) override;
  /// Sends the request and returns: the host's answer is told when the loop reads it, so
  /// that the loop goes on while the host forks (the host answers in order).
  void spawn_async(const SpawnRequest& request, OnSpawned done) override;
  bool signal_group(pid_t pgid, int sig) override;
  Status watch_exit(pid_t pid, bool adopted, OnExit on_exit) override;
  void unwatch(pid_t pid) override;
  std::optional<std::uint64_t> start_time(pid_t pid) override;
  std::optional<std::uint64_t> spawned_start_time(pid_t pid) override;
  std::optional<pid_t> find_run(std::uint64_t run_id, const std::string& control_path) override;
  void reap_orphans() override;
  std::optional<ProcessExit> kept_exit(pid_t pid, std::uint64_t start) override;
  std::optional<std::pair<pid_t, std::uint64_t>> kept_run(std::uint64_t run_id) override;
  std::optional<HostSession> host_session() override;
  void release(pid_t pid, std::uint64_t start) override;
  Status send_input(pid_t pid, std::uint64_t start, const std::string& line) override;

  /// Asks the host to kill every run unless renewed within `in` (nullopt: no deadline).
  void set_deadline(std::optional<std::chrono::milliseconds> in);
  /// skedd stops its runs and exits: the host is to exit once they have ended.
  void stop_host();
  /// Exits kept for runs no record is left for (their end was committed but not
  /// acknowledged before a restart): acknowledged now.
  void release_unclaimed();

 private:
  struct Kept {
    std::uint64_t start = 0;
    ProcessExit exit;
    std::uint64_t run = 0;  ///< the run id it was spawned as, 0 when the host did not say
  };
  Status start_host();
  Status hello();
  /// Sends a request and waits for its answer (one of `answers`), keeping exits told meanwhile.
  Result<nlohmann::json> ask(const nlohmann::json& request, const std::vector<int>& fds,
                             std::initializer_list<const char*> answers);
  void read_async();
  /// Reads the exits told and not yet read (without waiting).
  void take_told();
  /// `from_loop`: read by read_async(), where a spawn's answer is told at once (so that its
  /// run watches its exit before the next message, which may be that exit, is read);
  /// elsewhere it is posted.
  void on_message(const nlohmann::json& body, bool from_loop = false);
  /// The answer to the oldest spawn_async() request.
  void answered(const nlohmann::json& body, bool from_loop);
  /// Reads messages until at most `left` spawn_async() requests are unanswered.
  void settle_spawns(std::size_t left);
  void lost(const std::string& why);

  boost::asio::io_context& io_;
  PosixSpawner local_;
  HostSettings settings_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
  pid_t host_pid_ = 0;
  /// Learnt at the hello; nullopt from a host that does not say, and once the host is lost
  /// (a reconnection is another session).
  std::optional<HostSession> session_;
  struct Hosted {
    std::uint64_t start = 0;
    std::uint64_t run = 0;  ///< the run id it was spawned as, 0 when the host did not say
  };
  /// The runs the host is parent of, by pid.
  std::map<pid_t, Hosted> hosted_;
  std::map<pid_t, OnExit> watchers_;
  std::map<pid_t, Kept> kept_;
  std::set<pid_t> claimed_;  ///< kept exits watch_exit() was asked for
  struct Spawning {
    std::uint64_t run = 0;  ///< the run id it is spawned as
    OnSpawned done;
  };
  /// spawn_async() requests sent and not yet answered, oldest first.
  std::deque<Spawning> spawning_;
  /// Spawned and answered, not yet watched: pid -> start. Its exit may be told before
  /// watch_exit() is asked for it (the answer was posted); it is then kept, matched by start.
  /// Erased by watch_exit() and unwatch().
  std::map<pid_t, std::uint64_t> unwatched_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace skedd

#include "daemon/host_spawner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <boost/asio/post.hpp>

#include "daemon/event_log.h"

namespace skedd {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using runhost::kRunHostProtocol;

// How long skedd waits for the host to answer a request, or to be ready once started.
constexpr int kAnswerTimeoutMs = 10'000;
constexpr int kReadyTimeoutMs = 5'000;
// spawn_async() requests sent and not yet answered, at most: a request is about 2 KB with its
// descriptors, so these and their answers stay far within a socket buffer (about 200 KB).
constexpr std::size_t kSpawnsInFlight = 32;

std::string error_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

Result<int> connect_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error::invalid_argument(path + ": too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::io(error_text("socket"));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::io(error_text(path));
  }
  // The host must be skedd's own user: a socket another user made is not its host.
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      peer.uid != ::geteuid()) {
    return Error::permission_denied(path + " is served by uid " + std::to_string(peer.uid));
  }
  ::fcntl(fd.get(), F_SETFL, O_NONBLOCK);
  return fd.release();
}

}  // namespace

HostSpawner::HostSpawner(asio::io_context& io, rlimit run_nofile, HostSettings settings)
    : io_(io), local_(io, run_nofile), settings_(std::move(settings)) {}

HostSpawner::~HostSpawner() = default;

Status HostSpawner::connect() {
  if (::mkdir(settings_.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error::io(error_text(settings_.dir));
  }
  struct stat st {};
  if (::lstat(settings_.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      st.st_uid != ::geteuid()) {
    return Error::permission_denied(settings_.dir + " is not a directory of skedd's user");
  }
  if ((st.st_mode & 077) != 0) ::chmod(settings_.dir.c_str(), 0700);
  auto fd = connect_socket(runhost::socket_path(settings_.dir));
  if (!fd) {
    if (Status started = start_host(); !started) return started;
    fd = connect_socket(runhost::socket_path(settings_.dir));
    if (!fd) return fd.error();
  }
  socket_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd.value());
  if (Status said = hello(); !said) {
    socket_.reset();
    return said;
  }
  read_async();
  return Ok{};
}

Status HostSpawner::start_host() {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return Error::io(error_text("pipe"));
  UniqueFd ready_read(ready[0]);
  UniqueFd ready_write(ready[1]);
  const std::string log = settings_.dir + "/host.log";
  UniqueFd log_fd(
      ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!log_fd.valid()) return Error::io(error_text(log));
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const std::string idle = std::to_string(settings_.idle_exit.count());
  const char* argv[] = {settings_.binary.c_str(),
                        "--dir",
                        settings_.dir.c_str(),
                        "--ready-fd",
                        "3",
                        "--idle-exit",
                        idle.c_str(),
                        nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) return Error::io(error_text("fork"));
  if (pid == 0) {
    // The child of a multi-threaded process: system calls only until exec.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE}) ::signal(sig, SIG_DFL);
    if (::dup2(null_fd.get(), 0) < 0 || ::dup2(log_fd.get(), 1) < 0 ||
        ::dup2(log_fd.get(), 2) < 0 || ::dup2(ready_write.get(), 3) < 0) {
      ::_exit(127);
    }
    ::close_range(4, ~0U, 0);
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ready_write.reset();
  pollfd p{ready_read.get(), POLLIN, 0};
  int polled;
  do {
    polled = ::poll(&p, 1, kReadyTimeoutMs);
  } while (polled < 0 && errno == EINTR);
  char byte = 0;
  if (polled == 1 && ::read(ready_read.get(), &byte, 1) == 1) {
    log_event(spdlog::level::info, "run_host_started",
              {{"pid", pid}, {"binary", settings_.binary}, {"log", log}});
    return Ok{};
  }
  // It exited (or hangs) without listening: its log says why.
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return Error::io("the run host " + settings_.binary + " did not start (see " + log + ")");
}

Status HostSpawner::hello() {
  for (int tries = 0;; ++tries) {
    auto answer = ask({{"op", "hello"}, {"version", kRunHostProtocol}}, {}, {"hello"});
    if (!answer) return answer.error();
    const int version = answer->value("version", 0);
    if (version == kRunHostProtocol) {
      host_pid_ = answer->value("pid", 0);
      session_.reset();
      const auto started = answer->value("started", std::uint64_t{0});
      const auto connection = answer->value("connection", std::uint64_t{0});
      if (started != 0 && connection != 0) session_ = HostSession{host_pid_, started, connection};
      hosted_.clear();
      for (const json& r : answer->value("runs", json::array())) {
        hosted_[r.value("pid", 0)] =
            Hosted{r.value("start", std::uint64_t{0}), r.value("run", std::uint64_t{0})};
      }
      for (const json& e : answer->value("exits", json::array())) {
        if (auto exit = runhost::decode_exit(e)) {
          kept_[e.value("pid", 0)] = Kept{e.value("start", std::uint64_t{0}), exit.value(),
                                          e.value("run", std::uint64_t{0})};
        }
      }
      log_event(spdlog::level::info, "run_host_connected",
                {{"pid", host_pid_},
                 {"protocol", version},
                 {"runs", hosted_.size()},
                 {"exits_kept", kept_.size()}});
      return Ok{};
    }
    if (tries > 0) {
      return Error::io("the run host speaks protocol " + std::to_string(version) +
                       " after re-executing, skedd " + std::to_string(kRunHostProtocol));
    }
    // An upgrade: the running host is asked to become the binary installed with this skedd,
    // keeping its runs (they stay its children across exec).
    log_event(spdlog::level::info, "run_host_upgrade",
              {{"pid", answer->value("pid", 0)},
               {"from_protocol", version},
               {"to_protocol", kRunHostProtocol},
               {"binary", settings_.binary}});
    (void)runhost::send_message(socket_->native_handle(),
                                {{"op", "reexec"}, {"path", settings_.binary}});
    socket_.reset();
    Result<int> fd = Error::io("the re-executed run host did not listen");
    for (int wait = 0; wait < 100 && !fd; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      fd = connect_socket(runhost::socket_path(settings_.dir));
    }
    if (!fd) return fd.error();
    socket_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd.value());
  }
}

Result<json> HostSpawner::ask(const json& request, const std::vector<int>& fds,
                              std::initializer_list<const char*> answers) {
  if (!socket_) return Error::io("no run host");
  if (Status sent = runhost::send_message(socket_->native_handle(), request, fds); !sent) {
    lost(sent.error().message);
    return sent.error();
  }
  for (;;) {
    auto got = runhost::await_message(socket_->native_handle(), kAnswerTimeoutMs);
    if (!got) {
      const Error error = got.error();
      lost(error.message);
      return error;
    }
    const std::string op = got->body["op"].get<std::string>();
    for (const char* a : answers) {
      if (op == a) return std::move(got->body);
    }
    on_message(got->body);  // an exit told while the answer was on its way
    if (!socket_) return Error::io("the run host went away");
  }
}

void HostSpawner::read_async() {
  socket_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [this, alive = std::weak_ptr<int>(alive_),
                       s = socket_.get()](const boost::system::error_code& ec) {
                        if (ec || !alive.lock() || socket_.get() != s) return;
                        for (;;) {
                          auto got = runhost::receive_message(socket_->native_handle());
                          if (!got) return lost(got.error().message);
                          if (!got.value()) break;
                          on_message(got.value()->body, true);
                          if (socket_.get() != s) return;
                        }
                        read_async();
                      });
}

void HostSpawner::on_message(const json& body, bool from_loop) {
  const std::string op = body.value("op", "");
  if (op == "spawned" || op == "spawn_failed") return answered(body, from_loop);
  if (op != "exit") return;  // a late answer to a request given up on
  const pid_t pid = body.value("pid", 0);
  const std::uint64_t start = body.value("start", std::uint64_t{0});
  auto exit = runhost::decode_exit(body);
  if (!exit) {
    log_event(spdlog::level::warn, "run_host_error", {{"error", exit.error().message}});
    return;
  }
  hosted_.erase(pid);
  kept_[pid] = Kept{start, exit.value(), body.value("run", std::uint64_t{0})};
  const auto it = watchers_.find(pid);
  if (it == watchers_.end()) return;
  OnExit on_exit = std::move(it->second);
  watchers_.erase(it);
  claimed_.insert(pid);
  // Told on the loop, never from inside spawn()'s wait for an answer.
  asio::post(io_,
             [alive = std::weak_ptr<int>(alive_), on_exit = std::move(on_exit), e = exit.value()] {
               if (alive.lock()) on_exit(e);
             });
}

void HostSpawner::answered(const json& body, bool from_loop) {
  if (spawning_.empty()) return;  // an answer to spawn(), whose ask() gave up on it
  Spawning request = std::move(spawning_.front());
  spawning_.pop_front();
  Result<pid_t> result = Error::io(body.value("error", "spawn failed"));
  if (body.value("op", "") == "spawned") {
    const pid_t pid = body.value("pid", 0);
    const auto start = body.value("start", std::uint64_t{0});
    hosted_[pid] = Hosted{start, request.run};
    unwatched_[pid] = start;
    result = pid;
  }
  if (from_loop) return request.done(std::move(result));
  asio::post(io_, [alive = std::weak_ptr<int>(alive_), done = std::move(request.done),
                   result = std::move(result)]() mutable {
    if (alive.lock()) done(std::move(result));
  });
}

void HostSpawner::settle_spawns(std::size_t left) {
  while (socket_ && spawning_.size() > left) {
    auto got = runhost::await_message(socket_->native_handle(), kAnswerTimeoutMs);
    if (!got) return lost(got.error().message);
    on_message(got->body);
  }
}

void HostSpawner::lost(const std::string& why) {
  if (!socket_) return;
  log_event(spdlog::level::warn, "run_host_lost",
            {{"pid", host_pid_},
             {"error", why},
             {"runs", watchers_.size()},
             {"effect",
              "its runs are adopted with unknown exits; new runs are spawned by skedd "
              "until a host is started again"}});
  session_.reset();
  boost::system::error_code ignored;
  socket_->close(ignored);
  asio::post(io_, [old = std::shared_ptr<asio::posix::stream_descriptor>(std::move(socket_))] {});
  hosted_.clear();
  unwatched_.clear();
  // Requests it did not answer: whether it spawned them is not known, and their descriptors
  // are closed, so they are not spawned here again; they failed to start.
  for (Spawning& request : std::exchange(spawning_, {})) {
    asio::post(io_, [alive = std::weak_ptr<int>(alive_), done = std::move(request.done), why] {
      if (alive.lock()) done(Error::io("the run host went away before it answered: " + why));
    });
  }
  // Its runs go on (reparented); their exits can only be seen now, not known.
  for (auto& [pid, on_exit] : std::exchange(watchers_, {})) {
    if (!local_.watch_exit(pid, true, on_exit)) {
      asio::post(io_, [alive = std::weak_ptr<int>(alive_), on_exit = std::move(on_exit)] {
        if (alive.lock()) on_exit(ProcessExit{});
      });
    }
  }
}

void HostSpawner::spawn_async(const SpawnRequest& request, OnSpawned done) {
  if (!socket_) {
    if (Status again = connect(); !again) return done(local_.spawn(request));
  }
  // Requests and answers in flight stay within both sockets' buffers, so that neither side
  // blocks sending while the other does.
  settle_spawns(kSpawnsInFlight - 1);
  if (!socket_) return done(local_.spawn(request));
  if (Status sent = runhost::send_message(socket_->native_handle(), runhost::encode_spawn(request),
                                          runhost::fds_of(request));
      !sent) {
    lost(sent.error().message);
    return done(local_.spawn(request));  // not sent: this run is skedd's
  }
  spawning_.push_back(Spawning{runhost::run_id_of(request), std::move(done)});
}

Result<pid_t> HostSpawner::spawn(const SpawnRequest& request) {
  settle_spawns(0);  // its answer must not be taken for an earlier request's
  if (!socket_) {
    if (Status again = connect(); !again) {
      return local_.spawn(request);
    }
  }
  auto answer =
      ask(runhost::encode_spawn(request), runhost::fds_of(request), {"spawned", "spawn_failed"});
  if (!answer) return local_.spawn(request);  // the host is gone: this run is skedd's
  if (answer->value("op", "") == "spawn_failed") {
    return Error::io(answer->value("error", "spawn failed"));
  }
  const pid_t pid = answer->value("pid", 0);
  hosted_[pid] = Hosted{answer->value("start", std::uint64_t{0}), runhost::run_id_of(request)};
  return pid;
}

bool HostSpawner::signal_group(pid_t pgid, int sig) {
  return local_.signal_group(pgid, sig);
}

Status HostSpawner::watch_exit(pid_t pid, bool adopted, OnExit on_exit) {
  // Only an adopted run's exit can have been kept, or that of a run spawned a moment ago whose
  // exit was told before its spawn's answer reached the supervisor: a run just spawned may
  // reuse the pid of one whose kept end is still to be released, so the start must match.
  const auto fresh = unwatched_.find(pid);
  const std::optional<std::uint64_t> fresh_start =
      fresh == unwatched_.end() ? std::nullopt : std::optional(fresh->second);
  if (fresh != unwatched_.end()) unwatched_.erase(fresh);
  const auto kept = kept_.find(pid);
  if (kept != kept_.end() && (adopted || kept->second.start == fresh_start)) {
    claimed_.insert(pid);
    asio::post(io_, [alive = std::weak_ptr<int>(alive_), on_exit = std::move(on_exit),
                     exit = kept_[pid].exit] {
      if (alive.lock()) on_exit(exit);
    });
    return Ok{};
  }
  if (socket_ && hosted_.contains(pid)) {
    watchers_[pid] = std::move(on_exit);
    return Ok{};
  }
  return local_.watch_exit(pid, adopted, std::move(on_exit));
}

void HostSpawner::unwatch(pid_t pid) {
  watchers_.erase(pid);
  unwatched_.erase(pid);
  local_.unwatch(pid);
}

std::optional<std::uint64_t> HostSpawner::start_time(pid_t pid) {
  return local_.start_time(pid);
}

std::optional<std::uint64_t> HostSpawner::spawned_start_time(pid_t pid) {
  // As the host read it, before it could reap the child: /proc has nothing once it has.
  if (const auto it = hosted_.find(pid); it != hosted_.end() && it->second.start != 0) {
    return it->second.start;
  }
  // Ended already, its exit told before its run was watched.
  if (const auto it = unwatched_.find(pid); it != unwatched_.end() && it->second != 0) {
    return it->second;
  }
  return local_.spawned_start_time(pid);  // spawned here, the host gone
}

std::optional<std::pair<pid_t, std::uint64_t>> HostSpawner::kept_run(std::uint64_t run_id) {
  if (run_id == 0) return std::nullopt;
  take_told();
  for (const auto& [pid, kept] : kept_) {
    if (kept.run == run_id) return std::pair{pid, kept.start};
  }
  // Running at the hello and gone now: its exit is on its way (kept_exit() waits for it).
  for (const auto& [pid, hosted] : hosted_) {
    if (hosted.run != run_id) continue;
    // Copies: the exit, once told, erases the entry.
    const pid_t found = pid;
    const std::uint64_t start = hosted.start;
    if (!kept_exit(found, start)) return std::nullopt;
    return std::pair{found, start};
  }
  return std::nullopt;
}

std::optional<pid_t> HostSpawner::find_run(std::uint64_t run_id, const std::string& control_path) {
  return local_.find_run(run_id, control_path);
}

void HostSpawner::reap_orphans() {
  local_.reap_orphans();
}

void HostSpawner::take_told() {
  while (socket_) {
    auto got = runhost::receive_message(socket_->native_handle());
    if (!got) {
      lost(got.error().message);
      break;
    }
    if (!got.value()) break;
    on_message(got.value()->body);
  }
}

std::optional<HostSession> HostSpawner::host_session() {
  return socket_ ? session_ : std::nullopt;
}

std::optional<ProcessExit> HostSpawner::kept_exit(pid_t pid, std::uint64_t start) {
  auto kept = [&]() -> std::optional<ProcessExit> {
    const auto it = kept_.find(pid);
    if (it == kept_.end() || it->second.start != start) return std::nullopt;
    return it->second.exit;
  };
  take_told();  // exits told since the hello, not yet read (the loop has not run since)
  if (auto found = kept()) return found;
  // The host's child, gone from /proc (or a zombie): it has just ended, and its exit is on
  // its way. Waited for, so that the run is not taken for one that ended unseen.
  const auto hosted = hosted_.find(pid);
  if (!socket_ || hosted == hosted_.end() || hosted->second.start != start ||
      local_.start_time(pid)) {
    return std::nullopt;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerTimeoutMs);
  while (socket_ && !kept() && std::chrono::steady_clock::now() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    auto got = runhost::await_message(socket_->native_handle(), static_cast<int>(left.count()) + 1);
    if (!got) {
      lost(got.error().message);
      break;
    }
    on_message(got->body);
  }
  return kept();
}

void HostSpawner::release(pid_t pid, std::uint64_t start) {
  const auto it = kept_.find(pid);
  if (it == kept_.end() || it->second.start != start) return;
  kept_.erase(it);
  claimed_.erase(pid);
  if (socket_) {
    if (Status sent = runhost::send_message(socket_->native_handle(),
                                            {{"op", "ack"}, {"pid", pid}, {"start", start}});
        !sent) {
      lost(sent.error().message);
    }
  }
}

void HostSpawner::release_unclaimed() {
  std::vector<std::pair<pid_t, std::uint64_t>> unclaimed;
  for (const auto& [pid, kept] : kept_) {
    if (!claimed_.contains(pid)) unclaimed.emplace_back(pid, kept.start);
  }
  for (const auto& [pid, start] : unclaimed) release(pid, start);
}

Status HostSpawner::send_input(pid_t pid, std::uint64_t start, const std::string& line) {
  if (!socket_ || !hosted_.contains(pid)) {
    return Error::not_found(
        "the run's process is not a run host's child (started before the "
        "host, or the host was lost): it has no input");
  }
  auto answer = ask({{"op", "send"}, {"pid", pid}, {"start", start}, {"text", line}}, {},
                    {"sent", "send_failed"});
  if (!answer) return answer.error();
  if (answer->value("op", "") == "send_failed") {
    return Error::invalid_argument(answer->value("error", "not delivered"));
  }
  return Ok{};
}

void HostSpawner::set_deadline(std::optional<std::chrono::milliseconds> in) {
  if (!socket_) return;
  json body = {{"op", "deadline"}};
  if (in) body["in_ms"] = in->count();
  if (Status sent = runhost::send_message(socket_->native_handle(), body); !sent) {
    lost(sent.error().message);
  }
}

void HostSpawner::stop_host() {
  if (!socket_) return;
  (void)runhost::send_message(socket_->native_handle(), {{"op", "stop"}});
}

}  // namespace skedd

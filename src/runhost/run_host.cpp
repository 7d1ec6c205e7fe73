#include "runhost/run_host.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "exec/proc.h"

namespace skedd::runhost {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

void say(const std::string& text) {
  std::cerr << "skedd-runhost[" << ::getpid() << "]: " << text << std::endl;
}

std::string error_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

Instant wall_now() {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

std::string field(const std::optional<int>& v) {
  return v ? std::to_string(*v) : "-";
}

std::optional<int> parse_field(const std::string& s) {
  if (s == "-") return std::nullopt;
  return std::stoi(s);
}

json exit_body(pid_t pid, std::uint64_t start, std::uint64_t run, const ProcessExit& exit) {
  json e = encode_exit(pid, start, run, exit);
  e.erase("op");
  return e;
}

}  // namespace

RunHost::RunHost(asio::io_context& io, RunHostOptions options)
    : io_(io),
      options_(std::move(options)),
      spawner_(io),
      deadline_(io),
      idle_(io),
      child_signal_(io, SIGCHLD),
      stop_signals_(io, SIGTERM, SIGINT) {}

RunHost::~RunHost() = default;

Status RunHost::start() {
  struct stat st {};
  if (::lstat(options_.dir.c_str(), &st) != 0) return Error::io(error_text(options_.dir.c_str()));
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return Error::permission_denied(options_.dir +
                                    " must be a directory of the host's user, mode 0700");
  }
  const std::string lock_path = options_.dir + "/lock";
  lock_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock_.valid()) return Error::io(error_text(lock_path.c_str()));
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error::io("another run host holds " + lock_path);
  }
  if (Status loaded = load_records(); !loaded) return loaded;
  if (!options_.inherit.empty()) {
    if (Status inherited = load_inherit_file(); !inherited) return inherited;
  }
  if (Status listening = listen(); !listening) return listening;
  watch_children();
  stop_signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    say(std::string("stopped by ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", " +
        std::to_string(children_.size()) + " run(s) left running without a host");
    io_.stop();
  });
  if (options_.ready_fd >= 0) {
    [[maybe_unused]] const auto n = ::write(options_.ready_fd, "1", 1);
    ::close(options_.ready_fd);
    options_.ready_fd = -1;
  }
  say("listening on " + socket_path(options_.dir) + ", protocol " +
      std::to_string(kRunHostProtocol) + ", " + std::to_string(children_.size()) + " run(s), " +
      std::to_string(kept_.size()) + " exit(s) kept");
  check_idle();
  return Ok{};
}

Status RunHost::listen() {
  const std::string path = socket_path(options_.dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error::invalid_argument(path + ": too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Error::io(error_text("socket"));
  ::unlink(path.c_str());  // a dead host's; the lock says none is alive
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::io(error_text(path.c_str()));
  }
  ::chmod(path.c_str(), 0600);
  if (::listen(fd.get(), 4) != 0) return Error::io(error_text("listen"));
  listener_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd.release());
  accept();
  return Ok{};
}

void RunHost::accept() {
  listener_->async_wait(
      asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec) return;
        UniqueFd fd(
            ::accept4(listener_->native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (fd.valid()) {
          ucred peer{};
          socklen_t len = sizeof peer;
          // Only skedd's user (the host's own) is served.
          if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 &&
              peer.uid == ::geteuid()) {
            // One skedd at a time: a new one replaces one that went away, once what that
            // one sent has been handled.
            if (client_) {
              drain_client();
              drop_client("replaced by a new connection");
            }
            client_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd.release());
            ++connections_;
            idle_.cancel();
            read_client();
          } else {
            say("refused a connection of uid " + std::to_string(peer.uid));
          }
        }
        accept();
      });
}

void RunHost::read_client() {
  client_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [this, c = client_.get()](const boost::system::error_code& ec) {
                        if (ec || client_.get() != c) return;
                        for (;;) {
                          auto got = receive_message(client_->native_handle());
                          if (!got) return drop_client(got.error().message);
                          if (!got.value()) break;
                          handle(*got.value());
                          if (!client_ || client_.get() != c) return;
                        }
                        read_client();
                      });
}

void RunHost::drain_client() {
  // A spawn a killed skedd sent is in the socket still: handled now (its answer goes nowhere)
  // so that the next skedd's hello has it among the runs, and a request missing there was
  // never sent.
  while (client_) {
    auto got = receive_message(client_->native_handle());
    if (!got || !got.value()) return;
    handle(*got.value());
  }
}

void RunHost::drop_client(const std::string& why) {
  if (!client_) return;
  say("skedd disconnected: " + why);
  boost::system::error_code ignored;
  client_->close(ignored);
  // Closing cancels its wait, whose handler still holds the pointer: destroyed after it.
  asio::post(io_, [old = std::shared_ptr<asio::posix::stream_descriptor>(std::move(client_))] {});
  check_idle();
}

void RunHost::reply(const json& body) {
  if (!client_) return;
  if (Status sent = send_message(client_->native_handle(), body); !sent) {
    drop_client(sent.error().message);
  }
}

void RunHost::handle(Message& m) {
  const std::string op = m.body["op"].get<std::string>();
  if (op == "hello") return hello(m.body);
  if (op == "spawn") return spawn(m);
  if (op == "ack") return ack(m.body);
  if (op == "send") return send_input(m.body);
  if (op == "deadline") return set_deadline(m.body);
  if (op == "reexec") return reexec(m.body);
  if (op == "stop") {
    stopping_ = true;
    return maybe_exit();
  }
  say("unknown request \"" + op + "\" ignored");
}

void RunHost::hello(const json& body) {
  json exits = json::array();
  for (const auto& [pid, kept] : kept_)
    exits.push_back(exit_body(pid, kept.start, kept.run, kept.exit));
  json runs = json::array();
  for (const auto& [pid, child] : children_)
    runs.push_back({{"pid", pid}, {"start", child.start}, {"run", child.run}});
  reply({{"op", "hello"},
         {"version", kRunHostProtocol},
         {"pid", ::getpid()},
         {"started", process_start_time(::getpid()).value_or(0)},
         {"connection", connections_},
         {"exits", std::move(exits)},
         {"runs", std::move(runs)}});
  if (body.value("version", 0) != kRunHostProtocol) {
    say("skedd speaks protocol " + std::to_string(body.value("version", 0)) + ", this host " +
        std::to_string(kRunHostProtocol));
  }
}

void RunHost::spawn(Message& m) {
  if (stopping_) return reply({{"op", "spawn_failed"}, {"error", "the run host is stopping"}});
  auto request = decode_spawn(m.body, m.fds);
  if (!request) return reply({{"op", "spawn_failed"}, {"error", request.error().message}});
  int input[2];
  if (::pipe2(input, O_CLOEXEC) != 0) {
    return reply({{"op", "spawn_failed"}, {"error", error_text("pipe")}});
  }
  UniqueFd input_read(input[0]);
  UniqueFd input_write(input[1]);
  ::fcntl(input_write.get(), F_SETFL, O_NONBLOCK);
  request->input_fd = input_read.get();
  request->env.push_back("SKEDD_INPUT_FD=" + std::to_string(kInputFd));
  auto pid = spawner_.spawn(request.value());
  if (!pid) return reply({{"op", "spawn_failed"}, {"error", pid.error().message}});
  const std::uint64_t start = child_start_time(pid.value()).value_or(0);  // ended at once too
  Child child;
  child.start = start;
  child.run = run_id_of(request.value());
  child.input = std::move(input_write);
  for (std::size_t i = 0; i < m.fds.size(); ++i) {
    if (m.fds[i].get() == request->control_fd) child.control = std::move(m.fds[i]);
  }
  children_[pid.value()] = std::move(child);
  watch(pid.value());
  if (children_.count(pid.value()) == 0 && kept_.count(pid.value()) == 0) {
    return reply({{"op", "spawn_failed"}, {"error", "its process could not be watched"}});
  }
  reply({{"op", "spawned"}, {"pid", pid.value()}, {"start", start}});
}

void RunHost::watch_children() {
  // A child subreaper: the orphans of runs become the host's children, reaped here (runs
  // themselves through their pidfds).
  child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    spawner_.reap_orphans();
    watch_children();
  });
}

void RunHost::watch(pid_t pid) {
  const Status watched =
      spawner_.watch_exit(pid, false, [this, pid](const ProcessExit& exit) { on_exit(pid, exit); });
  if (!watched) {
    // The spawner killed and reaped it: it must not run unseen.
    say("run " + std::to_string(pid) + " could not be watched: " + watched.error().message);
    children_.erase(pid);
  }
}

void RunHost::on_exit(pid_t pid, const ProcessExit& exit) {
  const auto it = children_.find(pid);
  if (it == children_.end()) return;
  // Its group's orphans that died with it are reaped first, so that skedd, told of the exit,
  // does not find them as leftovers (zombies still count as members of the group).
  spawner_.reap_orphans();
  Kept kept;
  kept.start = it->second.start;
  kept.run = it->second.run;
  kept.exit = exit;
  kept.exit.ended = wall_now();
  kept.control = std::move(it->second.control);
  children_.erase(it);
  append_record("exit " + std::to_string(pid) + " " + std::to_string(kept.start) + " " +
                field(exit.exit_code) + " " + field(exit.signal) + " " +
                std::to_string(kept.exit.ended->time_since_epoch().count()) + " " +
                std::to_string(kept.run));
  if (client_) {
    json body = encode_exit(pid, kept.start, kept.run, kept.exit);
    kept_[pid] = std::move(kept);
    reply(body);
  } else {
    kept_[pid] = std::move(kept);
  }
  maybe_exit();
  check_idle();
}

void RunHost::ack(const json& body) {
  const pid_t pid = body.value("pid", 0);
  const std::uint64_t start = body.value("start", std::uint64_t{0});
  const auto it = kept_.find(pid);
  if (it == kept_.end() || it->second.start != start) return;
  kept_.erase(it);
  append_record("ack " + std::to_string(pid) + " " + std::to_string(start));
  // Nothing kept: the records start again (they are only what is not yet acknowledged).
  if (kept_.empty() && records_.valid() && ::ftruncate(records_.get(), 0) == 0) {
    append_record("boot " + current_boot_id());
  }
}

void RunHost::send_input(const json& body) {
  const pid_t pid = body.value("pid", 0);
  const std::uint64_t start = body.value("start", std::uint64_t{0});
  auto fail = [&](const std::string& error) {
    reply({{"op", "send_failed"}, {"pid", pid}, {"error", error}});
  };
  const auto it = children_.find(pid);
  if (it == children_.end() || it->second.start != start) return fail("the run has ended");
  if (!body.contains("text") || !body["text"].is_string()) return fail("no text");
  std::string line = body["text"].get<std::string>();
  if (line.size() >= kMaxInputLine || line.find('\n') != std::string::npos) {
    return fail("a line must be one line of less than " + std::to_string(kMaxInputLine) + " bytes");
  }
  if (!it->second.input.valid()) return fail("the run closed its input");
  line += '\n';
  const ssize_t n = ::write(it->second.input.get(), line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) return reply({{"op", "sent"}, {"pid", pid}});
  if (n < 0 && errno == EPIPE) {
    it->second.input.reset();
    return fail("the run closed its input");
  }
  if (n < 0 && errno == EAGAIN) return fail("the run's input is full: it is not reading it");
  fail(error_text("write"));
}

void RunHost::set_deadline(const json& body) {
  if (!body.contains("in_ms")) {
    deadline_.cancel();
    return;
  }
  const auto in = std::chrono::milliseconds(body.value("in_ms", std::int64_t{0}));
  deadline_.expires_after(in);
  deadline_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    // skedd did not renew in time (stopped, hung, or cut off from its cluster): its runs must
    // not go on unsupervised.
    say("deadline passed without renewal: killing " + std::to_string(children_.size()) + " run(s)");
    for (const auto& [pid, child] : children_) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  });
}

void RunHost::reexec(const json& body) {
  const std::string path = body.value("path", "");
  struct stat st {};
  // Only a binary that neither group nor others may change, owned by root or the host's user.
  if (path.empty() || path[0] != '/' || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      (st.st_uid != 0 && st.st_uid != ::geteuid()) || (st.st_mode & 022) != 0) {
    say("re-execution refused: " + path + " is not a binary only its owner may change");
    return;
  }
  const std::string state = options_.dir + "/inherit";
  if (Status written = write_inherit_file(state); !written) {
    say("re-execution refused: " + written.error().message);
    return;
  }
  say("re-executing as " + path);
  // What the next image keeps: the children (still ours after exec) and the descriptors
  // named in the state file, which lose close-on-exec here.
  for (auto& [pid, child] : children_) {
    if (child.control.valid()) ::fcntl(child.control.get(), F_SETFD, 0);
    if (child.input.valid()) ::fcntl(child.input.get(), F_SETFD, 0);
  }
  for (auto& [pid, kept] : kept_) {
    if (kept.control.valid()) ::fcntl(kept.control.get(), F_SETFD, 0);
  }
  std::cerr.flush();
  lock_.reset();  // the next image takes it again
  const std::string idle = std::to_string(options_.idle_exit.count());
  const char* argv[] = {path.c_str(),  "--dir",       options_.dir.c_str(), "--inherit",
                        state.c_str(), "--idle-exit", idle.c_str(),         nullptr};
  ::execv(path.c_str(), const_cast<char* const*>(argv));
  say(error_text("execv"));
  std::_Exit(1);  // the lock is gone: a new host is started by the next skedd
}

Status RunHost::write_inherit_file(const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& [pid, child] : children_) {
    out << "child " << pid << ' ' << child.start << ' ' << child.control.get() << ' '
        << child.input.get() << ' ' << child.run << '\n';
  }
  for (const auto& [pid, kept] : kept_) {
    out << "kept " << pid << ' ' << kept.start << ' ' << kept.control.get() << '\n';
  }
  out.flush();
  if (!out) return Error::io("cannot write " + path);
  ::chmod(path.c_str(), 0600);
  return Ok{};
}

Status RunHost::load_inherit_file() {
  std::ifstream in(options_.inherit);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind;
    pid_t pid = 0;
    std::uint64_t start = 0;
    int control = -1;
    words >> kind >> pid >> start >> control;
    auto own = [](int fd) {
      if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      return UniqueFd(fd);
    };
    if (kind == "child") {
      int input = -1;
      std::uint64_t run = 0;
      words >> input >> run;  // no run id from a host before it was kept
      Child child;
      child.start = start;
      child.run = run;
      child.control = own(control);
      child.input = own(input);
      children_[pid] = std::move(child);
      watch(pid);
    } else if (kind == "kept") {
      if (auto it = kept_.find(pid); it != kept_.end()) it->second.control = own(control);
    }
  }
  ::unlink(options_.inherit.c_str());
  return Ok{};
}

Status RunHost::load_records() {
  const std::string path = options_.dir + "/exits";
  const std::string boot = current_boot_id();
  {
    std::ifstream in(path);
    std::string line;
    bool this_boot = true;
    while (std::getline(in, line)) {
      // Records of another boot name pids and start times that mean other processes now.
      if (line.rfind("boot ", 0) == 0) this_boot = line.substr(5) == boot;
      if (!this_boot) continue;
      std::istringstream words(line);
      std::string kind, code, signal;
      pid_t pid = 0;
      std::uint64_t start = 0;
      std::int64_t ended = 0;
      words >> kind >> pid >> start;
      try {
        if (kind == "exit" && words >> code >> signal >> ended) {
          Kept kept;
          kept.start = start;
          words >> kept.run;  // absent in records of a host before it was kept: 0
          kept.exit.exit_code = parse_field(code);
          kept.exit.signal = parse_field(signal);
          kept.exit.ended = Instant(Duration(ended));
          kept_[pid] = std::move(kept);
        } else if (kind == "ack") {
          if (auto it = kept_.find(pid); it != kept_.end() && it->second.start == start) {
            kept_.erase(it);
          }
        }
      } catch (const std::exception&) {
        say(path + ": a damaged record is skipped: " + line);
      }
    }
  }
  // Rewritten with only what is kept, then appended to.
  const std::string fresh = path + ".new";
  {
    std::ofstream out(fresh, std::ios::trunc);
    out << "boot " << boot << '\n';
    for (const auto& [pid, kept] : kept_) {
      out << "exit " << pid << ' ' << kept.start << ' ' << field(kept.exit.exit_code) << ' '
          << field(kept.exit.signal) << ' ' << kept.exit.ended->time_since_epoch().count() << ' '
          << kept.run << '\n';
    }
    if (!out) return Error::io("cannot write " + fresh);
  }
  ::chmod(fresh.c_str(), 0600);
  if (::rename(fresh.c_str(), path.c_str()) != 0) return Error::io(error_text(path.c_str()));
  records_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  if (!records_.valid()) return Error::io(error_text(path.c_str()));
  return Ok{};
}

void RunHost::append_record(const std::string& line) {
  // Survives the host's and skedd's deaths (the page cache); a power loss ends the runs too,
  // and the next boot's skedd treats them as interrupted.
  const std::string text = line + "\n";
  if (!records_.valid() ||
      ::write(records_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    say("cannot record \"" + line + "\": " + std::strerror(errno));
  }
}

void RunHost::maybe_exit() {
  if (stopping_ && children_.empty()) {
    say("stopped by skedd, no runs left");
    io_.stop();
  }
}

void RunHost::check_idle() {
  if (client_ || !children_.empty()) return;
  idle_.expires_after(options_.idle_exit);
  idle_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || client_ || !children_.empty()) return;
    say("idle: no runs and no skedd for " + std::to_string(options_.idle_exit.count()) + " s");
    io_.stop();
  });
}

}  // namespace skedd::runhost

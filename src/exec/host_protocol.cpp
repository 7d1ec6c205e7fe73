#include "exec/host_protocol.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

namespace skedd::runhost {
namespace {

using nlohmann::json;

constexpr const char* kFdNames[kMaxFds] = {"stdin", "output", "control", "cgroup"};

Error protocol_error(const std::string& what) {
  return Error::invalid_argument("run host protocol: " + what);
}

template <typename T>
std::optional<T> optional_field(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

}  // namespace

std::string socket_path(const std::string& dir) {
  return dir + "/socket";
}

Status send_message(int socket, const json& body, const std::vector<int>& fds) {
  const std::string text = body.dump();
  if (text.size() > kMaxMessage)
    return protocol_error("message of " + std::to_string(text.size()) + " bytes, over " +
                          std::to_string(kMaxMessage));
  if (fds.size() > kMaxFds) return protocol_error("too many descriptors");
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::io(std::string("run host socket: ") + std::strerror(errno));
  return Ok{};
}

Result<std::optional<Message>> receive_message(int socket) {
  // One buffer per thread, for every message it receives: made (and zeroed) for each, its
  // 256 KiB took a tenth of skedd's loop in 20,000 starts (perf, bench_runs). Only the
  // bytes received are read.
  thread_local std::vector<char> buffer(kMaxMessage + 1);
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::optional<Message>();
  if (n < 0) return Error::io(std::string("run host socket: ") + std::strerror(errno));
  Message m;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      m.fds.emplace_back(fd);
    }
  }
  if (n == 0) return Error::io("run host socket: closed");
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || m.fds.size() > kMaxFds) {
    return protocol_error("a message over " + std::to_string(kMaxMessage) + " bytes or " +
                          std::to_string(kMaxFds) + " descriptors");
  }
  m.body = json::parse(buffer.data(), buffer.data() + n, nullptr, false);
  if (m.body.is_discarded() || !m.body.is_object() || !m.body.contains("op") ||
      !m.body["op"].is_string()) {
    return protocol_error("a message that is not a JSON object with an \"op\"");
  }
  return std::optional<Message>(std::move(m));
}

Result<Message> await_message(int socket, int timeout_ms) {
  for (;;) {
    auto got = receive_message(socket);
    if (!got) return got.error();
    if (got.value()) return std::move(*got.value());
    pollfd p{socket, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      return Error::io("run host: no answer within " + std::to_string(timeout_ms) + " ms");
    }
  }
}

json encode_spawn(const SpawnRequest& r) {
  json body = {{"op", "spawn"},  {"path", r.path}, {"search_path", r.search_path},
               {"argv", r.argv}, {"env", r.env},   {"working_dir", r.working_dir}};
  if (r.umask) body["umask"] = *r.umask;
  if (r.nice) body["nice"] = *r.nice;
  if (r.limit_nofile) body["limit_nofile"] = *r.limit_nofile;
  if (r.limit_memory) body["limit_memory"] = *r.limit_memory;
  if (r.credentials) {
    body["credentials"] = {{"uid", r.credentials->uid},
                           {"gid", r.credentials->gid},
                           {"groups", r.credentials->groups}};
  }
  json names = json::array();
  const int fds[kMaxFds] = {r.stdin_fd, r.output_fd, r.control_fd, r.cgroup_procs_fd};
  for (std::size_t i = 0; i < kMaxFds; ++i) {
    if (fds[i] >= 0) names.push_back(kFdNames[i]);
  }
  body["fds"] = std::move(names);
  return body;
}

std::vector<int> fds_of(const SpawnRequest& r) {
  std::vector<int> out;
  for (int fd : {r.stdin_fd, r.output_fd, r.control_fd, r.cgroup_procs_fd}) {
    if (fd >= 0) out.push_back(fd);
  }
  return out;
}

Result<SpawnRequest> decode_spawn(const json& body, const std::vector<UniqueFd>& fds) {
  try {
    SpawnRequest r;
    r.path = body.at("path").get<std::string>();
    r.search_path = body.at("search_path").get<std::string>();
    r.argv = body.at("argv").get<std::vector<std::string>>();
    r.env = body.at("env").get<std::vector<std::string>>();
    r.working_dir = body.at("working_dir").get<std::string>();
    r.umask = optional_field<mode_t>(body, "umask");
    r.nice = optional_field<int>(body, "nice");
    r.limit_nofile = optional_field<std::uint64_t>(body, "limit_nofile");
    r.limit_memory = optional_field<std::uint64_t>(body, "limit_memory");
    if (const auto it = body.find("credentials"); it != body.end()) {
      r.credentials = Credentials{it->at("uid").get<uid_t>(), it->at("gid").get<gid_t>(),
                                  it->at("groups").get<std::vector<gid_t>>()};
    }
    const auto names = body.at("fds").get<std::vector<std::string>>();
    if (names.size() != fds.size()) {
      return protocol_error("spawn names " + std::to_string(names.size()) +
                            " descriptors and passes " + std::to_string(fds.size()));
    }
    if (r.argv.empty()) return protocol_error("spawn without argv");
    for (std::size_t i = 0; i < names.size(); ++i) {
      int* slot = names[i] == "stdin"     ? &r.stdin_fd
                  : names[i] == "output"  ? &r.output_fd
                  : names[i] == "control" ? &r.control_fd
                  : names[i] == "cgroup"  ? &r.cgroup_procs_fd
                                          : nullptr;
      if (slot == nullptr || *slot >= 0) {
        return protocol_error("spawn names descriptor \"" + names[i] + "\"");
      }
      *slot = fds[i].get();
    }
    return r;
  } catch (const json::exception& e) {
    return protocol_error(std::string("spawn: ") + e.what());
  }
}

std::uint64_t run_id_of(const SpawnRequest& request) {
  constexpr std::string_view kName = "SKEDD_RUN_ID=";
  for (const std::string& e : request.env) {
    if (e.rfind(kName, 0) != 0) continue;
    std::uint64_t id = 0;
    const char* begin = e.data() + kName.size();
    const auto [end, error] = std::from_chars(begin, e.data() + e.size(), id);
    if (error == std::errc() && end == e.data() + e.size()) return id;
  }
  return 0;
}

json encode_exit(pid_t pid, std::uint64_t start, std::uint64_t run, const ProcessExit& exit) {
  json body = {{"op", "exit"}, {"pid", pid}, {"start", start}};
  if (run != 0) body["run"] = run;
  if (exit.exit_code) body["code"] = *exit.exit_code;
  if (exit.signal) body["signal"] = *exit.signal;
  if (exit.ended) body["ended_us"] = exit.ended->time_since_epoch().count();
  return body;
}

Result<ProcessExit> decode_exit(const json& body) {
  try {
    ProcessExit exit;
    exit.exit_code = optional_field<int>(body, "code");
    exit.signal = optional_field<int>(body, "signal");
    if (const auto us = optional_field<std::int64_t>(body, "ended_us")) {
      exit.ended = Instant(Duration(*us));
    }
    return exit;
  } catch (const json::exception& e) {
    return protocol_error(std::string("exit: ") + e.what());
  }
}

}  // namespace skedd::runhost

// Control socket latency of the real skedd: one client on the socket asks `status` and
// `list` of a daemon holding J jobs (every 1h, so none runs meanwhile), one request at a time,
// and the round trip (request written to reply read) is measured.
//
// Target: `status` p99 <= 1 ms at 10,000 jobs. `list` sends every job and is reported beside
// it, with the reply's size.
//
// Usage: bench_control [J=10000] [STATUS=5000] [LIST=100] [DIR=/var/tmp]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_support.h"

namespace {

using namespace skedd::bench;

class Connection {
 public:
  explicit Connection(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Connection() { ::close(fd_); }
  bool connected() const { return connected_; }
  // Sends one request line and returns the reply line's size (0 on failure).
  std::size_t ask(const std::string& line) {
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      return 0;
    }
    for (;;) {
      if (const auto nl = in_.find('\n'); nl != std::string::npos) {
        in_.erase(0, nl + 1);
        return nl + 1;
      }
      char buf[1 << 16];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return 0;
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string in_;
};

// Round trips of `n` requests `line`, in ms.
std::vector<double> measure(Connection& c, const std::string& line, int n, std::size_t* size) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    *size = c.ask(line);
    if (*size == 0) break;
    ms.push_back(elapsed_s(start) * 1000);
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int status_n = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int list_n = argc > 3 ? std::atoi(argv[3]) : 100;
  std::string tmpl = std::string(argc > 4 ? argv[4] : "/var/tmp") + "/skedd-bench-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl.data());

  std::string config;
  for (int i = 0; i < jobs; ++i) {
    config += "[job.j" + std::to_string(i) + "]\nevery = \"1h\"\ncommand = \"true\"\n";
  }
  const auto loading = Clock::now();
  DaemonRun daemon = start_daemon(SKEDD_BINARY, root / "d", config, 64);
  const std::string socket = (runtime_dir(root / "d") / "skedd.sock").string();
  std::unique_ptr<Connection> c;
  while (elapsed_s(loading) < 120) {
    c = std::make_unique<Connection>(socket);
    if (c->connected() && c->ask("{\"id\":0,\"op\":\"status\"}\n") > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("control socket: %d jobs loaded and the socket answering after %.2f s\n", jobs,
              elapsed_s(loading));
  std::size_t size = 0;
  measure(*c, "{\"id\":1,\"op\":\"status\"}\n", 200, &size);  // warm-up
  std::vector<double> status = measure(*c, "{\"id\":1,\"op\":\"status\"}\n", status_n, &size);
  std::printf(
      "  status  %5zu requests  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (target p99 <= 1 "
      "ms)\n",
      status.size(), percentile(status, 50), percentile(status, 99), percentile(status, 100));
  std::vector<double> list = measure(*c, "{\"id\":2,\"op\":\"list\"}\n", list_n, &size);
  std::printf("  list    %5zu requests  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%zu bytes each)\n",
              list.size(), percentile(list, 50), percentile(list, 99), percentile(list, 100), size);
  c.reset();
  stop(daemon);
  std::error_code ec;
  fs::remove_all(root, ec);
  return status.size() == static_cast<std::size_t>(status_n) ? 0 : 1;
}

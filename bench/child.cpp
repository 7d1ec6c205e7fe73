// The tiny program the run benchmarks start: prints when it started (CLOCK_REALTIME, ns since
// the epoch), then its first argument if it has one (a tag naming which spawn it is), and
// exits 0. Kept minimal so process start-up dominates.
#include <time.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%lld %s\n",
                              static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec,
                              argc > 1 ? argv[1] : "");
  if (n > 0 && n < static_cast<int>(sizeof buf)) [[maybe_unused]]
    auto w = ::write(1, buf, static_cast<size_t>(n));
  return 0;
}

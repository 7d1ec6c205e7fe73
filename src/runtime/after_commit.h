// Continuing on the event loop once the store has committed what was written so far.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "skedd/store/store.h"
#include "util/asio.h"

namespace skedd {

/// The way back from the store's writer thread to one object on an event loop. The object
/// holds it as a member; once that member is destroyed, nothing more is posted to the
/// io_context for it, and a callback posted before does not run. The daemon's store outlives
/// its event loop: a commit heard of while the loop is being destroyed used to post to a freed
/// io_context (heap corruption at SIGTERM under load, issue 27).
class CommitGate {
 public:
  explicit CommitGate(asio::io_context& io) : shared_(std::make_shared<Shared>(io)) {}
  ~CommitGate() {
    std::lock_guard lock(shared_->mu);
    shared_->io = nullptr;
  }
  CommitGate(const CommitGate&) = delete;
  CommitGate& operator=(const CommitGate&) = delete;

 private:
  friend void after_commit(Store&, const CommitGate&, std::function<void(const Status&)>,
                           Store::Pace);
  struct Shared {
    explicit Shared(asio::io_context& i) : io(&i) {}
    std::mutex mu;
    asio::io_context* io;  // GUARDED_BY(mu); null once the gate's owner is gone
  };
  std::shared_ptr<Shared> shared_;
};

/// Calls `then(status)` on the gate's io_context thread once every write queued in `store`
/// before the call is committed (or a commit of them failed: `status` says so, and the writes
/// stay queued), unless the gate is gone by then. The event loop never waits for the disk
/// meanwhile. `pace`: see Store::when_committed().
inline void after_commit(Store& store, const CommitGate& gate,
                         std::function<void(const Status&)> then,
                         Store::Pace pace = Store::Pace::kNow) {
  store.when_committed(
      [shared = gate.shared_, then = std::move(then)](Status status) {
        std::lock_guard lock(shared->mu);
        if (shared->io == nullptr) return;
        // The check on the loop's thread: the gate may go between this post and the call.
        asio::post(*shared->io, [shared, then, status = std::move(status)] {
          bool open;
          {
            std::lock_guard held(shared->mu);
            open = shared->io != nullptr;
          }
          if (open) then(status);  // unlocked: `then` may wait for a commit again
        });
      },
      pace);
}

}  // namespace skedd

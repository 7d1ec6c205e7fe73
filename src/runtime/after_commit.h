// Continuing on the event loop once the store has committed what was written so far.
#pragma once

#include <functional>
#include <memory>

#include "skedd/store/store.h"
#include "util/asio.h"

namespace skedd {

/// Calls `then(status)` on `io`'s thread once every write queued in `store` before the call is
/// committed (or a commit of them failed: `status` says so, and the writes stay queued), unless
/// `alive` has expired by then. The event loop never waits for the disk meanwhile. `pace`: see
/// Store::when_committed().
inline void after_commit(Store& store, asio::io_context& io, std::weak_ptr<const void> alive,
                         std::function<void(const Status&)> then,
                         Store::Pace pace = Store::Pace::kNow) {
  store.when_committed(
      [&io, alive = std::move(alive), then = std::move(then)](Status status) {
        asio::post(io, [alive, then, status = std::move(status)] {
          if (alive.lock()) then(status);
        });
      },
      pace);
}

}  // namespace skedd

#pragma once

#include <memory>
#include <string>

#include "skedd/store/store.h"
#include "skedd/util/result.h"

namespace skedd {

struct SqliteStoreOptions {
  /// false: synchronous=NORMAL in WAL mode, survives a crash of skedd; true: FULL, survives
  /// power loss.
  bool full_sync = false;
  /// How long a write or read waits for a lock held by another process before failing.
  int busy_timeout_ms = 5000;
  /// The WAL's size in pages past which the writer copies it all into the database so that it
  /// starts over (passive checkpoints alone never catch up with a writer that never pauses).
  int wal_limit_pages = 16384;  // 64 MiB with 4 KiB pages
};

/// Opens (creating if needed) the history database at `path` in WAL mode and brings its
/// schema up to date (PRAGMA user_version, forward migrations only). A file that is not a
/// SQLite database, or one written by a newer skedd, is refused with a message saying what to
/// do; it is never recreated silently.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                 const SqliteStoreOptions& options = {});

}  // namespace skedd

#pragma once

#include <memory>

#include "skedd/store/store.h"

namespace skedd {

/// A Store that keeps everything in memory, with the SQLite store's semantics (the store
/// contract tests run on both): every write is committed as it is made, so flush() and
/// when_committed() never wait (a waiter is called at once, on the calling thread) and health()
/// never reports writes behind. Nothing survives the object. For tests of the runtime, and for
/// programs that want a scheduler with no disk at all. Thread-safe.
std::unique_ptr<Store> make_memory_store();

}  // namespace skedd

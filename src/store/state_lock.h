// One process per state dir: an flock on STATE/skedd.lock, held for the life of the process,
// with the holder's pid written in it for the message a second one gets.
#pragma once

#include <string>

#include "skedd/util/result.h"

namespace skedd {

/// Takes the lock of `state_dir` (which must exist) and returns its descriptor, to be kept
/// open while the state dir is in use (closing it releases the lock). Fails with kConflict,
/// naming the holder's pid when known, when another process holds it.
Result<int> lock_state_dir(const std::string& state_dir);

}  // namespace skedd

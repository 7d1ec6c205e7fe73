// The state dir: private modes set at start, and one process per state dir: an flock on
// STATE/skedd.lock (0600), held for the life of the process, with the holder's pid written
// in it for the message a second one gets.
#pragma once

#include <string>

#include "skedd/util/result.h"

namespace skedd {

/// Makes `state_dir` private before anything in it is opened: creates it (0700) when
/// missing; refuses it (kPermissionDenied, naming the owner) when it is not a directory owned
/// by this process's uid; sets it to 0700, the database files and the lock to 0600 and
/// logs/ to 0711 (a run's log is opened by path by its own user, who cannot list the others),
/// with every log in it made 0600 the first time logs/ is found otherwise (state from an
/// older skedd). The files keep their owners.
Status prepare_state_dir(const std::string& state_dir);

/// Takes the lock of `state_dir` (which must exist) and returns its descriptor, to be kept
/// open while the state dir is in use (closing it releases the lock). Fails with kConflict,
/// naming the holder's pid when known, when another process holds it.
Result<int> lock_state_dir(const std::string& state_dir);

}  // namespace skedd

// Names the calling thread, as `top -H`, `ps -L` and /proc/PID/task/TID/comm show it.
#pragma once

#include <pthread.h>

namespace skedd {

/// `name`: at most 15 bytes; a longer one is not set (ERANGE).
inline void name_this_thread(const char* name) {
  (void)::pthread_setname_np(::pthread_self(), name);
}

}  // namespace skedd

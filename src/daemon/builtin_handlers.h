// The in-process handlers compiled into the skedd daemon (libskedd programs register their
// own): `noop`, `sleep` and `log`.
#pragma once

#include <set>
#include <string>

#include "skedd/embed/handler.h"

namespace skedd {

/// Registers the built-in handlers:
///   noop   returns at once (benchmarks, tests of scheduling itself);
///   sleep  params { seconds = N } (fractions allowed): waits, returning early when asked to
///          stop; a checkpoint records how far it got, and a resumed run sleeps the rest;
///   log    params { message = "..." }: writes an event `handler_log` to skedd's log.
void register_builtin_handlers(HandlerRegistry& registry);
/// Their names, for validating configuration without a registry (skedctl's check).
inline std::set<std::string> builtin_handler_names() {
  return {"noop", "sleep", "log"};
}

}  // namespace skedd

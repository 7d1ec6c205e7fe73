#pragma once

#include "skedd/time/types.h"

namespace skedd {

/// The only source of "now" in skedd (leveldb Env / Envoy TimeSource). Core classes take a
/// Clock& and keep it; tests inject a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time (CLOCK_REALTIME): calendar decisions, display, persistence.
  virtual Instant wall_now() const = 0;
  /// Monotonic time that keeps counting during suspend (CLOCK_BOOTTIME): timeouts, `every`.
  virtual MonoInstant mono_now() const = 0;
};

/// The real clocks of the host.
class SystemClock final : public Clock {
 public:
  Instant wall_now() const override;
  MonoInstant mono_now() const override;
};

}  // namespace skedd

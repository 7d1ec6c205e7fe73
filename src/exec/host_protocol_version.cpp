// The run host protocol's version, alone in its object (see kRunHostProtocol).
#include "exec/host_protocol.h"

#ifndef SKEDD_RUNHOST_PROTOCOL
#define SKEDD_RUNHOST_PROTOCOL 1
#endif

namespace skedd::runhost {

extern const int kRunHostProtocol = SKEDD_RUNHOST_PROTOCOL;

}  // namespace skedd::runhost

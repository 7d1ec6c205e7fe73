// The run host's protocol: what skedd and skedd-runhost say to each other over a
// SOCK_SEQPACKET socket, one JSON object per packet ("op" names it), the descriptors of a
// spawn alongside in SCM_RIGHTS. Both ends are built from this file; `kRunHostProtocol` is
// bumped whenever a message changes meaning, and a skedd that finds a host of another
// version asks it to re-execute itself as the host binary skedd was installed with.
//
// skedd -> host                          host -> skedd
//   hello {version}                        hello {version, pid, exits: [exit...]}
//   spawn {request, fds: [names]} + fds    spawned {pid, start} | spawn_failed {error}
//   ack {pid, start}                       exit {pid, start, code | signal, ended}
//   send {pid, start, text}                sent {pid} | send_failed {pid, error}
//   deadline {in_ms} | deadline {}         (none)
//   reexec {path}                          (the host re-executes; skedd reconnects)
//   stop {}                                (the host exits once its runs have ended)
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "skedd/exec/process_spawner.h"
#include "skedd/util/result.h"
#include "util/unique_fd.h"

namespace skedd::runhost {

/// Defined in host_protocol_version.cpp, an object of its own: the upgrade test's "next
/// release" links the same daemon and run host objects with that one file compiled with
/// SKEDD_RUNHOST_PROTOCOL=2 (CMakeLists.txt), instead of compiling the daemon twice.
extern const int kRunHostProtocol;
/// The largest packet either side sends or accepts (a spawn request with its environment).
inline constexpr std::size_t kMaxMessage = 256 * 1024;
/// The descriptors a spawn passes: stdin, output, control, cgroup.procs.
inline constexpr std::size_t kMaxFds = 4;
/// The longest line `send` delivers (PIPE_BUF: one write, never interleaved).
inline constexpr std::size_t kMaxInputLine = 4096;
/// The descriptor a run reads its input lines on (SKEDD_INPUT_FD names it).
inline constexpr int kInputFd = 4;

/// The socket in the host's directory (STATE_DIR/runhost, 0700).
std::string socket_path(const std::string& dir);

struct Message {
  nlohmann::json body;
  std::vector<UniqueFd> fds;
};

/// Sends one message with `fds` (borrowed). MSG_NOSIGNAL: a gone peer is an error, not a
/// SIGPIPE.
Status send_message(int socket, const nlohmann::json& body, const std::vector<int>& fds = {});

/// Reads one message from a non-blocking socket: nullopt when none is waiting; an error when
/// the peer has gone ("closed") or sent what is not one object of at most kMaxMessage bytes
/// with at most kMaxFds descriptors (then the descriptors that came are closed).
Result<std::optional<Message>> receive_message(int socket);

/// Waits up to `timeout_ms` for a message (blocking in poll): an error on timeout.
Result<Message> await_message(int socket, int timeout_ms);

/// A spawn request as a message: everything but the descriptors, which go as the list of
/// those present ("stdin", "output", "control", "cgroup"), in the order of `fds_of()`.
nlohmann::json encode_spawn(const SpawnRequest& request);
std::vector<int> fds_of(const SpawnRequest& request);
/// The request a spawn message carries, its descriptors taken from `fds` (which keeps
/// owning them). An error names the field that is missing or malformed.
Result<SpawnRequest> decode_spawn(const nlohmann::json& body, const std::vector<UniqueFd>& fds);

/// The run id skedd spawned `request` as (its SKEDD_RUN_ID, which skedd sets after the job's
/// own environment): with it, skedd finds the exit of a run whose pid it had not yet recorded
/// when it stopped. 0 when there is none.
std::uint64_t run_id_of(const SpawnRequest& request);

/// An exit as a message, and back. `run`: the run id the process was spawned as (its
/// SKEDD_RUN_ID), 0 when unknown; decode_exit() leaves it to body.value("run", 0).
nlohmann::json encode_exit(pid_t pid, std::uint64_t start, std::uint64_t run,
                           const ProcessExit& exit);
Result<ProcessExit> decode_exit(const nlohmann::json& body);

}  // namespace skedd::runhost

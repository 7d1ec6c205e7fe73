// A run's control channel (its fd 3): lines read without letting one run starve the loop,
// checkpoints made durable before the run reads on, progress coalesced.
#include "runtime/after_commit.h"
#include "runtime/log_fields.h"
#include "runtime/supervisor_run.h"
#include "skedd/time/timestamp.h"

namespace skedd {

void Supervisor::watch_control(Run& run) {
  const RunId id = run.id;
  run.control->async_wait(asio::posix::stream_descriptor::wait_read,
                          [this, id](const boost::system::error_code& ec) {
                            if (ec) return;  // closed: the run finished
                            auto it = runs_.find(id);
                            if (it == runs_.end()) return;
                            read_control(*it->second);
                            handle_lines(*it->second, false);
                          });
}

void Supervisor::read_control(Run& run) {
  if (!run.control || !run.control->is_open()) return;
  // At most kControlBytesPerWakeup now, unless the run has ended (then the channel holds at
  // most its pipe's size, and nothing more comes).
  const bool ended = run.pid <= 0 || !run_by_pid_.contains(run.pid);
  read_channel(run.control->native_handle(), run.lines, run.read_buffer,
               ended ? 0 : kControlBytesPerWakeup);
}

void Supervisor::handle_lines(Run& run, bool to_end) {
  std::string line;
  while ((to_end || !run.awaiting_commit) && run.lines.next(line)) {
    handle_control_line(run, line, to_end);
  }
  // Reading goes on once the last checkpoint is durable (see handle_control_line).
  if (!to_end && !run.awaiting_commit && run.control && run.control->is_open()) {
    watch_control(run);
  }
}

void Supervisor::handle_control_line(Run& run, const std::string& line, bool to_end) {
  note_activity(run);
  auto parsed = parse_run_channel_line(line);
  if (!parsed) {
    events_.emit(
        Severity::kWarn, EventKind::kRunChannelError,
        {{"job", run.spec->name}, {"run", run.id.value}, {"error", parsed.error().message}});
    return;
  }
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, CheckpointLine>) {
          run.checkpoint = msg.text;
          store_.put_checkpoint(run.id, msg.text);
          events_.emit(Severity::kInfo, EventKind::kCheckpoint,
                       {{"job", run.spec->name}, {"run", run.id.value}, {"checkpoint", msg.text}});
          if (!to_end) read_on_when_committed(run);
        } else if constexpr (std::is_same_v<T, OutputLine>) {
          if (!run.outputs.admit(msg.key, msg.value.size())) {
            events_.emit(
                Severity::kWarn, EventKind::kRunChannelError,
                {{"job", run.spec->name},
                 {"run", run.id.value},
                 {"error", "output " + msg.key + " dropped: the run's outputs would " + "pass " +
                               std::to_string(kMaxOutputBytes) + " bytes in all"}});
            return;
          }
          store_.put_output(run.id, msg.key, msg.value);
          events_.emit(Severity::kInfo, EventKind::kOutput,
                       {{"job", run.spec->name},
                        {"run", run.id.value},
                        {"key", msg.key},
                        {"bytes", msg.value.size()}});
          if (!to_end) read_on_when_committed(run);
        } else if constexpr (std::is_same_v<T, ProgressLine>) {
          run.progress = msg.percent;
          run.progress_message = msg.message;
          run.progress_unwritten = true;
          // Coalesced: a run that writes progress lines without pause costs a few store
          // writes and log lines a second, not one each (its end records the last anyway).
          if (to_end || clock_.mono_now() - run.progress_written >= kProgressInterval) {
            write_progress(run);
          }
        } else if constexpr (std::is_same_v<T, HeartbeatLine>) {
          events_.emit(Severity::kDebug, EventKind::kHeartbeat,
                       {{"job", run.spec->name}, {"run", run.id.value}});
        } else {
          run.reported_exit = msg.code;
        }
      },
      parsed.value());
}

void Supervisor::read_on_when_committed(Run& run) {
  // The run's next line waits until this checkpoint or output is committed: a run that goes
  // on after one may rely on it (the writer commits at once for a waiter).
  run.awaiting_commit = true;
  const RunId id = run.id;
  after_commit(store_, commit_gate_, [this, id](const Status&) {
    const auto it = runs_.find(id);
    if (it == runs_.end() || !it->second->awaiting_commit) return;
    it->second->awaiting_commit = false;
    handle_lines(*it->second, false);
  });
}

void Supervisor::write_progress(Run& run) {
  if (!run.progress_unwritten || !run.progress) return;
  run.progress_unwritten = false;
  run.progress_written = clock_.mono_now();
  store_.put_progress(run.id, *run.progress, run.progress_message);
  events_.emit(Severity::kInfo, EventKind::kProgress,
               {{"job", run.spec->name},
                {"run", run.id.value},
                {"percent", *run.progress},
                {"message", run.progress_message}});
}

}  // namespace skedd

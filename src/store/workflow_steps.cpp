#include "store/workflow_steps.h"

#include <cstdlib>

namespace skedd {

std::string encode_workflow_steps(const std::vector<WorkflowStepRecord>& steps) {
  std::string out;
  for (const WorkflowStepRecord& s : steps) {
    out += s.step + '\t' + to_string(s.state) + '\t' + to_string(s.reason) + '\t' +
           std::to_string(s.run.value) + '\n';
  }
  return out;
}

std::vector<WorkflowStepRecord> decode_workflow_steps(std::string_view text) {
  std::vector<WorkflowStepRecord> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    std::vector<std::string_view> f;
    for (std::size_t b = 0;;) {
      const std::size_t tab = line.find('\t', b);
      f.push_back(line.substr(b, tab == std::string_view::npos ? line.npos : tab - b));
      if (tab == std::string_view::npos) break;
      b = tab + 1;
    }
    if (f.size() != 4) continue;
    WorkflowStepRecord s;
    s.step = std::string(f[0]);
    s.state = step_state_from_string(f[1]).value_or(StepState::kUnknown);
    s.reason = skip_reason_from_string(f[2]).value_or(SkipReason::kNone);
    s.run = RunId{std::strtoull(std::string(f[3]).c_str(), nullptr, 10)};
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace skedd

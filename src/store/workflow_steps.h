// How both stores keep a workflow run's steps in one column: a line per step,
// "NAME<TAB>STATE<TAB>REASON<TAB>RUN" (step names and states hold neither a tab nor a newline).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "skedd/store/store.h"

namespace skedd {

std::string encode_workflow_steps(const std::vector<WorkflowStepRecord>& steps);
/// The steps of `text`; a line that is not four fields is left out.
std::vector<WorkflowStepRecord> decode_workflow_steps(std::string_view text);

}  // namespace skedd

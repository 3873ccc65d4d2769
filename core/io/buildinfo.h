#pragma once

// What the program was built from: the project's version and the git commit (12 hex
// digits, "... with local changes" when tracked files differed, "unknown" outside a git
// checkout). Written at build time by cmake/WriteBuildInfo.cmake.

namespace attnviz::io {

const char* attnvizVersion();
const char* attnvizCommit();

}  // namespace attnviz::io

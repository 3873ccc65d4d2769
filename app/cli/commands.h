#pragma once

#include <string>
#include <vector>

namespace attnviz::cli {

// Each subcommand takes the words after its name, prints JSON on stdout and returns
// the exit code; errors are thrown (UsageError, or a one-line runtime error).
int runInfo(const std::vector<std::string>& words);
int runAnalyze(const std::vector<std::string>& words);
int runTrain(const std::vector<std::string>& words);
int runEvaluate(const std::vector<std::string>& words);
int runRf(const std::vector<std::string>& words);
int runMad(const std::vector<std::string>& words);
int runErf(const std::vector<std::string>& words);
int runCka(const std::vector<std::string>& words);
int runExport(const std::vector<std::string>& words);
int runSkip(const std::vector<std::string>& words);
int runProbe(const std::vector<std::string>& words);
int runLocalize(const std::vector<std::string>& words);
int runTokens(const std::vector<std::string>& words);
int runMethods(const std::vector<std::string>& words);
int runBenchmark(const std::vector<std::string>& words);
int runAudit(const std::vector<std::string>& words);

// The METHOD lines of the usage text, from the method table.
std::string methodUsage();

}  // namespace attnviz::cli

#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::cli {

// A wrong command line; main() prints it with the usage hint and exits with 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// `--name value` options, `--flag` switches and positional words, checked against
// what a subcommand accepts so that a typo is an error, not a silently ignored word.
class Arguments {
public:
    // Options in `repeatable` may be given more than once (values() has them in order);
    // any other option given twice is an error.
    Arguments(const std::vector<std::string>& words, const std::set<std::string>& valueOptions,
              const std::set<std::string>& flags = {}, const std::set<std::string>& repeatable = {});

    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const;
    std::string required(const std::string& name) const;
    int intValue(const std::string& name, int fallback, int minimum) const;
    double doubleValue(const std::string& name, double fallback, double minimum, double maximum) const;
    // "ROW,COL" with both >= 0, e.g. --query 3,5
    std::optional<std::pair<int, int>> rowCol(const std::string& name) const;
    bool flag(const std::string& name) const { return m_flags.count(name) > 0; }
    const std::vector<std::string>& positional() const { return m_positional; }

private:
    std::map<std::string, std::string> m_values;  // the last of a repeatable option's
    std::map<std::string, std::vector<std::string>> m_repeated;
    std::set<std::string> m_flags;
    std::vector<std::string> m_positional;
};

}  // namespace attnviz::cli

#include "app/cli/arguments.h"

namespace attnviz::cli {

Arguments::Arguments(const std::vector<std::string>& words, const std::set<std::string>& valueOptions,
                     const std::set<std::string>& flags, const std::set<std::string>& repeatable)
{
    for (std::size_t i = 0; i < words.size(); ++i) {
        const auto& word = words[i];
        if (word.rfind("--", 0) != 0 || word.size() == 2) {
            m_positional.push_back(word);
            continue;
        }
        std::string name = word.substr(2);
        std::optional<std::string> inlineValue;
        if (auto eq = name.find('='); eq != std::string::npos) {
            inlineValue = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (flags.count(name) && !inlineValue) {
            m_flags.insert(name);
        } else if (valueOptions.count(name) || repeatable.count(name)) {
            if (!inlineValue && i + 1 >= words.size())
                throw UsageError("option --" + name + " needs a value");
            if (m_values.count(name) && !repeatable.count(name))
                throw UsageError("option --" + name + " given twice");
            m_values[name] = inlineValue ? *inlineValue : words[++i];
            if (repeatable.count(name))
                m_repeated[name].push_back(m_values[name]);
        } else {
            throw UsageError("unknown option --" + name);
        }
    }
}

std::optional<std::string> Arguments::value(const std::string& name) const
{
    auto it = m_values.find(name);
    return it == m_values.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::vector<std::string> Arguments::values(const std::string& name) const
{
    const auto it = m_repeated.find(name);
    return it == m_repeated.end() ? std::vector<std::string>() : it->second;
}

std::string Arguments::required(const std::string& name) const
{
    auto v = value(name);
    if (!v)
        throw UsageError("option --" + name + " is required");
    return *v;
}

int Arguments::intValue(const std::string& name, int fallback, int minimum) const
{
    auto v = value(name);
    if (!v)
        return fallback;
    try {
        std::size_t used = 0;
        const int n = std::stoi(*v, &used);
        if (used == v->size() && n >= minimum)
            return n;
    } catch (const std::exception&) {
    }
    throw UsageError("option --" + name + " needs an integer >= " + std::to_string(minimum) + ", got '" + *v + "'");
}

double Arguments::doubleValue(const std::string& name, double fallback, double minimum, double maximum) const
{
    auto v = value(name);
    if (!v)
        return fallback;
    try {
        std::size_t used = 0;
        const double x = std::stod(*v, &used);
        if (used == v->size() && x >= minimum && x <= maximum)  // also false for NaN
            return x;
    } catch (const std::exception&) {
    }
    throw UsageError("option --" + name + " needs a number in [" + std::to_string(minimum) + ", "
                     + std::to_string(maximum) + "], got '" + *v + "'");
}

std::optional<std::pair<int, int>> Arguments::rowCol(const std::string& name) const
{
    auto v = value(name);
    if (!v)
        return std::nullopt;
    const auto comma = v->find(',');
    try {
        std::size_t usedRow = 0, usedCol = 0;
        const auto rowText = v->substr(0, comma), colText = comma == std::string::npos ? "" : v->substr(comma + 1);
        const int row = std::stoi(rowText, &usedRow);
        const int col = std::stoi(colText, &usedCol);
        if (usedRow == rowText.size() && usedCol == colText.size() && row >= 0 && col >= 0)
            return std::make_pair(row, col);
    } catch (const std::exception&) {
    }
    throw UsageError("option --" + name + " needs ROW,COL (two integers >= 0), got '" + *v + "'");
}

}  // namespace attnviz::cli

#pragma once

#include "core/io/rawtensor.h"

#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

namespace attnviz::engine {

// Hands out a checkpoint's tensors by name as float32, checking shapes, and
// remembers what was taken so that leftovers (a silent partial load) are an error.
class WeightSource {
public:
    explicit WeightSource(const io::TensorMap& tensors)
        : m_tensors(tensors)
    {
    }

    bool has(const std::string& key) const { return m_tensors.count(key) > 0; }
    // Whether some key starts with `prefix`.
    bool hasAnyUnder(const std::string& prefix) const;
    std::vector<std::int64_t> shapeOf(const std::string& key) const;
    // Throws EngineError naming the key when it is missing or its shape differs
    // (-1 in `shape` matches any size).
    torch::Tensor take(const std::string& key, const std::vector<std::int64_t>& shape);
    torch::Tensor takeIfPresent(const std::string& key, const std::vector<std::int64_t>& shape);
    void ignore(const std::string& key) { m_taken.insert(key); }
    // Marks every key that starts with none of `prefixes` as used (a part of the file
    // the model does not need, e.g. CLIP's text tower).
    void ignoreAllExcept(const std::vector<std::string>& prefixes);
    // Marks every key that starts with one of `prefixes` as used.
    void ignoreAllUnder(const std::vector<std::string>& prefixes);
    // Throws EngineError naming the first key that no part of the model used.
    void expectAllTaken(const std::string& modelName) const;

private:
    void ignoreWhere(const std::vector<std::string>& prefixes, bool underOne);

    const io::TensorMap& m_tensors;
    std::set<std::string> m_taken;
};

// Counts consecutive indices: prefix<first><suffix>, prefix<first+1><suffix>, ... present
// in `s` (the blocks, stages or layers of a network).
int countIndexed(const WeightSource& s, const std::string& prefix, const std::string& suffix, int first = 0);

}  // namespace attnviz::engine

#pragma once

#include "core/engine/model/classifier.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnviz::engine {

// The model-randomisation sanity check (Adebayo et al., NeurIPS 2018, "Sanity checks for
// saliency maps", sec. 3.1, cascading randomisation): the weights are replaced by random
// ones module by module from the output down, and a map that barely changes cannot be
// explaining what the model learned.

// The model's parameters as modules in forward order (Classifier::namedParameters): a
// module is a name's first component, with the second when that is an index
// ("blocks.3", "layer2.1", "features.4", "head", "conv1"); consecutive names of one
// module together.
struct ParameterGroup {
    std::string name;
    std::vector<std::string> parameters;  // their checkpoint names
    std::vector<torch::Tensor> tensors;   // sharing storage with the model
};
std::vector<ParameterGroup> parameterGroups(const Classifier& model);

// Step k = 1 .. groups randomises the k-th group from the output (cascading: the ones
// after it stay random): each tensor gets normal values with its own mean and standard
// deviation (its scale kept, its learned values gone; a constant tensor gets 0.02), from
// a generator seeded with `seed`. After each step `visit(step, group name)` sees the
// model so randomised. The learned weights are back when this returns, and when `visit`
// throws.
void cascadingRandomisation(const Classifier& model, std::uint64_t seed,
                            const std::function<void(int, const std::string&)>& visit);

}  // namespace attnviz::engine

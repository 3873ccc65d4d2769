#pragma once

#include <string>

namespace attnviz::io {

class PickleValue;
class Unpickler;

// The Python vocabulary of torch.save files, for the restricted Unpickler: which
// globals a pickle may reference and what the opcodes that would call them build.
// Nothing is ever called or instantiated; each result is a PickleValue node.
//
// Allowed, for the tensors: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the torch.<T>Storage types of persistent ids.
// Allowed as inert training metadata (Kind::Object, contents dropped):
// argparse.Namespace (by NEWOBJ, or copyreg._reconstructor with builtins.object),
// numpy scalars (numpy.core.multiarray.scalar of a numpy.dtype and bytes, which
// protocol 2 spells as a _codecs.encode call). Every other global is refused by name
// when the GLOBAL opcode is read, and every other call shape is refused when it is run.
class TorchPickle {
public:
    explicit TorchPickle(Unpickler& nodes)
        : m_nodes(nodes)
    {
    }

    const PickleValue* global(const std::string& module, const std::string& name);
    const PickleValue* reduce(const PickleValue& callable, const PickleValue& args);
    const PickleValue* newObject(const PickleValue& type, const PickleValue& args);
    // BUILD: `state` would be assigned to `target`; it is checked and dropped.
    void build(const PickleValue& target, const PickleValue& state);
    const PickleValue* persistentLoad(const PickleValue& pid);

private:
    const PickleValue* rebuildTensor(const PickleValue& args);
    const PickleValue* rebuildParameter(const PickleValue& args);
    const PickleValue* reduceInert(const std::string& callable, const PickleValue& args);
    const PickleValue* makeObject(const std::string& type);
    [[noreturn]] void badArguments(const std::string& callable);

    Unpickler& m_nodes;  // owns the nodes, the limits and the error messages
};

}  // namespace attnviz::io

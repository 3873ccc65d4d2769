#pragma once

#include <string>

namespace attnviz::engine {

// The attention view's layer for a SigLIP-style attention-pooling head: its latent
// query's attention over the last block's tokens, the map that stands for CLS attention.
inline constexpr const char* kPoolLayer = "pool";

// What a view request's layer names: the method's default, a ViT block (a negative index
// counts from the end, -1 the last), every layer, a SigLIP-style attention-pooling head,
// or a CNN layer by name. As text (the command line, a request's key, PNG metadata):
// "", "3", "-1", "all", "pool", "layer3".
class LayerSelector {
public:
    enum class Kind { Default, Block, All, Pool, Named };

    LayerSelector() = default;  // the method's default (MethodLayer)
    static LayerSelector block(int index);
    static LayerSelector all();
    static LayerSelector pool();
    static LayerSelector named(std::string name);
    // Never fails: text that is none of the others is a layer's name ("layer3", "3x").
    static LayerSelector parse(const std::string& text);

    Kind kind() const { return m_kind; }
    bool isDefault() const { return m_kind == Kind::Default; }
    bool isAll() const { return m_kind == Kind::All; }
    bool isPool() const { return m_kind == Kind::Pool; }
    bool isBlock() const { return m_kind == Kind::Block; }
    // The block in 0..depth-1 it names. Throws EngineError for another kind or a block
    // the model does not have.
    int blockIn(int depth) const;
    std::string text() const;

    friend bool operator==(const LayerSelector& a, const LayerSelector& b)
    {
        return a.m_kind == b.m_kind && a.m_block == b.m_block && a.m_name == b.m_name;
    }
    friend bool operator!=(const LayerSelector& a, const LayerSelector& b) { return !(a == b); }

private:
    Kind m_kind = Kind::Default;
    int m_block = 0;     // Block
    std::string m_name;  // Named
};

}  // namespace attnviz::engine

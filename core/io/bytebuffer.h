#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace attnviz::io {

// The bytes of one tensor as a reader fills them: one aligned allocation that is not
// zero-filled first, so that loading a checkpoint writes each byte once (the read),
// and that the engine can hand to LibTorch without copying it (see shared()).
// Copies are deep, like the std::vector this replaces; moves are free.
class ByteBuffer {
public:
    ByteBuffer() = default;
    explicit ByteBuffer(std::size_t size);  // uninitialised contents
    ByteBuffer(const std::uint8_t* data, std::size_t size);
    ByteBuffer(const ByteBuffer& other);
    ByteBuffer& operator=(const ByteBuffer& other);
    // A moved-from buffer is empty, as a moved-from vector is.
    ByteBuffer(ByteBuffer&& other) noexcept;
    ByteBuffer& operator=(ByteBuffer&& other) noexcept;

    std::uint8_t* data() { return m_data.get(); }
    const std::uint8_t* data() const { return m_data.get(); }
    std::size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }
    std::uint8_t* begin() { return data(); }
    std::uint8_t* end() { return data() + m_size; }
    const std::uint8_t* begin() const { return data(); }
    const std::uint8_t* end() const { return data() + m_size; }

    // The allocation itself, for a tensor that aliases these bytes and must keep them
    // alive after this buffer goes; whoever writes through it writes into this buffer.
    std::shared_ptr<std::uint8_t> shared() const { return m_data; }

    friend bool operator==(const ByteBuffer& a, const ByteBuffer& b);

private:
    std::shared_ptr<std::uint8_t> m_data;
    std::size_t m_size = 0;
};

}  // namespace attnviz::io

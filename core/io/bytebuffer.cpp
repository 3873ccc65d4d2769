#include "core/io/bytebuffer.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

namespace attnviz::io {
namespace {

// 64 bytes suit every vector unit LibTorch uses. Huge pages (madvise) would make the
// page faults of a large read 512 times fewer, but measured on a VM they made a load
// after another process had freed its memory up to 4 times slower (the host backs
// freed 2 MiB blocks lazily), so plain pages it is: see docs/benchmarks.md.
constexpr std::size_t kAlignment = 64;

std::uint8_t* allocateUninitialised(std::size_t size)
{
    if (size > std::numeric_limits<std::size_t>::max() - kAlignment)
        throw std::bad_alloc();
    const std::size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
    void* memory = std::aligned_alloc(kAlignment, rounded);
    if (!memory)
        throw std::bad_alloc();
    return static_cast<std::uint8_t*>(memory);
}

}  // namespace

ByteBuffer::ByteBuffer(std::size_t size)
    : m_data(size ? allocateUninitialised(size) : nullptr, [](std::uint8_t* p) { std::free(p); })
    , m_size(size)
{
}

ByteBuffer::ByteBuffer(const std::uint8_t* data, std::size_t size)
    : ByteBuffer(size)
{
    if (size)
        std::memcpy(m_data.get(), data, size);
}

ByteBuffer::ByteBuffer(const ByteBuffer& other)
    : ByteBuffer(other.data(), other.size())
{
}

ByteBuffer::ByteBuffer(ByteBuffer&& other) noexcept
    : m_data(std::move(other.m_data))
    , m_size(std::exchange(other.m_size, 0))
{
}

ByteBuffer& ByteBuffer::operator=(ByteBuffer&& other) noexcept
{
    m_data = std::move(other.m_data);
    m_size = std::exchange(other.m_size, 0);
    return *this;
}

ByteBuffer& ByteBuffer::operator=(const ByteBuffer& other)
{
    if (this != &other)
        *this = ByteBuffer(other);
    return *this;
}

bool operator==(const ByteBuffer& a, const ByteBuffer& b)
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace attnviz::io

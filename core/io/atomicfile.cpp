#include "core/io/atomicfile.h"

#include "core/io/rawtensor.h"

#include <cstdio>
#include <filesystem>

namespace attnviz::io {

AtomicFile::AtomicFile(std::string path)
    : m_path(std::move(path))
    , m_tempPath(m_path + ".partial")
    , m_out(m_tempPath, std::ios::binary | std::ios::trunc)
{
    if (!m_out)
        throw FormatError("cannot write '" + m_path + "'");
}

AtomicFile::~AtomicFile()
{
    if (!m_committed) {
        m_out.close();
        std::remove(m_tempPath.c_str());
    }
}

void AtomicFile::write(const void* data, std::size_t size)
{
    if (size && !m_out.write(static_cast<const char*>(data), std::streamsize(size)))
        throw FormatError("cannot write '" + m_path + "' (disk full?)");
}

void AtomicFile::commit()
{
    m_out.close();
    if (!m_out)
        throw FormatError("cannot finish writing '" + m_path + "' (disk full?)");
    std::error_code ec;
    std::filesystem::rename(m_tempPath, m_path, ec);
    if (ec)
        throw FormatError("cannot move the written file into place at '" + m_path + "': " + ec.message());
    m_committed = true;
}

}  // namespace attnviz::io

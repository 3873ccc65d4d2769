#pragma once

#include <cstddef>
#include <fstream>
#include <string>

namespace attnviz::io {

// Writes to "<path>.partial" and renames it over `path` on commit(). If commit() is
// never reached (error, exception, Ctrl-C) the temporary is removed and `path` keeps
// its previous content: nothing is ever half-written.
class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t size);
    void commit();

private:
    std::string m_path;
    std::string m_tempPath;
    std::ofstream m_out;
    bool m_committed = false;
};

}  // namespace attnviz::io

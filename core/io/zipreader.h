#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace attnviz::io {

struct ZipEntry {
    std::string name;
    std::uint16_t method = 0;  // 0 = stored; anything else is compressed
    std::uint64_t compressedSize = 0;
    std::uint64_t uncompressedSize = 0;
    std::uint64_t localHeaderOffset = 0;
};

// Reads the directory of a zip archive (zip64 included) and the bytes of its
// uncompressed entries, seeking in the file instead of loading it: checkpoints can be
// many GB. Every offset and size from the file is checked against the file size, so a
// malformed or hostile archive gives a FormatError, never a huge allocation.
// Not thread-safe: reads share one stream.
class ZipReader {
public:
    explicit ZipReader(const std::string& path);

    const std::string& path() const { return m_path; }
    std::uint64_t fileSize() const { return m_fileSize; }
    const std::vector<ZipEntry>& entries() const { return m_entries; }
    const ZipEntry* find(const std::string& name) const;  // nullptr when absent

    // Copies `size` bytes starting `offset` bytes into a stored entry to `dest`.
    void read(const ZipEntry& entry, std::uint64_t offset, void* dest, std::uint64_t size);
    std::vector<std::uint8_t> read(const ZipEntry& entry);

private:
    struct EndRecord {
        std::uint64_t entryCount = 0;
        std::uint64_t directorySize = 0;
        std::uint64_t directoryOffset = 0;
    };

    std::vector<std::uint8_t> readAt(std::uint64_t offset, std::uint64_t size, const char* what);
    EndRecord readEndRecord();
    void readZip64EndRecord(std::uint64_t endRecordPos, EndRecord& record);
    void readCentralDirectory(const EndRecord& record);
    std::uint64_t dataOffset(const ZipEntry& entry);
    [[noreturn]] void fail(const std::string& problem) const;

    std::string m_path;
    std::ifstream m_file;
    std::uint64_t m_fileSize = 0;
    std::vector<ZipEntry> m_entries;
    std::map<std::string, std::size_t> m_index;  // name -> position in m_entries
};

}  // namespace attnviz::io

#include "core/io/zipreader.h"

#include "core/io/bytes.h"

#include "core/io/rawtensor.h"

#include <algorithm>
#include <limits>

namespace attnviz::io {
namespace {

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr std::uint32_t kEndRecordSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndRecordSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEndRecordSize = 22;
constexpr std::uint64_t kZip64EndRecordSize = 56;
constexpr std::uint64_t kZip64LocatorSize = 20;
constexpr std::uint64_t kMaxCommentSize = 0xffff;
constexpr std::uint32_t kSentinel32 = 0xffffffff;

// True when [offset, offset + size) lies inside [0, limit), without overflowing.
bool fitsIn(std::uint64_t offset, std::uint64_t size, std::uint64_t limit)
{
    return offset <= limit && size <= limit - offset;
}

// Replaces the 32-bit fields set to 0xffffffff with the 64-bit values that the zip64
// extra field lists, in the order the specification fixes.
bool applyZip64Extra(const std::uint8_t* extra, std::size_t size, ZipEntry& entry)
{
    std::size_t pos = 0;
    while (pos + 4 <= size) {
        const std::uint16_t id = readLe16(extra + pos);
        const std::size_t blockSize = readLe16(extra + pos + 2);
        pos += 4;
        if (blockSize > size - pos)
            return false;
        if (id == kZip64ExtraId) {
            const std::uint8_t* field = extra + pos;
            std::size_t left = blockSize;
            for (std::uint64_t* value : {&entry.uncompressedSize, &entry.compressedSize, &entry.localHeaderOffset}) {
                if (*value != kSentinel32)
                    continue;
                if (left < 8)
                    return false;
                *value = readLe64(field);
                field += 8;
                left -= 8;
            }
        }
        pos += blockSize;
    }
    return true;
}

}  // namespace

ZipReader::ZipReader(const std::string& path)
    : m_path(path)
    , m_file(path, std::ios::binary)
{
    if (!m_file)
        fail("cannot open the file");
    m_file.seekg(0, std::ios::end);
    const std::streamoff end = m_file.tellg();
    if (end < 0)
        fail("cannot determine the file size");
    m_fileSize = static_cast<std::uint64_t>(end);
    readCentralDirectory(readEndRecord());
}

const ZipEntry* ZipReader::find(const std::string& name) const
{
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_entries[it->second];
}

void ZipReader::read(const ZipEntry& entry, std::uint64_t offset, void* dest, std::uint64_t size)
{
    if (entry.method != 0)
        fail("zip entry '" + printable(entry.name) + "' is compressed (method " + std::to_string(entry.method)
             + "); only stored (uncompressed) entries are supported, as torch.save writes");
    if (entry.compressedSize != entry.uncompressedSize)
        fail("zip entry '" + printable(entry.name) + "' is stored but its compressed and uncompressed sizes differ");
    if (!fitsIn(offset, size, entry.uncompressedSize))
        fail("read past the end of zip entry '" + printable(entry.name) + "'");
    const std::uint64_t start = dataOffset(entry) + offset;
    if (size == 0)
        return;
    m_file.clear();
    m_file.seekg(static_cast<std::streamoff>(start));
    m_file.read(static_cast<char*>(dest), static_cast<std::streamsize>(size));
    if (!m_file || static_cast<std::uint64_t>(m_file.gcount()) != size)
        fail("cannot read zip entry '" + printable(entry.name) + "'");
}

std::vector<std::uint8_t> ZipReader::read(const ZipEntry& entry)
{
    // Validate before allocating: the size is only trusted once it fits in the file.
    read(entry, 0, nullptr, 0);
    std::vector<std::uint8_t> bytes(entry.uncompressedSize);
    read(entry, 0, bytes.data(), bytes.size());
    return bytes;
}

std::vector<std::uint8_t> ZipReader::readAt(std::uint64_t offset, std::uint64_t size, const char* what)
{
    if (!fitsIn(offset, size, m_fileSize))
        fail(std::string(what) + " lies outside the file (is it truncated?)");
    std::vector<std::uint8_t> bytes(size);
    m_file.clear();
    m_file.seekg(static_cast<std::streamoff>(offset));
    m_file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (!m_file || static_cast<std::uint64_t>(m_file.gcount()) != size)
        fail(std::string("cannot read the ") + what);
    return bytes;
}

ZipReader::EndRecord ZipReader::readEndRecord()
{
    // The end record is 22 bytes followed by a comment of at most 64 KiB: scan that
    // tail backwards for the signature.
    const std::uint64_t tailSize = std::min(m_fileSize, kEndRecordSize + kMaxCommentSize);
    const std::uint64_t tailStart = m_fileSize - tailSize;
    const std::vector<std::uint8_t> tail = readAt(tailStart, tailSize, "end of the file");
    for (std::uint64_t i = tailSize >= kEndRecordSize ? tailSize - kEndRecordSize + 1 : 0; i-- > 0;) {
        const std::uint8_t* p = tail.data() + i;
        if (readLe32(p) != kEndRecordSignature || i + kEndRecordSize + readLe16(p + 20) > tailSize)
            continue;
        EndRecord record{readLe16(p + 10), readLe32(p + 12), readLe32(p + 16)};
        // 0xffff in a disk field defers to the zip64 record, checked there.
        for (int field : {4, 6})
            if (readLe16(p + field) != 0 && readLe16(p + field) != 0xffff)
                fail("multi-part zip archives are not supported");
        readZip64EndRecord(tailStart + i, record);
        return record;
    }
    fail("not a zip archive, or it is truncated (no end-of-central-directory record)");
}

void ZipReader::readZip64EndRecord(std::uint64_t endRecordPos, EndRecord& record)
{
    if (endRecordPos < kZip64LocatorSize)
        return;
    const auto locator = readAt(endRecordPos - kZip64LocatorSize, kZip64LocatorSize, "zip64 locator");
    if (readLe32(locator.data()) != kZip64LocatorSignature)
        return;
    const auto zip64 = readAt(readLe64(locator.data() + 8), kZip64EndRecordSize, "zip64 end record");
    if (readLe32(zip64.data()) != kZip64EndRecordSignature)
        fail("the zip64 end-of-central-directory record is missing or corrupt");
    if (readLe32(zip64.data() + 16) != 0 || readLe32(zip64.data() + 20) != 0)
        fail("multi-part zip archives are not supported");
    record.entryCount = readLe64(zip64.data() + 32);
    record.directorySize = readLe64(zip64.data() + 40);
    record.directoryOffset = readLe64(zip64.data() + 48);
}

void ZipReader::readCentralDirectory(const EndRecord& record)
{
    if (!fitsIn(record.directoryOffset, record.directorySize, m_fileSize))
        fail("the zip central directory lies outside the file (is it truncated?)");
    if (record.entryCount > record.directorySize / kCentralHeaderSize)
        fail("the zip central directory is too small for its entry count");
    const auto dir = readAt(record.directoryOffset, record.directorySize, "zip central directory");
    m_entries.reserve(record.entryCount);
    std::uint64_t pos = 0;
    for (std::uint64_t i = 0; i < record.entryCount; ++i) {
        if (!fitsIn(pos, kCentralHeaderSize, dir.size()) || readLe32(dir.data() + pos) != kCentralHeaderSignature)
            fail("the zip central directory is corrupt (entry " + std::to_string(i) + ")");
        const std::uint8_t* p = dir.data() + pos;
        const std::uint64_t nameSize = readLe16(p + 28);
        const std::uint64_t extraSize = readLe16(p + 30);
        const std::uint64_t recordSize = kCentralHeaderSize + nameSize + extraSize + readLe16(p + 32);
        if (!fitsIn(pos, recordSize, dir.size()))
            fail("the zip central directory is truncated (entry " + std::to_string(i) + ")");
        ZipEntry entry;
        entry.name.assign(reinterpret_cast<const char*>(p + kCentralHeaderSize), nameSize);
        entry.method = readLe16(p + 10);
        entry.compressedSize = readLe32(p + 20);
        entry.uncompressedSize = readLe32(p + 24);
        entry.localHeaderOffset = readLe32(p + 42);
        if (!applyZip64Extra(p + kCentralHeaderSize + nameSize, extraSize, entry))
            fail("zip entry '" + printable(entry.name) + "' has a malformed zip64 field");
        if (readLe16(p + 8) & 0x1)
            fail("zip entry '" + printable(entry.name) + "' is encrypted");
        if (!fitsIn(entry.localHeaderOffset, kLocalHeaderSize, m_fileSize))
            fail("zip entry '" + printable(entry.name) + "' lies outside the file");
        // Readers disagree on which of two same-named entries counts (Python's zipfile
        // takes the last), so an archive that has them has no one meaning.
        if (!m_index.emplace(entry.name, m_entries.size()).second)
            fail("the archive holds two entries named '" + printable(entry.name) + "'");
        m_entries.push_back(std::move(entry));
        pos += recordSize;
    }
}

std::uint64_t ZipReader::dataOffset(const ZipEntry& entry)
{
    // The local header repeats name and extra field with possibly different lengths
    // (torch pads it for alignment); its sizes may be zero, so the central directory's
    // sizes are the ones used.
    const auto header = readAt(entry.localHeaderOffset, kLocalHeaderSize, "zip local header");
    if (readLe32(header.data()) != kLocalHeaderSignature)
        fail("zip entry '" + printable(entry.name) + "' has a corrupt local header");
    const std::uint64_t offset = entry.localHeaderOffset + kLocalHeaderSize + readLe16(header.data() + 26)
                                 + readLe16(header.data() + 28);
    if (!fitsIn(offset, entry.compressedSize, m_fileSize))
        fail("zip entry '" + printable(entry.name) + "' extends past the end of the file (is it truncated?)");
    return offset;
}

void ZipReader::fail(const std::string& problem) const
{
    throw FormatError(m_path + ": " + problem);
}

}  // namespace attnviz::io

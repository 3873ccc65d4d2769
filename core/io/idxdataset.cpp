#include "core/io/idxdataset.h"

#include "core/io/rawtensor.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <tuple>

namespace attnviz::io {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
constexpr std::uint32_t kMaxCount = 10'000'000;
constexpr std::uint32_t kMaxSide = 4096;
constexpr std::uint64_t kMaxPixelBytes = 4ull << 30;

// gzread reads plain files too, so one reader serves both.
class IdxFile {
public:
    explicit IdxFile(std::string path)
        : m_path(std::move(path))
        , m_file(gzopen(m_path.c_str(), "rb"), &gzclose)
    {
        if (!m_file)
            throw FormatError("cannot open '" + m_path + "'");
    }

    void read(void* out, std::size_t bytes)
    {
        auto* dest = static_cast<char*>(out);
        while (bytes > 0) {
            const unsigned chunk = unsigned(std::min<std::size_t>(bytes, 1u << 30));
            const int got = gzread(m_file.get(), dest, chunk);
            if (got <= 0)
                throw FormatError("'" + m_path + "' is truncated or not a valid IDX file");
            dest += got;
            bytes -= std::size_t(got);
        }
    }

    std::uint32_t readBigEndian32()
    {
        unsigned char b[4];
        read(b, 4);
        return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    }

    // `bytes` bytes into a buffer that grows only as data arrives, so a file that
    // declares more than it holds fails before most of the buffer exists.
    std::vector<std::uint8_t> readGrowing(std::size_t bytes)
    {
        constexpr std::size_t kStep = 64u << 20;
        std::vector<std::uint8_t> out;
        while (out.size() < bytes) {
            const std::size_t chunk = std::min(kStep, bytes - out.size());
            out.resize(out.size() + chunk);
            read(out.data() + out.size() - chunk, chunk);
        }
        return out;
    }

    // Whether the file can hold `bytes` more bytes after its `headerBytes`: exactly for
    // a plain file; for gzip, deflate's largest ratio (1032:1) bounds what it can expand to.
    bool canHold(std::uint64_t headerBytes, std::uint64_t bytes) const
    {
        std::error_code ec;
        const auto size = std::filesystem::file_size(m_path, ec);
        if (ec)
            return true;  // read() will tell
        const bool gzip = gzdirect(m_file.get()) == 0;
        return gzip ? bytes / 1032 <= size : headerBytes + bytes <= size;
    }

    const std::string& path() const { return m_path; }

private:
    std::string m_path;
    std::unique_ptr<gzFile_s, int (*)(gzFile)> m_file;
};

std::string findFile(const std::string& dir, const std::string& stem)
{
    namespace fs = std::filesystem;
    for (const auto& name : {stem + ".gz", stem}) {
        const auto path = fs::path(dir) / name;
        if (fs::is_regular_file(path))
            return path.string();
    }
    throw FormatError("data folder '" + dir + "' has no " + stem + "[.gz]");
}

void expectMagic(IdxFile& file, std::uint32_t magic)
{
    const auto actual = file.readBigEndian32();
    if (actual != magic)
        throw FormatError("'" + file.path() + "' has magic number " + std::to_string(actual) + ", expected "
                          + std::to_string(magic) + " (is it an IDX " + (magic == kImagesMagic ? "image" : "label")
                          + " file?)");
}

std::uint32_t readBounded(IdxFile& file, std::uint32_t limit, const char* what)
{
    const auto v = file.readBigEndian32();
    if (v == 0 || v > limit)
        throw FormatError("'" + file.path() + "' declares " + std::to_string(v) + " " + what + ", out of range");
    return v;
}

}  // namespace

IdxDataset readIdxDataset(const std::string& dir, const std::string& split)
{
    IdxDataset data;
    IdxFile images(findFile(dir, split + "-images-idx3-ubyte"));
    expectMagic(images, kImagesMagic);
    data.count = int(readBounded(images, kMaxCount, "images"));
    data.rows = int(readBounded(images, kMaxSide, "rows"));
    data.cols = int(readBounded(images, kMaxSide, "columns"));

    if (std::uint64_t(data.count) * std::uint64_t(data.rows) * std::uint64_t(data.cols) > kMaxPixelBytes)
        throw FormatError("'" + images.path() + "' declares " + std::to_string(data.count) + " images of "
                          + std::to_string(data.rows) + "x" + std::to_string(data.cols) + ", over the 4 GiB limit");

    IdxFile labels(findFile(dir, split + "-labels-idx1-ubyte"));
    expectMagic(labels, kLabelsMagic);
    const auto labelCount = readBounded(labels, kMaxCount, "labels");
    if (labelCount != std::uint32_t(data.count))
        throw FormatError("'" + labels.path() + "' has " + std::to_string(labelCount) + " labels but '" + images.path()
                          + "' has " + std::to_string(data.count) + " images");
    const std::uint64_t pixelBytes = std::uint64_t(data.count) * std::uint64_t(data.rows) * std::uint64_t(data.cols);
    for (auto [file, header, bytes] :
         {std::tuple{&images, 16u, pixelBytes}, std::tuple{&labels, 8u, std::uint64_t(data.count)}})
        if (!file->canHold(header, bytes))
            throw FormatError("'" + file->path() + "' declares " + std::to_string(bytes) + " bytes of data but is "
                              + "too small to hold them (truncated?)");
    data.pixels = images.readGrowing(pixelBytes);
    data.labels = labels.readGrowing(std::size_t(data.count));
    return data;
}

bool holdsIdxSplit(const std::string& dir, const std::string& split)
{
    const auto labels = std::filesystem::path(dir) / (split + "-labels-idx1-ubyte");
    return std::filesystem::exists(labels) || std::filesystem::exists(labels.string() + ".gz");
}

}  // namespace attnviz::io

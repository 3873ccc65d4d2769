#include "core/io/safetensorsheader.h"

#include "core/io/bytes.h"
#include "core/io/rawtensor.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <set>

namespace attnviz::io {
namespace {

using Json = nlohmann::json;

constexpr int kMaxDepth = 128;
constexpr std::size_t kMaxRank = 64;
// The largest public checkpoints hold a few thousand tensors per file; a header of
// 100 MB could otherwise list two million empty ones, each costing far more memory
// than its 50 bytes of text.
constexpr std::size_t kMaxTensors = 100'000;

// Where the parse is: depth 1 is the top object, 2 an entry (or the metadata), 3 a
// field's array. Values nobody reads are skipped by counting their nesting.
class HeaderHandler : public nlohmann::json_sax<Json> {
public:
    SafetensorsHeader header;
    std::string error;

    bool null() override { return scalar("null"); }
    bool boolean(bool) override { return scalar("a boolean"); }
    bool number_integer(number_integer_t value) override
    {
        return value < 0 ? scalar("a negative number") : number_unsigned(number_unsigned_t(value));
    }
    bool number_unsigned(number_unsigned_t value) override
    {
        if (m_skipDepth)
            return true;
        if (m_depth == 3 && m_field == "shape") {
            if (value > number_unsigned_t(std::numeric_limits<std::int64_t>::max()))
                return fail("entry '" + printable(m_entry.name) + "' has a dimension too large for 64 bits");
            if (m_entry.shape.size() == kMaxRank)
                return fail("entry '" + printable(m_entry.name) + "' has more than " + std::to_string(kMaxRank)
                            + " dimensions");
            m_entry.shape.push_back(std::int64_t(value));
            return true;
        }
        if (m_depth == 3 && m_field == "data_offsets") {
            if (++m_offsetCount > 2)
                return fail("entry '" + printable(m_entry.name) + "' needs data_offsets [begin, end]");
            (m_offsetCount == 1 ? m_entry.begin : m_entry.end) = value;
            return true;
        }
        return scalar("a number");
    }
    bool number_float(number_float_t, const string_t&) override { return scalar("a fraction"); }
    bool binary(binary_t&) override { return scalar("binary data"); }

    bool string(string_t& value) override
    {
        if (m_skipDepth)
            return true;
        if (m_depth == 2 && m_inMetadata) {
            header.metadata[m_key] = value;
            return true;
        }
        if (m_depth == 2 && m_field == "dtype") {
            const auto dtype = dtypeFromName(value);
            if (!dtype)
                return fail("entry '" + printable(m_entry.name) + "' has an unknown dtype '" + printable(value) + "'");
            m_entry.dtype = *dtype;
            m_seen.insert("dtype");
            return true;
        }
        return scalar("a string");
    }

    bool start_object(std::size_t) override { return open('{'); }
    bool start_array(std::size_t) override { return open('['); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }

    bool key(string_t& value) override
    {
        if (m_skipDepth)
            return true;
        if (m_depth == 1) {  // a tensor name or __metadata__
            if (!m_names.insert(value).second)
                return fail("'" + printable(value) + "' appears twice in the header");
            m_inMetadata = value == "__metadata__";
            if (!m_inMetadata && ++m_tensorCount > kMaxTensors)
                return fail("the header lists more than " + std::to_string(kMaxTensors) + " tensors");
            m_entry = {};
            m_entry.name = value;
            m_seen.clear();
            return true;
        }
        if (m_depth == 2 && m_inMetadata) {
            m_key = value;
            return true;
        }
        if (m_depth == 2) {
            if (!m_fields.insert(value).second)
                return fail("entry '" + printable(m_entry.name) + "' gives '" + printable(value) + "' twice");
            m_field = value;
            return true;
        }
        return true;
    }

    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override
    {
        return fail("the header is not valid UTF-8 JSON (at byte " + std::to_string(position) + ")");
    }

private:
    bool fail(std::string why)
    {
        if (error.empty())
            error = std::move(why);
        return false;
    }

    bool known(const std::string& field) const
    {
        return field == "dtype" || field == "shape" || field == "data_offsets";
    }

    // A scalar where the format has none (or an unknown field's value, skipped).
    bool scalar(const char* what)
    {
        if (m_skipDepth || (m_depth == 2 && !m_inMetadata && !known(m_field)))
            return true;
        if (m_depth == 0)
            return fail("the header is not a JSON object");
        if (m_depth == 1)
            return fail(m_inMetadata ? "__metadata__ is not an object"
                                     : "entry '" + printable(m_entry.name) + "' is " + what + ", not an object");
        if (m_inMetadata)
            return fail("__metadata__ value of '" + printable(m_key) + "' is not a string");
        return fail("entry '" + printable(m_entry.name) + "' has " + what + " in its " + m_field);
    }

    bool open(char bracket)
    {
        if (++m_depth > kMaxDepth)
            return fail("the header nests values more than " + std::to_string(kMaxDepth) + " levels deep");
        if (m_skipDepth) {
            ++m_skipDepth;
            return true;
        }
        switch (m_depth) {
        case 1: return bracket == '{' || fail("the header is not a JSON object");
        case 2:
            if (bracket != '{')
                return fail(m_inMetadata ? "__metadata__ is not an object"
                                         : "entry '" + printable(m_entry.name) + "' is an array, not an object");
            m_fields.clear();
            return true;
        case 3:
            if (m_inMetadata)
                return fail("__metadata__ value of '" + printable(m_key) + "' is not a string");
            if (!known(m_field)) {
                m_skipDepth = 1;
                return true;
            }
            if (bracket != '[' || m_field == "dtype")
                return fail("entry '" + printable(m_entry.name) + "' has a " + m_field + " that is not "
                            + (m_field == "dtype" ? "a string" : "a list"));
            m_offsetCount = 0;
            m_seen.insert(m_field);
            return true;
        default:  // an array inside shape or data_offsets
            return fail("entry '" + printable(m_entry.name) + "' has a nested list in its " + m_field);
        }
    }

    bool close()
    {
        --m_depth;
        if (m_skipDepth) {
            --m_skipDepth;
            return true;
        }
        if (m_depth == 2 && m_field == "data_offsets" && m_offsetCount != 2)
            return fail("entry '" + printable(m_entry.name) + "' needs data_offsets [begin, end]");
        if (m_depth == 1 && !m_inMetadata) {  // an entry's object closed
            if (m_seen.size() != 3)
                return fail("entry '" + printable(m_entry.name) + "' needs dtype, shape and data_offsets");
            header.entries.push_back(std::move(m_entry));
            m_entry = {};
        }
        return true;
    }

    int m_depth = 0;
    int m_skipDepth = 0;  // > 0 inside a value nobody reads
    bool m_inMetadata = false;
    std::string m_key;    // the metadata key being read
    std::string m_field;  // the entry field being read
    int m_offsetCount = 0;
    std::size_t m_tensorCount = 0;
    SafetensorsHeaderEntry m_entry;
    std::set<std::string> m_names;
    std::set<std::string> m_fields;
    std::set<std::string> m_seen;  // of dtype, shape, data_offsets
};

}  // namespace

SafetensorsHeader parseSafetensorsHeader(const std::string& text)
{
    HeaderHandler handler;
    const bool parsed = Json::sax_parse(text, &handler);
    if (!parsed)
        throw FormatError(handler.error.empty() ? "the header is not valid UTF-8 JSON" : handler.error);
    return std::move(handler.header);
}

}  // namespace attnviz::io

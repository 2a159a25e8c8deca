#include "encore/io/container.hpp"

#include <xxhash.h>

#include <cstring>

#include "encore/io/atomic_file.hpp"

namespace encore {

namespace {

// Header: magic[8] | u32 version | u32 section_count | u64 file_bytes | u64 table_checksum |
//         u64 header_checksum (of bytes 0..31) | 24 reserved zero bytes          = 64 bytes
// Table entry: name[32] | u64 offset | u64 bytes | u64 checksum | u64 reserved   = 64 bytes
struct Header {
    char magic[8];
    std::uint32_t version;
    std::uint32_t section_count;
    std::uint64_t file_bytes;
    std::uint64_t table_checksum;
    std::uint64_t header_checksum;
    std::uint8_t reserved[24];
};
struct TableEntry {
    char name[kSectionNameBytes];
    std::uint64_t offset;
    std::uint64_t bytes;
    std::uint64_t checksum;
    std::uint64_t reserved;
};
static_assert(sizeof(Header) == 64 && sizeof(TableEntry) == 64);

std::size_t align_up(std::size_t x) { return (x + kContainerAlign - 1) / kContainerAlign * kContainerAlign; }

std::string magic_text(const char* m) {
    std::string s;
    for (int i = 0; i < 8; ++i) {
        unsigned char c = static_cast<unsigned char>(m[i]);
        s += (c >= 32 && c < 127) ? static_cast<char>(c) : '.';
    }
    return s;
}

}  // namespace

std::uint64_t checksum64(std::span<const std::byte> data) { return XXH3_64bits(data.data(), data.size()); }

void ContainerWriter::add(std::string name, std::span<const std::byte> data) {
    if (name.empty() || name.size() >= kSectionNameBytes)
        throw Error(fmt::format("section name '{}' must be 1..{} characters", name, kSectionNameBytes - 1));
    for (const auto& s : sections_)
        if (s.name == name) throw Error(fmt::format("duplicate section '{}'", name));
    sections_.push_back({std::move(name), data, nullptr});
}

void ContainerWriter::add_text(std::string name, std::string text) {
    auto owned = std::make_shared<std::string>(std::move(text));
    add(std::move(name), std::as_bytes(std::span<const char>(owned->data(), owned->size())));
    sections_.back().owned = std::move(owned);
}

void ContainerWriter::write(const std::string& path) const {
    std::vector<TableEntry> table(sections_.size());
    std::size_t offset = align_up(sizeof(Header) + table.size() * sizeof(TableEntry));
    for (std::size_t i = 0; i < sections_.size(); ++i) {
        TableEntry& e = table[i];
        std::memset(&e, 0, sizeof e);
        std::memcpy(e.name, sections_[i].name.data(), sections_[i].name.size());
        e.offset = offset;
        e.bytes = sections_[i].data.size();
        e.checksum = checksum64(sections_[i].data);
        offset = align_up(offset + e.bytes);
    }
    Header h;
    std::memset(&h, 0, sizeof h);
    std::memcpy(h.magic, magic_.data(), 8);
    h.version = version_;
    h.section_count = static_cast<std::uint32_t>(table.size());
    h.file_bytes = offset;
    h.table_checksum = checksum64(std::as_bytes(std::span<const TableEntry>(table)));
    h.header_checksum = XXH3_64bits(&h, 32);

    AtomicFile out(path);
    out.write(&h, sizeof h);
    out.write(table.data(), table.size() * sizeof(TableEntry));
    for (std::size_t i = 0; i < sections_.size(); ++i) {
        out.write_zeros(table[i].offset - out.position());
        out.write(sections_[i].data.data(), sections_[i].data.size());
    }
    out.write_zeros(offset - out.position());
    out.commit();
}

ContainerReader ContainerReader::open(const std::string& path, Magic magic, std::uint32_t max_version,
                                      bool verify) {
    ContainerReader r;
    r.file_ = MappedFile::open(path);
    auto bytes = r.file_->bytes();
    if (bytes.size() < sizeof(Header))
        throw FormatError(path, fmt::format("file is {} bytes, too short for an encore header (truncated?)",
                                            bytes.size()));
    Header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    if (std::memcmp(h.magic, magic.data(), 8) != 0)
        throw FormatError(path, fmt::format("not a {} file (magic '{}', expected '{}')",
                                            magic_text(magic.data()), magic_text(h.magic),
                                            magic_text(magic.data())));
    if (XXH3_64bits(&h, 32) != h.header_checksum) throw FormatError(path, "header checksum mismatch (corrupted file)");
    if (h.version == 0 || h.version > max_version)
        throw FormatError(path, fmt::format("format version {} is not supported (this build reads 1..{})",
                                            h.version, max_version));
    if (h.file_bytes != bytes.size())
        throw FormatError(path, fmt::format("file is {} bytes but its header says {} (truncated or extended)",
                                            bytes.size(), h.file_bytes));
    std::size_t table_bytes = static_cast<std::size_t>(h.section_count) * sizeof(TableEntry);
    if (sizeof(Header) + table_bytes > bytes.size()) throw FormatError(path, "section table runs past the end of the file");
    std::vector<TableEntry> table(h.section_count);
    std::memcpy(table.data(), bytes.data() + sizeof(Header), table_bytes);
    if (checksum64(std::as_bytes(std::span<const TableEntry>(table))) != h.table_checksum)
        throw FormatError(path, "section table checksum mismatch (corrupted file)");
    r.version_ = h.version;
    for (const auto& e : table) {
        std::string name(e.name, strnlen(e.name, kSectionNameBytes));
        if (e.offset % kContainerAlign != 0 || e.offset > bytes.size() || e.bytes > bytes.size() - e.offset)
            throw FormatError(path, fmt::format("section '{}' lies outside the file", name));
        if (verify && checksum64(bytes.subspan(e.offset, e.bytes)) != e.checksum)
            throw FormatError(path, fmt::format("section '{}' checksum mismatch (corrupted file)", name));
        r.entries_.push_back({std::move(name), e.offset, e.bytes, e.checksum});
    }
    return r;
}

bool ContainerReader::has(std::string_view name) const {
    for (const auto& e : entries_)
        if (e.name == name) return true;
    return false;
}

std::span<std::byte> ContainerReader::section(std::string_view name) const {
    for (const auto& e : entries_)
        if (e.name == name) return file_->bytes().subspan(e.offset, e.size);
    throw FormatError(path(), fmt::format("missing section '{}'", name));
}

std::uint64_t ContainerReader::recorded_checksum(std::string_view name) const {
    for (const auto& e : entries_)
        if (e.name == name) return e.checksum;
    throw FormatError(path(), fmt::format("missing section '{}'", name));
}

std::string ContainerReader::text(std::string_view name) const {
    auto b = section(name);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace encore

#pragma once
// The one on-disk container behind every encore file (.encd datasets, .encm models, later indexes):
// a fixed 64-byte header, a table of named sections, and the sections themselves, each aligned to 64
// bytes so float/int arrays can be used in place from a mapping. Little-endian. Layout in
// docs/formats.md. Every section and the header carry an XXH3-64 checksum; a reader rejects a wrong
// magic, an unknown version, a truncated file or a checksum mismatch with a FormatError naming the file.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "encore/io/mapped_file.hpp"
#include "encore/util/error.hpp"

namespace encore {

using Magic = std::array<char, 8>;

constexpr std::size_t kContainerAlign = 64;
constexpr std::size_t kSectionNameBytes = 32;

std::uint64_t checksum64(std::span<const std::byte> data);

class ContainerWriter {
public:
    ContainerWriter(Magic magic, std::uint32_t version) : magic_(magic), version_(version) {}

    // The bytes are not copied: they must stay alive until write() returns.
    void add(std::string name, std::span<const std::byte> data);
    template <typename T>
    void add_array(std::string name, std::span<const T> data) {
        static_assert(std::is_trivially_copyable_v<T>);
        add(std::move(name), std::as_bytes(data));
    }
    // Owned copy (small things: JSON metadata, scalars).
    void add_text(std::string name, std::string text);

    // Writes atomically (temp file, fsync, rename).
    void write(const std::string& path) const;

private:
    struct Pending {
        std::string name;
        std::span<const std::byte> data;
        std::shared_ptr<std::string> owned;
    };
    Magic magic_;
    std::uint32_t version_;
    std::vector<Pending> sections_;
};

class ContainerReader {
public:
    // Maps the file and checks magic, version (1..max_version), sizes and, if verify, every checksum.
    static ContainerReader open(const std::string& path, Magic magic, std::uint32_t max_version,
                                bool verify = true);

    std::uint32_t version() const { return version_; }
    const std::string& path() const { return file_->path(); }
    bool has(std::string_view name) const;
    std::span<std::byte> section(std::string_view name) const;  // throws FormatError if missing
    std::string text(std::string_view name) const;
    // The XXH3-64 the writer recorded for a section (read from the table, not recomputed: with
    // verify = false it is what the data should hash to, not a proof that it does).
    std::uint64_t recorded_checksum(std::string_view name) const;

    template <typename T>
    std::span<T> array(std::string_view name) const {
        static_assert(std::is_trivially_copyable_v<T>);
        auto bytes = section(name);
        if (bytes.size() % sizeof(T) != 0)
            throw FormatError(path(), fmt::format("section '{}' has {} bytes, not a whole number of {}-byte items",
                                                  name, bytes.size(), sizeof(T)));
        return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)};
    }
    template <typename T>
    std::span<T> array(std::string_view name, std::size_t expected_count) const {
        auto a = array<T>(name);
        if (a.size() != expected_count)
            throw FormatError(path(), fmt::format("section '{}' has {} items, expected {}", name, a.size(),
                                                  expected_count));
        return a;
    }
    // Keeps the mapping alive for views handed out of this reader.
    const std::shared_ptr<MappedFile>& file() const { return file_; }

private:
    struct Entry {
        std::string name;
        std::uint64_t offset, size, checksum;
    };
    std::shared_ptr<MappedFile> file_;
    std::uint32_t version_ = 0;
    std::vector<Entry> entries_;
};

}  // namespace encore

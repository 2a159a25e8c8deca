#pragma once
// StringTable: the string <-> index table for user ids, item ids and item names. Stored flat (one
// byte blob + offsets) plus a permutation sorted by string, so a mapped table answers find() by
// binary search with no parsing or hashing at load time.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encore/data/buffer.hpp"

namespace encore {

class ContainerWriter;
class ContainerReader;

class StringTable {
public:
    StringTable() = default;
    static StringTable build(const std::vector<std::string>& strings);
    // From a flat blob: offsets has size()+1 entries into bytes.
    static StringTable from_flat(std::vector<std::uint64_t> offsets, std::vector<char> bytes);

    std::size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
    bool empty() const { return size() == 0; }
    std::string_view operator[](std::size_t i) const {
        return {bytes_.data() + offsets_[i], static_cast<std::size_t>(offsets_[i + 1] - offsets_[i])};
    }
    // Exact match; the lowest index when a string occurs more than once.
    std::optional<std::uint32_t> find(std::string_view s) const;
    // All indices (ascending) whose string equals s under Unicode case folding (fold_case), so
    // "BJÖRK" finds "Björk". The first call builds a sorted index of the folded strings (thread-safe,
    // shared by copies of the table); later calls are a binary search.
    std::vector<std::uint32_t> find_case_insensitive(std::string_view s) const;
    // Up to n indices of strings closest to s (substring matches first, then edit distance), for
    // "did you mean" suggestions.
    std::vector<std::uint32_t> closest(std::string_view s, std::size_t n) const;
    std::vector<std::string> to_vector() const;

    // Unicode case folding with canonical composition (utf8proc CASEFOLD | COMPOSE | STABLE): the key
    // under which two strings match "ignoring case". ASCII takes a fast path; bytes that are not
    // valid UTF-8 are folded as ASCII and otherwise kept.
    static std::string fold_case(std::string_view s);

    // Sections PREFIX.offsets, PREFIX.bytes, PREFIX.sorted. The table must outlive writer.write().
    void save(ContainerWriter& writer, const std::string& prefix) const;
    static StringTable load(const ContainerReader& reader, const std::string& prefix);

private:
    void build_sorted();
    struct FoldedIndex;
    const FoldedIndex& folded() const;
    Buffer<std::uint64_t> offsets_;
    Buffer<char> bytes_;
    Buffer<std::uint32_t> sorted_;
    std::shared_ptr<FoldedIndex> folded_ = make_folded();  // built on first use
    static std::shared_ptr<FoldedIndex> make_folded();
};

// Levenshtein distance of a and b ignoring ASCII case, or cap + 1 as soon as it must exceed cap.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t cap);

}  // namespace encore

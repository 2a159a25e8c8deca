#include "encore/data/string_table.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <numeric>

#include <utf8proc.h>

#include "encore/io/container.hpp"
#include "encore/util/error.hpp"

namespace encore {

namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

struct StringTable::FoldedIndex {
    std::once_flag once;
    std::vector<std::pair<std::string, std::uint32_t>> sorted;  // (folded string, index), ascending
};

std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t cap) {
    if (a.size() > b.size()) std::swap(a, b);
    if (b.size() - a.size() > cap) return cap + 1;
    std::vector<std::size_t> prev(a.size() + 1), cur(a.size() + 1);
    std::iota(prev.begin(), prev.end(), 0);
    for (std::size_t j = 1; j <= b.size(); ++j) {
        cur[0] = j;
        std::size_t best = cur[0];
        for (std::size_t i = 1; i <= a.size(); ++i) {
            std::size_t sub = prev[i - 1] + (lower(a[i - 1]) != lower(b[j - 1]));
            cur[i] = std::min({prev[i] + 1, cur[i - 1] + 1, sub});
            best = std::min(best, cur[i]);
        }
        if (best > cap) return cap + 1;
        std::swap(prev, cur);
    }
    return prev[a.size()];
}

std::shared_ptr<StringTable::FoldedIndex> StringTable::make_folded() { return std::make_shared<FoldedIndex>(); }

std::string StringTable::fold_case(std::string_view s) {
    bool ascii = true;
    for (char c : s) ascii &= static_cast<unsigned char>(c) < 0x80;
    if (!ascii) {
        utf8proc_uint8_t* out = nullptr;
        const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                                    &out, static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE | UTF8PROC_STABLE));
        if (n >= 0) {
            std::string folded(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
            std::free(out);
            return folded;
        }
        std::free(out);  // not valid UTF-8: fold the ASCII letters only
    }
    std::string out(s);
    for (auto& c : out) c = lower(c);
    return out;
}

const StringTable::FoldedIndex& StringTable::folded() const {
    std::call_once(folded_->once, [this] {
        auto& v = folded_->sorted;
        v.reserve(size());
        for (std::size_t i = 0; i < size(); ++i) v.emplace_back(fold_case((*this)[i]), static_cast<std::uint32_t>(i));
        std::sort(v.begin(), v.end());
    });
    return *folded_;
}

StringTable StringTable::build(const std::vector<std::string>& strings) {
    std::vector<std::uint64_t> offsets(strings.size() + 1, 0);
    for (std::size_t i = 0; i < strings.size(); ++i) offsets[i + 1] = offsets[i] + strings[i].size();
    std::vector<char> bytes(offsets.back());
    for (std::size_t i = 0; i < strings.size(); ++i)
        std::copy(strings[i].begin(), strings[i].end(), bytes.begin() + static_cast<std::ptrdiff_t>(offsets[i]));
    return from_flat(std::move(offsets), std::move(bytes));
}

StringTable StringTable::from_flat(std::vector<std::uint64_t> offsets, std::vector<char> bytes) {
    if (offsets.empty()) offsets.push_back(0);
    StringTable t;
    t.offsets_ = Buffer<std::uint64_t>(std::move(offsets));
    t.bytes_ = Buffer<char>(std::move(bytes));
    t.build_sorted();
    return t;
}

void StringTable::build_sorted() {
    // Ascending by bytes (as unsigned), equal strings by index. Sorted on each string's first eight
    // bytes as a big-endian number first (zero-padded), which settles almost every comparison of ids
    // and hashes without following the offsets into the byte blob; ties compare the strings.
    const std::size_t n = size();
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keys(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view str = (*this)[i];
        std::uint64_t key = 0;
        for (std::size_t b = 0; b < 8; ++b)
            key = (key << 8) | (b < str.size() ? static_cast<unsigned char>(str[b]) : 0u);
        keys[i] = {key, static_cast<std::uint32_t>(i)};
    }
    std::sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        const std::string_view sa = (*this)[a.second], sb = (*this)[b.second];
        if (sa != sb) return sa < sb;
        return a.second < b.second;
    });
    std::vector<std::uint32_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = keys[i].second;
    sorted_ = Buffer<std::uint32_t>(std::move(order));
}

std::optional<std::uint32_t> StringTable::find(std::string_view s) const {
    auto it = std::lower_bound(sorted_.begin(), sorted_.end(), s,
                               [&](std::uint32_t i, std::string_view v) { return (*this)[i] < v; });
    if (it != sorted_.end() && (*this)[*it] == s) return *it;
    return std::nullopt;
}

std::vector<std::uint32_t> StringTable::find_case_insensitive(std::string_view s) const {
    std::vector<std::uint32_t> out;
    if (empty()) return out;
    const std::string key = fold_case(s);
    if (!folded_) {  // a moved-from table: no index to share
        for (std::size_t i = 0; i < size(); ++i)
            if (fold_case((*this)[i]) == key) out.push_back(static_cast<std::uint32_t>(i));
        return out;
    }
    const auto& v = folded().sorted;
    auto it = std::lower_bound(v.begin(), v.end(), key, [](const auto& e, const std::string& k) { return e.first < k; });
    for (; it != v.end() && it->first == key; ++it) out.push_back(it->second);  // ascending: sorted by (string, index)
    return out;
}

std::vector<std::uint32_t> StringTable::closest(std::string_view s, std::size_t n) const {
    std::string needle = fold_case(s);
    const std::size_t cap = std::max<std::size_t>(2, s.size() / 3);
    std::vector<std::pair<std::size_t, std::uint32_t>> scored;  // (rank key, index)
    for (std::size_t i = 0; i < size() && n > 0; ++i) {
        auto str = (*this)[i];
        if (str.empty()) continue;
        std::string low = fold_case(str);
        if (!needle.empty() && low.find(needle) != std::string::npos) {
            scored.emplace_back(low.size() - needle.size(), static_cast<std::uint32_t>(i));  // substring: best
            continue;
        }
        std::size_t d = edit_distance(needle, low, cap);
        if (d <= cap) scored.emplace_back(1000 + d, static_cast<std::uint32_t>(i));
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::uint32_t> out;
    for (auto& [key, i] : scored) {
        if (out.size() >= n) break;
        bool dup = false;
        for (auto j : out) dup |= (*this)[j] == (*this)[i];
        if (!dup) out.push_back(i);
    }
    return out;
}

std::vector<std::string> StringTable::to_vector() const {
    std::vector<std::string> out;
    out.reserve(size());
    for (std::size_t i = 0; i < size(); ++i) out.emplace_back((*this)[i]);
    return out;
}

void StringTable::save(ContainerWriter& writer, const std::string& prefix) const {
    // A default-constructed table has no offsets at all; on disk every table has n + 1 of them.
    static const std::uint64_t kEmptyOffsets[1] = {0};
    if (offsets_.empty())
        writer.add_array(prefix + ".offsets", std::span<const std::uint64_t>(kEmptyOffsets));
    else
        writer.add_array(prefix + ".offsets", offsets_.span());
    writer.add_array(prefix + ".bytes", bytes_.span());
    writer.add_array(prefix + ".sorted", sorted_.span());
}

StringTable StringTable::load(const ContainerReader& reader, const std::string& prefix) {
    StringTable t;
    auto offsets = reader.array<std::uint64_t>(prefix + ".offsets");
    auto bytes = reader.array<char>(prefix + ".bytes");
    if (offsets.empty()) throw FormatError(reader.path(), fmt::format("section '{}.offsets' is empty", prefix));
    auto n = offsets.size() - 1;
    auto sorted = reader.array<std::uint32_t>(prefix + ".sorted", n);
    if (offsets[0] != 0 || offsets[n] != bytes.size())
        throw FormatError(reader.path(), fmt::format("string table '{}' is inconsistent", prefix));
    for (std::size_t i = 0; i < n; ++i)
        if (offsets[i + 1] < offsets[i]) throw FormatError(reader.path(), fmt::format("string table '{}' is inconsistent", prefix));
    for (auto s : sorted)
        if (s >= n) throw FormatError(reader.path(), fmt::format("string table '{}' has a bad sort index", prefix));
    t.offsets_ = Buffer<std::uint64_t>::view(offsets, reader.file());
    t.bytes_ = Buffer<char>::view(bytes, reader.file());
    t.sorted_ = Buffer<std::uint32_t>::view(sorted, reader.file());
    return t;
}

}  // namespace encore

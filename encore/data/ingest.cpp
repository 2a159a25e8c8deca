#include "encore/data/ingest.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>

#include <fmt/ranges.h>
#include <omp.h>

#include "encore/data/text_scan.hpp"
#include "encore/util/memory.hpp"
#include "encore/io/mapped_file.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

InputFormat parse_input_format(std::string_view name) {
    if (name == "auto") return InputFormat::auto_detect;
    if (name == "lastfm360k") return InputFormat::lastfm360k;
    if (name == "lastfm2k") return InputFormat::lastfm2k;
    if (name == "movielens") return InputFormat::movielens;
    if (name == "csv") return InputFormat::csv;
    if (name == "tsv") return InputFormat::tsv;
    throw OptionError(fmt::format("format: unknown format '{}' (expected auto, lastfm360k, lastfm2k, movielens, csv or tsv)", name));
}

std::string_view format_name(InputFormat f) {
    switch (f) {
        case InputFormat::auto_detect: return "auto";
        case InputFormat::lastfm360k: return "lastfm360k";
        case InputFormat::lastfm2k: return "lastfm2k";
        case InputFormat::movielens: return "movielens";
        case InputFormat::csv: return "csv";
        case InputFormat::tsv: return "tsv";
    }
    return "?";
}

TextEncoding parse_text_encoding(std::string_view name) {
    if (name == "utf8" || name == "utf-8") return TextEncoding::utf8;
    if (name == "latin1" || name == "latin-1" || name == "iso-8859-1") return TextEncoding::latin1;
    if (name == "replace") return TextEncoding::replace;
    throw OptionError(fmt::format("encoding: unknown encoding '{}' (expected utf8, latin1 or replace)", name));
}

std::string_view encoding_name(TextEncoding e) {
    switch (e) {
        case TextEncoding::utf8: return "utf8";
        case TextEncoding::latin1: return "latin1";
        case TextEncoding::replace: return "replace";
    }
    return "?";
}

namespace {

constexpr std::size_t kDefaultStdinBlock = std::size_t{64} << 20;
constexpr std::size_t kMinChunk = std::size_t{1} << 20;  // smaller parts cost more to merge than they save
constexpr std::size_t kProgressStep = std::size_t{4} << 20;
constexpr std::size_t kMaxBadExamples = 5;
constexpr std::size_t kMaxIds = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());

// Key hash for the dictionaries: multiply-fold mixing of 16-byte steps (the wyhash idea), fully
// inlined; ids and sha1s are 1-40 bytes, where a general-purpose hash spends its time on set-up.
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) {
    unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}
inline std::uint64_t load64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline std::uint64_t load32(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline std::uint64_t hash_key(std::string_view s) {
    constexpr std::uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL, k2 = 0x8ebc6af09c88c6e3ULL;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::uint64_t seed = k2 ^ n;
    std::uint64_t a = 0, b = 0;
    if (n <= 16) {
        if (n >= 4) {
            const std::size_t m = (n >> 3) << 2;  // 0 or 4: overlapping reads cover 4..16 bytes
            a = (load32(p) << 32) | load32(p + m);
            b = (load32(p + n - 4) << 32) | load32(p + n - 4 - m);
        } else if (n > 0) {
            a = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[n >> 1]} << 8) | p[n - 1];
        }
    } else {
        std::size_t i = n;
        while (i > 16) {
            seed = fold_mul(load64(p) ^ k0, load64(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = load64(p + i - 16);
        b = load64(p + i - 8);
    }
    return fold_mul(k1 ^ n, fold_mul(a ^ k1, b ^ seed));
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// A field quoted in a message: at most 40 bytes, so a binary or runaway line stays readable.
std::string quoted(std::string_view s) {
    if (s.size() > 40) return fmt::format("'{}...'", s.substr(0, 40));
    return fmt::format("'{}'", s);
}

// ---------------------------------------------------------------------------------------------
// Dictionaries: string key -> dense id in insertion order.

// Equality of two n-byte keys, inlined: word compares with an overlapping last word (keys are short,
// and a libc memcmp call per row costs more than the compare itself).
inline bool same_bytes(const char* a, const char* b, std::size_t n) {
    if (n >= 8) {
        std::uint64_t diff = 0;
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            std::uint64_t x, y;
            std::memcpy(&x, a + i, 8);
            std::memcpy(&y, b + i, 8);
            diff |= x ^ y;
        }
        std::uint64_t x, y;
        std::memcpy(&x, a + n - 8, 8);
        std::memcpy(&y, b + n - 8, 8);
        return (diff | (x ^ y)) == 0;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// Key -> dense id in insertion order. Keys are copied into one flat blob: per-thread dictionaries
// then compare against a compact, cache-friendly copy instead of keys scattered over a huge mapping,
// and the merged dictionary's blob becomes the StringTable as is. Open addressing with linear
// probing; a slot carries the key's place in the blob and 32 hash bits, so a lookup costs one slot
// read plus one compare against the blob (no detour through an offsets array).
class KeyDict {
public:
    KeyDict() : slots_(1024), mask_(1023) {}

    std::size_t size() const { return hashes.size(); }
    std::string_view key(std::uint32_t id) const {
        return {bytes.data() + offsets[id], static_cast<std::size_t>(offsets[id + 1] - offsets[id])};
    }

    std::uint32_t find_or_insert(std::string_view k, std::uint64_t h, bool& inserted) {
        const auto tag = static_cast<std::uint32_t>(h >> 32);
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.id1 == 0) break;
            if (s.tag == tag && (s.ref & kLenMask) == k.size() &&
                same_bytes(bytes.data() + (s.ref >> kLenBits), k.data(), k.size())) {
                inserted = false;
                return s.id1 - 1;
            }
        }
        if (k.size() > kLenMask) throw Error(fmt::format("a key of {} bytes is too long (at most 16 MiB)", k.size()));
        inserted = true;
        const auto id = static_cast<std::uint32_t>(size());
        if (id == std::numeric_limits<std::uint32_t>::max() - 1) throw Error("more than 2^32 - 2 distinct keys");
        const std::uint64_t off = bytes.size();
        bytes.insert(bytes.end(), k.begin(), k.end());
        offsets.push_back(bytes.size());
        hashes.push_back(h);
        place(slots_, mask_, Slot{(off << kLenBits) | k.size(), tag, id + 1}, h);
        if (hashes.size() * 2 > slots_.size()) grow();
        return id;
    }
    std::uint32_t find_or_insert(std::string_view k, bool& inserted) { return find_or_insert(k, hash_key(k), inserted); }
    // Room for n keys of `key_bytes` bytes in all, so merging grows nothing.
    void reserve(std::size_t n, std::size_t key_bytes) {
        offsets.reserve(n + 1);
        hashes.reserve(n);
        bytes.reserve(key_bytes);
        std::size_t cap = slots_.size();
        while (n * 2 > cap) cap *= 2;
        if (cap != slots_.size()) rebuild(cap);
    }
    // Hints for a coming find_or_insert(k, h): the slot it starts at, then the key that slot holds.
    void prefetch_slot(std::uint64_t h) const { __builtin_prefetch(&slots_[h & mask_]); }
    void prefetch_key(std::uint64_t h) const {
        const Slot& s = slots_[h & mask_];
        if (s.id1 != 0) __builtin_prefetch(bytes.data() + (s.ref >> kLenBits));
    }

    std::optional<std::uint32_t> find(std::string_view k) const {
        const std::uint64_t h = hash_key(k);
        const auto tag = static_cast<std::uint32_t>(h >> 32);
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.id1 == 0) return std::nullopt;
            if (s.tag == tag && key(s.id1 - 1) == k) return s.id1 - 1;
        }
    }

    std::vector<std::uint64_t> offsets{0};  // key j = bytes[offsets[j], offsets[j + 1])
    std::vector<char> bytes;
    std::vector<std::uint64_t> hashes;      // kept so merging and growing never rehash a key

private:
    static constexpr int kLenBits = 24;
    static constexpr std::uint64_t kLenMask = (std::uint64_t{1} << kLenBits) - 1;
    struct Slot {
        std::uint64_t ref = 0;  // blob offset << 24 | length
        std::uint32_t tag = 0;  // high hash bits
        std::uint32_t id1 = 0;  // id + 1; 0 = empty
    };
    static void place(std::vector<Slot>& slots, std::size_t mask, const Slot& s, std::uint64_t h) {
        std::size_t i = h & mask;
        while (slots[i].id1 != 0) i = (i + 1) & mask;
        slots[i] = s;
    }
    void grow() { rebuild(slots_.size() * 2); }
    void rebuild(std::size_t capacity) {
        std::vector<Slot> slots(capacity);
        const std::size_t mask = slots.size() - 1;
        for (const Slot& s : slots_)
            if (s.id1 != 0) place(slots, mask, s, hashes[s.id1 - 1]);
        slots_ = std::move(slots);
        mask_ = mask;
    }
    std::vector<Slot> slots_;
    std::size_t mask_;
};

// Display names per local item, copied (they must outlive the block they came from).
struct NamePool {
    std::vector<char> bytes;
    std::vector<std::uint64_t> off;
    std::vector<std::uint32_t> len;

    void set(std::size_t id, std::string_view s) {
        if (id >= off.size()) {
            off.resize(id + 1, 0);
            len.resize(id + 1, 0);
        }
        off[id] = bytes.size();
        len[id] = static_cast<std::uint32_t>(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
    }
    bool has(std::size_t id) const { return id < len.size() && len[id] > 0; }
    std::string_view get(std::size_t id) const {
        return has(id) ? std::string_view(bytes.data() + off[id], len[id]) : std::string_view();
    }
};

// A growable array of trivially copyable values that is not zero-filled: realloc grows it (large
// blocks move by remapping pages), and big ranges ask for transparent huge pages to cut page faults.
template <typename T>
class RawArray {
public:
    RawArray() = default;
    RawArray(const RawArray&) = delete;
    RawArray& operator=(const RawArray&) = delete;
    RawArray(RawArray&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) { o.p_ = nullptr, o.n_ = o.cap_ = 0; }
    RawArray& operator=(RawArray&& o) noexcept {
        std::swap(p_, o.p_);
        std::swap(n_, o.n_);
        std::swap(cap_, o.cap_);
        return *this;
    }
    ~RawArray() { std::free(p_); }

    void reserve(std::size_t cap) {
        if (cap <= cap_) return;
        void* q = std::realloc(p_, cap * sizeof(T));
        if (!q) throw std::bad_alloc();
        p_ = static_cast<T*>(q);
        cap_ = cap;
        advise_huge_pages(p_, cap * sizeof(T));
    }
    void resize(std::size_t n) {
        reserve(n);
        n_ = n;
    }
    void push_back(T v) {
        if (n_ == cap_) reserve(std::max<std::size_t>(1024, cap_ + cap_ / 2));
        p_[n_++] = v;
    }
    T* data() { return p_; }
    const T* data() const { return p_; }
    std::size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    T& operator[](std::size_t i) { return p_[i]; }
    T operator[](std::size_t i) const { return p_[i]; }
    std::span<const T> span() const { return {p_, n_}; }

private:
    T* p_ = nullptr;
    std::size_t n_ = 0, cap_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Row layouts and per-thread parsing.

// What one data row looks like.
struct RowLayout {
    char sep = '\t';
    bool csv = false;         // RFC 4180 quoting
    std::size_t fields = 0;   // exact field count of every row
    int user_col = 0, item_col = 1, value_col = 2;
    int name_col = -1;           // item display name inside the row (lastfm360k)
    int fallback_item_col = -1;  // item key when item_col is empty (lastfm360k: the artist name)

    std::size_t stored() const {
        return static_cast<std::size_t>(std::max({user_col, item_col, value_col, name_col, fallback_item_col})) + 1;
    }
};

struct RowRules {
    bool allow_negative = false;
    bool skip_bad = false;
    double min_value = -std::numeric_limits<double>::infinity();
    TextEncoding encoding = TextEncoding::utf8;
};

// The bytes of s shown with every byte that is not valid UTF-8 as \xHH (for messages).
std::string escape_invalid_utf8(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = text::utf8_sequence_length(s, i);
        if (len > 0) {
            out.append(s.data() + i, len);
            i += len;
        } else {
            out += fmt::format("\\x{:02X}", static_cast<unsigned char>(s[i]));
            ++i;
        }
    }
    return out;
}

// Why a key or name is not valid UTF-8, or "" when it is.
std::string utf8_problem(std::string_view s, const char* what) {
    const std::size_t at = text::first_invalid_utf8(s);
    if (at == std::string_view::npos) return {};
    return fmt::format("invalid UTF-8 in {} '{}' (byte 0x{:02X} at offset {}); if the file is Latin-1, set encoding "
                       "to latin1 (or to replace, to substitute U+FFFD)",
                       what, escape_invalid_utf8(s), static_cast<unsigned char>(s[at]), at);
}

bool has_non_ascii(std::string_view s) {
    unsigned char acc = 0;
    for (char c : s) acc |= static_cast<unsigned char>(c);
    return (acc & 0x80) != 0;
}

// s converted under a non-default encoding into out; returns whether it changed (else s is kept).
bool convert_text(std::string_view s, TextEncoding e, std::string& out) {
    if (!has_non_ascii(s)) return false;
    if (e == TextEncoding::latin1) {
        out = text::latin1_to_utf8(s);
        return true;
    }
    if (text::first_invalid_utf8(s) == std::string_view::npos) return false;
    out = text::replace_invalid_utf8(s);
    return true;
}

struct BadLine {
    std::int64_t line;  // 1-based within its piece
    std::string reason;
};

// One thread's share of a block: its byte range, local dictionaries and rows in local ids.
struct Piece {
    const char* begin = nullptr;
    const char* end = nullptr;
    KeyDict users, items;
    NamePool names;  // per local item, first non-empty name (when the layout has one)
    RawArray<std::uint32_t> u, i;
    RawArray<float> v;
    KeyDict filtered_users, filtered_items;  // keys of rows the value filter dropped
    std::string conv_user, conv_item, conv_name;  // a row's fields converted to UTF-8 (latin1, replace)
    std::int64_t lines = 0, data_lines = 0, below_min = 0, bad = 0;
    std::vector<BadLine> bad_examples;
    std::optional<BadLine> error;
};

void atomic_min(std::atomic<std::size_t>& a, std::size_t v) {
    std::size_t cur = a.load(std::memory_order_relaxed);
    while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

std::string value_problem(text::ValueStatus st, std::string_view field) {
    switch (st) {
        case text::ValueStatus::empty: return "missing value";
        case text::ValueStatus::nan: return fmt::format("value {} is NaN", quoted(text::trim_spaces(field)));
        case text::ValueStatus::infinite: return fmt::format("value {} is infinite", quoted(text::trim_spaces(field)));
        case text::ValueStatus::out_of_range: return fmt::format("value {} is out of range", quoted(text::trim_spaces(field)));
        default: return fmt::format("bad value {} (not a number)", quoted(field));
    }
}

// Parses the lines of one piece. No allocation per row beyond amortised array growth: fields are views
// into the block, and a key is copied only once, into the piece's dictionary, when first seen. Stops at
// the first bad row unless skipping, and early when an earlier piece already failed (its error is the
// one reported). Physical lines are counted on the way, so error line numbers cost nothing extra.
template <bool Csv>
void parse_piece(Piece& pc, std::size_t index, const RowLayout& L, const RowRules& R, std::atomic<std::size_t>& first_error,
                 Progress& progress) {
    std::vector<std::string_view> f(L.stored());
    std::string scratch;
    std::string_view last_user;
    std::uint32_t last_uid = 0;
    std::string_view filtered_user;  // the last user id added to pc.filtered_users
    const char* p = pc.begin;
    const char* const end = pc.end;
    const char* progress_mark = p;
    std::int64_t line = 0;

    // true = stop parsing this piece
    auto reject = [&](std::string reason) -> bool {
        if (!R.skip_bad) {
            pc.error = BadLine{line, std::move(reason)};
            atomic_min(first_error, index);
            return true;
        }
        ++pc.bad;
        if (pc.bad_examples.size() < kMaxBadExamples) pc.bad_examples.push_back({line, std::move(reason)});
        return false;
    };

    // Rows are resolved to ids in small batches: hash every item key and prefetch its slot, then its
    // key bytes, then look them up in order. A lookup is two dependent cache misses on big
    // dictionaries; the batch overlaps them instead of paying them one row at a time.
    struct Pending {
        std::string_view user, item, name;
        float value;
        std::uint64_t hash;
    };
    constexpr std::size_t kBatch = 16;
    std::array<Pending, kBatch> batch;
    std::size_t n_batch = 0;
    auto flush = [&] {
        for (std::size_t k = 0; k < n_batch; ++k) {
            batch[k].hash = hash_key(batch[k].item);
            pc.items.prefetch_slot(batch[k].hash);
        }
        for (std::size_t k = 0; k < n_batch; ++k) pc.items.prefetch_key(batch[k].hash);
        for (std::size_t k = 0; k < n_batch; ++k) {
            const Pending& r = batch[k];
            std::uint32_t uid;
            if (!last_user.empty() && r.user.size() == last_user.size() && same_bytes(r.user.data(), last_user.data(), r.user.size())) {
                uid = last_uid;  // logs are usually grouped by user: skip the hash
            } else {
                bool inserted;
                uid = pc.users.find_or_insert(r.user, inserted);
                last_user = pc.users.key(uid);  // valid until the next user insert, which refreshes it
                last_uid = uid;
            }
            bool inserted;
            const std::uint32_t iid = pc.items.find_or_insert(r.item, r.hash, inserted);
            if (!r.name.empty() && !pc.names.has(iid)) pc.names.set(iid, r.name);
            pc.u.push_back(uid);
            pc.i.push_back(iid);
            pc.v.push_back(r.value);
        }
        n_batch = 0;
    };

#ifdef MADV_POPULATE_READ
    {
        // Map the piece's pages of the input in one call: faulting them in one by one while parsing
        // costs an exit to the hypervisor per fault on a virtual machine (a hint: failure is fine).
        const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
        const auto a = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
        const auto e = reinterpret_cast<std::uintptr_t>(end);
        if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_POPULATE_READ);
    }
#endif
    {
        // Reserve rows from the mean length of the first lines, so the arrays rarely move.
        const std::size_t sample = std::min<std::size_t>(static_cast<std::size_t>(end - p), 1 << 16);
        const std::size_t nl = static_cast<std::size_t>(std::count(p, p + sample, '\n'));
        const std::size_t rows = nl == 0 ? 16 : static_cast<std::size_t>(end - p) / (sample / nl) * 11 / 10 + 16;
        pc.u.reserve(rows);
        pc.i.reserve(rows);
        pc.v.reserve(rows);
    }
    while (p < end) {
        // The line and its fields in one pass (a quoted CSV line is split again below).
        const char* le;
        bool quote = false;
        std::size_t n = text::split_line(p, end, L.sep, f, le, Csv ? &quote : nullptr);
        std::string_view ln(p, static_cast<std::size_t>(le - p));
        p = le < end ? le + 1 : end;
        ++line;
        if (static_cast<std::size_t>(p - progress_mark) >= kProgressStep) {
            progress.add(static_cast<double>(p - progress_mark) / 1e6);
            progress_mark = p;
            if (first_error.load(std::memory_order_relaxed) < index) break;
        }
        if (!ln.empty() && ln.back() == '\r') {
            ln.remove_suffix(1);
            if (n - 1 < f.size()) f[n - 1].remove_suffix(1);  // the last field ended with the '\r'
        }
        if (ln.empty()) continue;
        ++pc.data_lines;

        bool used_scratch = false;
        if constexpr (Csv) {
            if (quote) {
                used_scratch = true;
                if (scratch.capacity() < ln.size()) scratch.reserve(ln.size());
                auto st = text::split_csv(ln, L.sep, f, n, scratch);
                if (st == text::CsvStatus::unclosed_quote) {
                    if (reject("quoted field not closed on this line (quoted fields may not contain line breaks)")) return;
                    continue;
                }
                if (st == text::CsvStatus::text_after_quote) {
                    if (reject("text after the closing quote of a field (write \"\" for a quote inside quotes)")) return;
                    continue;
                }
            }
        }
        if (n != L.fields) {
            if (reject(fmt::format("expected {} fields, found {}", L.fields, n))) return;
            continue;
        }
        std::string_view user = f[static_cast<std::size_t>(L.user_col)];
        std::string_view item = f[static_cast<std::size_t>(L.item_col)];
        if (item.empty() && L.fallback_item_col >= 0) item = f[static_cast<std::size_t>(L.fallback_item_col)];
        if (user.empty()) {
            if (reject("empty user id")) return;
            continue;
        }
        if (item.empty()) {
            if (reject("empty item key")) return;
            continue;
        }
        double value = 1.0;
        if (L.value_col >= 0) {
            std::string_view field = f[static_cast<std::size_t>(L.value_col)];
            auto st = text::parse_value(field, value);
            if (st != text::ValueStatus::ok) {
                if (reject(value_problem(st, field))) return;
                continue;
            }
            if (value < 0 && !R.allow_negative) {
                if (reject(fmt::format("negative value {} (allow-negative keeps dislikes)", text::trim_spaces(field))))
                    return;
                continue;
            }
        }
        std::string_view name = L.name_col >= 0 ? f[static_cast<std::size_t>(L.name_col)] : std::string_view();
        if (R.encoding == TextEncoding::utf8) {
            std::string problem = utf8_problem(user, "user id");
            if (problem.empty()) problem = utf8_problem(item, "item key");
            if (problem.empty()) problem = utf8_problem(name, "artist name");
            if (!problem.empty()) {
                if (reject(std::move(problem))) return;
                continue;
            }
        } else {
            bool changed = false;
            if (convert_text(user, R.encoding, pc.conv_user)) user = pc.conv_user, changed = true;
            if (convert_text(item, R.encoding, pc.conv_item)) item = pc.conv_item, changed = true;
            if (convert_text(name, R.encoding, pc.conv_name)) name = pc.conv_name, changed = true;
            used_scratch |= changed;
        }
        if (value == 0 || value < R.min_value) {
            ++pc.below_min;
            // Remembered so that ids whose every row was dropped can be named later (meta "dropped").
            bool inserted;
            if (filtered_user != user)  // (rows come grouped by user: skip the hash)
                filtered_user = pc.filtered_users.key(pc.filtered_users.find_or_insert(user, inserted));
            pc.filtered_items.find_or_insert(item, inserted);
            continue;
        }

        batch[n_batch++] = Pending{user, item, name, static_cast<float>(value), 0};
        // (a line unescaped into scratch or converted is resolved at once: the next line reuses them)
        if (n_batch == kBatch || used_scratch) flush();
    }
    if (n_batch > 0) flush();
    pc.lines = line;
    progress.add(static_cast<double>(p - progress_mark) / 1e6);
}

// ---------------------------------------------------------------------------------------------
// Standard input in large blocks of whole lines.

class BlockReader {
public:
    BlockReader(int fd, std::size_t block) : fd_(fd), block_(block) {}

    // The next block of whole lines (the very last may lack its '\n'); empty at the end of input.
    // Invalidates the previous block.
    std::string_view next() {
        std::size_t have = carry_end_ - carry_begin_;
        if (have > 0 && carry_begin_ > 0) std::memmove(buf_.data(), buf_.data() + carry_begin_, have);
        carry_begin_ = carry_end_ = 0;
        if (buf_.size() < block_) buf_.resize(block_);
        for (;;) {
            while (!eof_ && have < buf_.size()) {
                ssize_t r = ::read(fd_, buf_.data() + have, buf_.size() - have);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    throw Error(fmt::format("stdin: read failed: {}", std::strerror(errno)));
                }
                if (r == 0)
                    eof_ = true;
                else
                    have += static_cast<std::size_t>(r);
            }
            if (eof_) return {buf_.data(), have};
            const void* last = memrchr(buf_.data(), '\n', have);
            if (last) {
                std::size_t cut = static_cast<std::size_t>(static_cast<const char*>(last) - buf_.data()) + 1;
                carry_begin_ = cut;
                carry_end_ = have;
                return {buf_.data(), cut};
            }
            buf_.resize(buf_.size() * 2);  // one line longer than a block: read on
        }
    }

private:
    int fd_;
    std::size_t block_;
    std::vector<char> buf_;
    std::size_t carry_begin_ = 0, carry_end_ = 0;
    bool eof_ = false;
};

// ---------------------------------------------------------------------------------------------
// Format detection and per-file set-up.

std::string_view first_line(std::string_view data) {
    if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
    auto nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

bool is_hex40(std::string_view s) {
    if (s.size() != 40) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    return true;
}

bool is_movielens_name(std::string_view base) {
    if (base == "u.data" || base == "ratings.csv") return true;
    // u1.base ... u5.test, ua.base, ub.test: the 100K split files, same layout as u.data
    if (base.size() < 7 || base[0] != 'u') return false;
    std::string_view rest = base.substr(1);
    std::size_t k = 0;
    if (!rest.empty() && (rest[0] == 'a' || rest[0] == 'b')) {
        k = 1;
    } else {
        while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9') ++k;
    }
    if (k == 0) return false;
    rest = rest.substr(k);
    return rest == ".base" || rest == ".test";
}

InputFormat detect_from(const std::string& path, std::string_view head) {
    std::string base = std::filesystem::path(path).filename().string();
    if (base == "user_artists.dat") return InputFormat::lastfm2k;
    if (is_movielens_name(base)) return InputFormat::movielens;
    std::string_view line = first_line(head);
    std::string_view f[5];
    if (text::split_plain(line, '\t', f) == 4 && is_hex40(f[0])) return InputFormat::lastfm360k;
    if (ends_with(lower(base), ".csv")) return InputFormat::csv;
    return InputFormat::tsv;
}

bool movielens_is_csv(const std::string& path, std::string_view head) {
    if (ends_with(lower(path), ".csv")) return true;
    std::string_view line = first_line(head);
    return line.find(',') != std::string_view::npos && line.find('\t') == std::string_view::npos;
}

// Splits a line per layout (for header and field-count checks outside the hot loop).
std::vector<std::string_view> split_line(std::string_view line, const RowLayout& L, std::string& scratch, bool& ok) {
    std::vector<std::string_view> f(64);
    std::size_t n = 0;
    ok = true;
    if (L.csv) {
        scratch.reserve(line.size());
        ok = text::split_csv(line, L.sep, f, n, scratch) == text::CsvStatus::ok;
    } else {
        n = text::split_plain(line, L.sep, f);
    }
    if (n < f.size()) {
        f.resize(n);
    } else {  // more than 64 fields: split again with room for all
        f.resize(n);
        if (L.csv)
            text::split_csv(line, L.sep, f, n, scratch);
        else
            text::split_plain(line, L.sep, f);
    }
    return f;
}

// A header cell in a file without a value column: only letters, '_', '-', '.', ' ' (no digits, which
// data ids almost always have) and a typical column word, or an id column name (id, user_id, movieId).
bool looks_like_header_word(std::string_view field) {
    if (field.empty()) return false;
    for (char c : field)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '.' || c == ' ')) return false;
    std::string s = lower(field);
    for (const char* w : {"user", "item", "artist", "movie", "track", "song", "product"})
        if (s.find(w) != std::string::npos) return true;
    return s == "id" || ends_with(s, "_id") || ends_with(s, "-id") || ends_with(s, " id") || ends_with(field, "Id");
}

struct NamesSpec {
    std::string path;
    char sep = '\t';
    bool csv = false;
    bool latin1 = false;  // documented as Latin-1 (MovieLens u.item): repaired, not rejected, under utf8
};

// ---------------------------------------------------------------------------------------------

class Ingester {
public:
    Ingester(const IngestOptions& o, Progress& progress)
        : opt_(o), progress_(progress), threads_(resolve_threads(o.threads)), format_(o.format) {
        rules_.allow_negative = o.allow_negative;
        rules_.skip_bad = o.skip_bad_lines;
        rules_.encoding = o.encoding;
        if (o.min_value) {
            if (!std::isfinite(*o.min_value)) throw OptionError("min-value must be a finite number");
            rules_.min_value = *o.min_value;
        }
    }

    void add_input(const std::string& path, const std::shared_ptr<MappedFile>& map) {
        FileState fs;
        fs.name = map ? path : std::string("stdin");
        fs.path = path;
        if (map) {
            map->advise_sequential();
            std::string_view all(reinterpret_cast<const char*>(map->bytes().data()), map->size());
            std::size_t start = begin_file(fs, all);
            process_block(all.substr(start), fs);
        } else {
            BlockReader reader(STDIN_FILENO, opt_.stdin_block_bytes > 0 ? opt_.stdin_block_bytes : kDefaultStdinBlock);
            std::string_view block = reader.next();
            std::size_t start = begin_file(fs, block);
            process_block(block.substr(start), fs);
            while (!(block = reader.next()).empty()) process_block(block, fs);
        }
        if (fs.data_lines == 0) throw Error(fmt::format("{}: no data rows", fs.name));
        inputs_meta_.push_back({{"path", path}, {"bytes", fs.bytes}, {"lines", fs.data_lines}, {"header", fs.header}});
        find_companion_names(fs);
    }

    Dataset finish(const std::vector<std::string>& inputs, IngestReport& report) {
        if (users_.size() > kMaxIds || items_.size() > kMaxIds) fail("too many distinct users or items (more than 2^31 - 1)");
        if (rows_.empty())
            fail("{}: no rows left after filtering ({} below the minimum value or zero, {} bad)", fmt::join(inputs, ", "),
                 below_min_, bad_);

        nlohmann::json dropped = dropped_meta();

        // Names: from names files first, then those seen in the data.
        std::vector<std::string> names(items_.size());
        std::vector<char> from_file(items_.size(), 0);
        bool any_name = false;
        nlohmann::json names_meta = nlohmann::json::array();
        for (const auto& spec : names_files()) {
            any_name |= read_names(spec, names, from_file);
            names_meta.push_back(spec.path);
        }
        for (std::size_t k = 0; k < data_names_.size(); ++k) {
            if (!from_file[k] && !data_names_[k].empty()) {
                names[k] = std::move(data_names_[k]);  // checked or converted while parsing
                any_name = true;
            }
        }
        data_names_ = {};

        Dataset d;
        const auto n_users = static_cast<std::int64_t>(users_.size());
        const auto n_items = static_cast<std::int64_t>(items_.size());
        d.users = StringTable::from_flat(std::move(users_.offsets), std::move(users_.bytes));
        d.items = StringTable::from_flat(std::move(items_.offsets), std::move(items_.bytes));
        users_ = {};
        items_ = {};
        if (any_name) d.item_names = StringTable::build(names);
        names = {};

        const auto rows_kept = static_cast<std::int64_t>(rows_.size());
        auto as_int32 = [](const RawArray<std::uint32_t>& a) {
            return std::span<const std::int32_t>(reinterpret_cast<const std::int32_t*>(a.data()), a.size());
        };
        // Items first: user ids are numbered in order of first appearance and play logs list each
        // user's rows together, so bucketing the rows by item (stable) leaves every item's users
        // already sorted and no row needs a sort; the transpose then gives sorted user rows too.
        d.by_item = Csr::from_triplets(n_items, n_users, as_int32(cols_), as_int32(rows_), vals_.span(), threads_);
        rows_ = {};
        cols_ = {};
        vals_ = {};
        const std::int64_t duplicates = rows_kept - d.by_item.nnz();
        std::int64_t zero_sums = 0;
        if (opt_.allow_negative) zero_sums = drop_zero_entries(d.by_item);
        d.by_user = d.by_item.transpose(threads_);

        report.format = format_;
        report.bytes = bytes_;
        report.lines = lines_;
        report.rows_kept = rows_kept;
        report.rows_below_min = below_min_;
        report.bad_lines = bad_;
        report.duplicates = duplicates;
        report.bad_examples = bad_examples_;

        auto& m = d.meta;
        m["format"] = std::string(format_name(format_));
        m["inputs"] = inputs_meta_;
        m["names_files"] = names_meta;
        m["bytes"] = bytes_;
        m["lines"] = lines_;
        m["rows_kept"] = rows_kept;
        m["duplicates"] = duplicates;
        m["below_min"] = below_min_;
        m["bad_lines"] = bad_;
        if (zero_sums > 0) m["zero_sums_dropped"] = zero_sums;
        m["min_value"] = opt_.min_value ? nlohmann::json(*opt_.min_value) : nlohmann::json(nullptr);
        m["allow_negative"] = opt_.allow_negative;
        m["encoding"] = std::string(encoding_name(opt_.encoding));
        if (!dropped.is_null()) m["dropped"] = std::move(dropped);
        m["users"] = d.n_users();
        m["items"] = d.n_items();
        m["nnz"] = d.nnz();
        return d;
    }

private:
    struct FileState {
        std::string name;  // as shown in messages
        std::string path;
        RowLayout layout;
        std::int64_t line_offset = 0;  // physical lines before the next block
        std::int64_t data_lines = 0;
        std::int64_t bytes = 0;
        bool header = false;
        bool movielens_csv = false;
    };

    // Resolves the format (first file), the row layout and the header from the start of a file.
    // Returns where the data rows start in head.
    std::size_t begin_file(FileState& fs, std::string_view head) {
        if (format_ == InputFormat::auto_detect) format_ = detect_from(fs.path == "-" ? std::string() : fs.path, head);
        std::size_t pos = head.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
        fs.bytes += static_cast<std::int64_t>(pos);
        bytes_ += static_cast<std::int64_t>(pos);
        head.remove_prefix(pos);

        // the first non-blank line decides the header and, for csv/tsv, the field count
        std::string_view first;
        std::size_t first_next = 0;
        std::int64_t lines_seen = 0;
        for (std::size_t at = 0; at < head.size();) {
            std::size_t nl = head.find('\n', at);
            std::size_t next = nl == std::string_view::npos ? head.size() : nl + 1;
            std::string_view line = head.substr(at, (nl == std::string_view::npos ? head.size() : nl) - at);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            ++lines_seen;
            at = next;
            if (!line.empty()) {
                first = line;
                first_next = next;
                break;
            }
        }

        RowLayout& L = fs.layout;
        switch (format_) {
            case InputFormat::lastfm360k:
                L = RowLayout{'\t', false, 4, 0, 1, 3, 2, 2};
                break;
            case InputFormat::lastfm2k:
                L = RowLayout{'\t', false, 3, 0, 1, 2, -1, -1};
                break;
            case InputFormat::movielens:
                fs.movielens_csv = movielens_is_csv(fs.path, head);
                L = RowLayout{fs.movielens_csv ? ',' : '\t', fs.movielens_csv, 4, 0, 1, 2, -1, -1};
                break;
            case InputFormat::csv:
            case InputFormat::tsv: {
                check_columns();
                const bool csv = format_ == InputFormat::csv;
                L = RowLayout{csv ? ',' : '\t', csv, 0, opt_.user_col, opt_.item_col, opt_.value_col, -1, -1};
                if (!first.empty()) {
                    std::string scratch;
                    bool ok;
                    auto f = split_line(first, L, scratch, ok);
                    if (!ok)
                        throw ParseError(fs.name, lines_seen, "quoted field not closed on this line (quoted fields may not contain line breaks)");
                    if (f.size() < L.stored())
                        throw ParseError(fs.name, lines_seen,
                                         fmt::format("expected at least {} fields (user column {}, item column {}{}), found {}",
                                                     L.stored(), L.user_col, L.item_col,
                                                     L.value_col >= 0 ? fmt::format(", value column {}", L.value_col) : "",
                                                     f.size()));
                    L.fields = f.size();
                }
                break;
            }
            case InputFormat::auto_detect:
                break;
        }

        fs.header = false;
        if (!first.empty()) {
            if (opt_.header) {
                fs.header = *opt_.header;
            } else {
                std::string scratch;
                bool ok;
                auto f = split_line(first, L, scratch, ok);
                if (ok && L.value_col >= 0) {
                    double v;
                    if (f.size() > static_cast<std::size_t>(L.value_col))
                        fs.header = text::parse_value(f[static_cast<std::size_t>(L.value_col)], v) == text::ValueStatus::not_number;
                } else if (ok) {
                    fs.header = (f.size() > static_cast<std::size_t>(L.user_col) &&
                                 looks_like_header_word(f[static_cast<std::size_t>(L.user_col)])) ||
                                (f.size() > static_cast<std::size_t>(L.item_col) &&
                                 looks_like_header_word(f[static_cast<std::size_t>(L.item_col)]));
                }
            }
        }
        if (!fs.header) return pos;
        fs.line_offset = lines_seen;
        fs.bytes += static_cast<std::int64_t>(first_next);
        bytes_ += static_cast<std::int64_t>(first_next);
        return pos + first_next;
    }

    void check_columns() const {
        if (opt_.user_col < 0 || opt_.item_col < 0) throw OptionError("user-col/item-col: columns are 0-based and must be >= 0");
        if (opt_.user_col == opt_.item_col) throw OptionError("user-col/item-col: the user and item columns must differ");
        if (opt_.value_col >= 0 && (opt_.value_col == opt_.user_col || opt_.value_col == opt_.item_col))
            throw OptionError("value-col: the value column must differ from the user and item columns");
        if (std::max({opt_.user_col, opt_.item_col, opt_.value_col}) > 4096) throw OptionError("user-col/item-col/value-col: column index too large");
    }

    // The first piece of the first block becomes the merged dictionary as it is (identity map).
    void adopt_dict(KeyDict& global, KeyDict& local, std::vector<std::uint32_t>& map, const NamePool* names) {
        global = std::move(local);
        map.resize(global.size());
        std::iota(map.begin(), map.end(), 0u);
        if (!names) return;
        data_names_.resize(global.size());
        for (std::uint32_t j = 0; j < global.size(); ++j)
            if (names->has(j)) data_names_[j] = std::string(names->get(j));
    }

    // Adds a piece's keys to a merged dictionary (map: local id -> merged id), taking the first
    // non-empty display name seen for each item.
    void merge_into(KeyDict& global, const KeyDict& local, std::vector<std::uint32_t>& map, const NamePool* names) {
        map.resize(local.size());
        for (std::uint32_t j = 0; j < local.size(); ++j) {
            bool inserted;
            const std::uint32_t g = global.find_or_insert(local.key(j), local.hashes[j], inserted);
            map[j] = g;
            if (names && names->has(j)) {
                if (data_names_.size() <= g) data_names_.resize(global.size());
                if (data_names_[g].empty()) data_names_[g] = std::string(names->get(j));
            }
        }
    }

    // Parses one block of whole lines in parallel, merges its dictionaries and appends its rows.
    void process_block(std::string_view block, FileState& fs) {
        fs.bytes += static_cast<std::int64_t>(block.size());
        bytes_ += static_cast<std::int64_t>(block.size());
        if (block.empty()) return;
        const char* data = block.data();
        const std::size_t size = block.size();

        std::size_t n_pieces;
        if (opt_.chunk_bytes > 0)
            n_pieces = (size + opt_.chunk_bytes - 1) / opt_.chunk_bytes;
        else
            n_pieces = std::min<std::size_t>(static_cast<std::size_t>(threads_), std::max<std::size_t>(1, size / kMinChunk));
        std::vector<Piece> pieces(n_pieces);
        const char* prev = data;
        for (std::size_t k = 0; k < n_pieces; ++k) {
            const char* b = prev;
            const char* e = data + size;
            if (k + 1 < n_pieces) {
                e = std::max(b, data + (size / n_pieces) * (k + 1));
                if (e > data && e < data + size && e[-1] != '\n') {
                    const void* nl = std::memchr(e, '\n', static_cast<std::size_t>(data + size - e));
                    e = nl ? static_cast<const char*>(nl) + 1 : data + size;
                }
            }
            pieces[k].begin = b;
            pieces[k].end = e;
            prev = e;
        }

        std::atomic<std::size_t> first_error{std::numeric_limits<std::size_t>::max()};
        std::exception_ptr failure;
        const RowLayout& L = fs.layout;
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
        for (std::size_t k = 0; k < n_pieces; ++k) {
            if (first_error.load(std::memory_order_relaxed) < k) continue;
            try {
                if (L.csv)
                    parse_piece<true>(pieces[k], k, L, rules_, first_error, progress_);
                else
                    parse_piece<false>(pieces[k], k, L, rules_, first_error, progress_);
            } catch (...) {
#pragma omp critical(encore_ingest_failure)
                if (!failure) failure = std::current_exception();
            }
        }
        if (failure) std::rethrow_exception(failure);

        // Line numbers: physical lines of the preceding pieces, counted while parsing.
        std::int64_t before = fs.line_offset;
        for (auto& pc : pieces) {
            if (pc.error) throw ParseError(fs.name, before + pc.error->line, pc.error->reason);
            for (auto [local, global] : {std::pair{&pc.filtered_users, &filtered_users_}, std::pair{&pc.filtered_items, &filtered_items_}})
                for (std::uint32_t j = 0; j < local->size(); ++j) {
                    bool inserted;
                    global->find_or_insert(local->key(j), local->hashes[j], inserted);
                }
            for (auto& b : pc.bad_examples)
                if (bad_examples_.size() < kMaxBadExamples)
                    bad_examples_.push_back(fmt::format("{}:{}: {}", fs.name, before + b.line, b.reason));
            before += pc.lines;
            fs.data_lines += pc.data_lines;
            lines_ += pc.data_lines;
            below_min_ += pc.below_min;
            bad_ += pc.bad;
        }
        fs.line_offset = before;

        // Merge dictionaries in piece order, so ids follow first appearance in the input. Users and
        // items are independent: merged side by side, into tables sized up front.
        std::vector<std::vector<std::uint32_t>> umap(n_pieces), imap(n_pieces);
        std::vector<std::size_t> offset(n_pieces + 1, rows_.size());
        std::size_t max_users = users_.size(), max_items = items_.size(), user_bytes = 0, item_bytes = 0;
        for (std::size_t k = 0; k < n_pieces; ++k) {
            max_users += pieces[k].users.size();
            max_items += pieces[k].items.size();
            user_bytes += pieces[k].users.bytes.size();
            item_bytes += pieces[k].items.bytes.size();
            offset[k + 1] = offset[k] + pieces[k].u.size();
        }
        const bool with_names = L.name_col >= 0;
        std::exception_ptr merge_failure;
#pragma omp parallel sections num_threads(std::min(threads_, 2))
        {
#pragma omp section
            {
                try {
                    std::size_t k = 0;
                    if (users_.size() == 0) adopt_dict(users_, pieces[k++].users, umap[0], nullptr);
                    users_.reserve(max_users, users_.bytes.size() + user_bytes);
                    for (; k < n_pieces; ++k) merge_into(users_, pieces[k].users, umap[k], nullptr);
                } catch (...) {
#pragma omp critical(encore_ingest_failure)
                    if (!merge_failure) merge_failure = std::current_exception();
                }
            }
#pragma omp section
            {
                try {
                    std::size_t k = 0;
                    if (items_.size() == 0) adopt_dict(items_, pieces[k++].items, imap[0], with_names ? &pieces[0].names : nullptr);
                    items_.reserve(max_items, items_.bytes.size() + item_bytes);
                    for (; k < n_pieces; ++k)
                        merge_into(items_, pieces[k].items, imap[k], with_names ? &pieces[k].names : nullptr);
                } catch (...) {
#pragma omp critical(encore_ingest_failure)
                    if (!merge_failure) merge_failure = std::current_exception();
                }
            }
        }
        if (merge_failure) std::rethrow_exception(merge_failure);
        if (users_.size() > kMaxIds || items_.size() > kMaxIds)
            fail("{}: too many distinct users or items (more than 2^31 - 1)", fs.name);

        // Remap local ids to global ones and append the rows (each piece writes its own range). The
        // first block adopts piece 0's arrays and remaps them in place: no copy, no fresh pages.
        const std::size_t total = offset[n_pieces];
        const bool adopt = rows_.empty();
        if (adopt) {
            rows_ = std::move(pieces[0].u);
            cols_ = std::move(pieces[0].i);
            vals_ = std::move(pieces[0].v);
        }
        rows_.resize(total);
        cols_.resize(total);
        vals_.resize(total);
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
        for (std::size_t k = 0; k < n_pieces; ++k) {
            const auto& um = umap[k];
            const auto& im = imap[k];
            const std::size_t o = offset[k];
            if (adopt && k == 0) {
                for (std::size_t j = 0; j < offset[1]; ++j) {
                    rows_[j] = um[rows_[j]];
                    cols_[j] = im[cols_[j]];
                }
            } else {
                Piece& pc = pieces[k];
                for (std::size_t j = 0; j < pc.u.size(); ++j) {
                    rows_[o + j] = um[pc.u[j]];
                    cols_[o + j] = im[pc.i[j]];
                    vals_[o + j] = pc.v[j];
                }
            }
            pieces[k] = Piece();  // free as we go
        }
    }

    // Users and items that had rows, all of them dropped by the value filter: {"filter": "--min-value 4",
    // "users": {"count": N, "ids": [first kMaxDroppedIds keys], "capped": bool}, "items": {...}}, or null.
    nlohmann::json dropped_meta() const {
        auto side = [](const KeyDict& filtered, const KeyDict& kept) {
            nlohmann::json ids = nlohmann::json::array();
            std::int64_t count = 0;
            for (std::uint32_t j = 0; j < filtered.size(); ++j) {
                if (kept.find(filtered.key(j))) continue;
                ++count;
                if (ids.size() < kMaxDroppedIds) ids.push_back(std::string(filtered.key(j)));
            }
            return nlohmann::json{{"count", count}, {"ids", std::move(ids)}, {"capped", count > static_cast<std::int64_t>(kMaxDroppedIds)}};
        };
        auto users = side(filtered_users_, users_), items = side(filtered_items_, items_);
        if (users["count"] == 0 && items["count"] == 0) return nullptr;
        std::string filter = opt_.min_value ? fmt::format("min-value {}", *opt_.min_value) : std::string("dropping zero values");
        return {{"filter", filter}, {"users", std::move(users)}, {"items", std::move(items)}};
    }

    // Names files: the explicit one, else the companion files found beside the inputs.
    std::vector<NamesSpec> names_files() const {
        if (opt_.names_file.empty()) return auto_names_;
        NamesSpec s{opt_.names_file, '\t', false};
        if (format_ == InputFormat::csv || (format_ == InputFormat::movielens && ends_with(lower(opt_.names_file), ".csv")))
            s = {opt_.names_file, ',', true};
        else if (format_ == InputFormat::movielens)
            s = {opt_.names_file, '|', false, true};
        return {s};
    }

    // The standard names file beside an input (artists.dat, u.item, movies.csv), when present.
    void find_companion_names(const FileState& fs) {
        if (!opt_.names_file.empty() || fs.path == "-") return;
        auto dir = std::filesystem::path(fs.path).parent_path();
        NamesSpec s;
        if (format_ == InputFormat::lastfm2k)
            s = {(dir / "artists.dat").string(), '\t', false};
        else if (format_ == InputFormat::movielens)
            s = fs.movielens_csv ? NamesSpec{(dir / "movies.csv").string(), ',', true} : NamesSpec{(dir / "u.item").string(), '|', false, true};
        else
            return;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(s.path, ec)) return;
        for (const auto& o : auto_names_)
            if (o.path == s.path) return;
        auto_names_.push_back(s);
    }

    // KEY<sep>NAME[<sep>...] per line; keys that are not items are ignored (which also skips a header
    // line). Returns whether any item got a name.
    bool read_names(const NamesSpec& spec, std::vector<std::string>& names, std::vector<char>& from_file) {
        auto map = MappedFile::open(spec.path);
        std::string_view all(reinterpret_cast<const char*>(map->bytes().data()), map->size());
        if (all.substr(0, 3) == "\xEF\xBB\xBF") all.remove_prefix(3);
        std::string_view f[2];
        std::string scratch, conv_key, conv_name;
        std::int64_t line_no = 0;
        bool any = false;
        for (std::size_t at = 0; at < all.size();) {
            std::size_t nl = all.find('\n', at);
            std::size_t stop = nl == std::string_view::npos ? all.size() : nl;
            std::string_view line = all.substr(at, stop - at);
            at = stop + 1;
            ++line_no;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.empty()) continue;
            std::size_t n;
            bool ok = true;
            if (spec.csv) {
                if (scratch.capacity() < line.size()) scratch.reserve(line.size());
                ok = text::split_csv(line, spec.sep, f, n, scratch) == text::CsvStatus::ok;
            } else {
                n = text::split_plain(line, spec.sep, f);
            }
            std::string_view key = f[0], name = f[1];
            std::string reason;
            if (ok && n >= 2 && opt_.encoding == TextEncoding::utf8 && !spec.latin1) {
                reason = utf8_problem(key, "key");
                if (reason.empty()) reason = utf8_problem(name, "name");
            } else if (ok && n >= 2 && opt_.encoding != TextEncoding::utf8) {
                if (convert_text(key, opt_.encoding, conv_key)) key = conv_key;
                if (convert_text(name, opt_.encoding, conv_name)) name = conv_name;
            }
            if (!ok || n < 2 || !reason.empty()) {
                if (reason.empty())
                    reason = !ok ? std::string("bad quoting (quoted fields may not contain line breaks)")
                                 : fmt::format("expected KEY{}NAME", spec.sep == '\t' ? std::string("<tab>") : std::string(1, spec.sep));
                if (!opt_.skip_bad_lines) throw ParseError(spec.path, line_no, reason);
                ++bad_;
                if (bad_examples_.size() < kMaxBadExamples) bad_examples_.push_back(fmt::format("{}:{}: {}", spec.path, line_no, reason));
                continue;
            }
            auto id = items_.find(key);
            if (!id || from_file[*id]) continue;
            names[*id] = spec.latin1 && opt_.encoding == TextEncoding::utf8 ? text::repair_utf8(name) : std::string(name);
            from_file[*id] = 1;
            any = true;
        }
        return any;
    }

    // With dislikes allowed, +x and -x can sum to an explicit 0: no interaction, so drop it.
    static std::int64_t drop_zero_entries(Csr& m) {
        std::int64_t zeros = 0;
        for (float v : m.values.span()) zeros += v == 0.0f;
        if (zeros == 0) return 0;
        std::vector<std::int64_t> indptr(static_cast<std::size_t>(m.rows) + 1, 0);
        std::vector<std::int32_t> idx;
        std::vector<float> val;
        idx.reserve(static_cast<std::size_t>(m.nnz() - zeros));
        val.reserve(static_cast<std::size_t>(m.nnz() - zeros));
        for (std::int64_t r = 0; r < m.rows; ++r) {
            for (std::int64_t k = m.indptr[static_cast<std::size_t>(r)]; k < m.indptr[static_cast<std::size_t>(r) + 1]; ++k) {
                if (m.values[static_cast<std::size_t>(k)] == 0.0f) continue;
                idx.push_back(m.indices[static_cast<std::size_t>(k)]);
                val.push_back(m.values[static_cast<std::size_t>(k)]);
            }
            indptr[static_cast<std::size_t>(r) + 1] = static_cast<std::int64_t>(idx.size());
        }
        m.indptr = Buffer<std::int64_t>(std::move(indptr));
        m.indices = Buffer<std::int32_t>(std::move(idx));
        m.values = Buffer<float>(std::move(val));
        return zeros;
    }

    const IngestOptions& opt_;
    Progress& progress_;
    int threads_;
    InputFormat format_;
    RowRules rules_;
    KeyDict users_, items_;
    KeyDict filtered_users_, filtered_items_;  // keys seen in rows the value filter dropped
    std::vector<std::string> data_names_;  // per item, first non-empty name from the rows
    RawArray<std::uint32_t> rows_, cols_;  // global ids (< 2^31, so they read as int32 too)
    RawArray<float> vals_;
    std::int64_t bytes_ = 0, lines_ = 0, below_min_ = 0, bad_ = 0;
    std::vector<std::string> bad_examples_;
    nlohmann::json inputs_meta_ = nlohmann::json::array();
    std::vector<NamesSpec> auto_names_;
};

}  // namespace

InputFormat detect_input_format(const std::string& path) {
    if (path == "-") return InputFormat::tsv;
    auto map = MappedFile::open(path);
    std::string_view head(reinterpret_cast<const char*>(map->bytes().data()), std::min<std::size_t>(map->size(), 1 << 16));
    return detect_from(path, head);
}

Dataset ingest(const std::vector<std::string>& inputs, const IngestOptions& options, IngestReport* report) {
    const auto start = std::chrono::steady_clock::now();
    if (inputs.empty()) throw OptionError("ingest: no input files given");
    if (std::count(inputs.begin(), inputs.end(), std::string("-")) > 1)
        throw OptionError("ingest: standard input ('-') can be read only once");

    // Open everything first: a missing file fails before any parsing.
    std::vector<std::shared_ptr<MappedFile>> maps;
    double total_mb = 0;
    bool has_stdin = false;
    for (const auto& in : inputs) {
        if (in == "-") {
            maps.push_back(nullptr);
            has_stdin = true;
        } else {
            maps.push_back(MappedFile::open(in));
            total_mb += static_cast<double>(maps.back()->size()) / 1e6;
        }
    }

    Progress progress("ingest", has_stdin ? 0.0 : total_mb, options.reporter, "MB");
    Ingester ing(options, progress);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        ing.add_input(inputs[k], maps[k]);
        maps[k].reset();  // unmap as soon as the rows are copied out
    }
    IngestReport local;
    IngestReport& r = report ? *report : local;
    r = IngestReport{};
    Dataset d = ing.finish(inputs, r);
    progress.finish();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return d;
}

}  // namespace encore

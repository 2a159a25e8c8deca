#include "encore/data/synth.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <numbers>
#include <string_view>
#include <vector>

#include <omp.h>

#include "encore/io/atomic_file.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

// ---- randomness: everything is a hash of (seed, purpose, index), so any part can be computed alone
// and in any order (per-user streams make the output independent of the thread count).

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// splitmix64's finaliser: a bijection on 64-bit words with full avalanche.
std::uint64_t mix64(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// One key per purpose, so that streams for different purposes are unrelated.
enum class Purpose : std::uint64_t {
    item_genre = 1, popularity, names, mbid, mbid_missing, name_extra, name_collision,
    user_genre, user_stream, user_id,
};

std::uint64_t key_for(std::uint64_t seed, Purpose p) {
    return mix64(mix64(seed) ^ (static_cast<std::uint64_t>(p) * kGolden));
}

// Keyed hash of an index; a bijection of i for a fixed key (used for unique user ids).
std::uint64_t hash_index(std::uint64_t key, std::uint64_t i) { return mix64(key + i * kGolden); }

// Multiply-shift reduction of a 64-bit hash to [0, n): unbiased enough for n far below 2^64.
std::uint64_t reduce(std::uint64_t h, std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(h) * n) >> 64);
}

// A splitmix64 stream: small state, fast, good enough statistics for synthetic data.
class Rng {
public:
    explicit Rng(std::uint64_t state) : state_(state) {}
    std::uint64_t next() { return mix64(state_ += kGolden); }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }  // [0, 1)
    std::uint64_t below(std::uint64_t n) { return reduce(next(), n); }
    double normal() {  // Box-Muller; u1 in (0, 1] keeps the log finite
        double u1 = static_cast<double>((next() >> 11) + 1) * 0x1p-53;
        double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }

private:
    std::uint64_t state_;
};

// ---- options

void check_options(const SynthOptions& o) {
    if (o.users < 1) throw OptionError(fmt::format("users must be at least 1, got {}", o.users));
    if (o.items < 1 || o.items > std::numeric_limits<std::int32_t>::max())
        throw OptionError(fmt::format("items must be between 1 and {}, got {}",
                                      std::numeric_limits<std::int32_t>::max(), o.items));
    if (o.genres < 1 || o.genres > o.items)
        throw OptionError(fmt::format("genres must be between 1 and the number of items ({}), got {}", o.items,
                                      o.genres));
    if (o.max_items_per_user < 1 || o.max_items_per_user > o.items)
        throw OptionError(fmt::format("max-items-per-user must be between 1 and the number of items ({}), got {}",
                                      o.items, o.max_items_per_user));
    if (o.threads < 0) throw OptionError(fmt::format("threads must be 0 (all cores) or more, got {}", o.threads));
}

int item_genre(const SynthOptions& o, std::int64_t item) {
    // The first `genres` items seed one genre each, so that no genre is empty.
    if (item < o.genres) return static_cast<int>(item);
    auto h = hash_index(key_for(o.seed, Purpose::item_genre), static_cast<std::uint64_t>(item));
    return static_cast<int>(reduce(h, static_cast<std::uint64_t>(o.genres)));
}

int user_genre(const SynthOptions& o, std::int64_t user) {
    auto h = hash_index(key_for(o.seed, Purpose::user_genre), static_cast<std::uint64_t>(user));
    return static_cast<int>(reduce(h, static_cast<std::uint64_t>(o.genres)));
}

// ---- sampling: Walker/Vose alias tables, O(1) per draw with one random slot read.

class AliasTable {
public:
    AliasTable() = default;
    AliasTable(const std::vector<std::int32_t>& items, const std::vector<double>& weight) {
        const std::size_t n = items.size();
        slots_.resize(n);
        double total = 0;
        for (auto i : items) total += weight[static_cast<std::size_t>(i)];
        std::vector<double> scaled(n);
        std::vector<std::size_t> small, large;
        for (std::size_t j = 0; j < n; ++j) {
            scaled[j] = weight[static_cast<std::size_t>(items[j])] * static_cast<double>(n) / total;
            (scaled[j] < 1.0 ? small : large).push_back(j);
        }
        while (!small.empty() && !large.empty()) {
            std::size_t s = small.back(), l = large.back();
            small.pop_back();
            slots_[s] = {scaled[s], items[s], items[l]};
            scaled[l] -= 1.0 - scaled[s];
            if (scaled[l] < 1.0) {
                large.pop_back();
                small.push_back(l);
            }
        }
        // What is left is 1 up to rounding: keep it whole.
        for (auto j : small) slots_[j] = {1.0, items[j], items[j]};
        for (auto j : large) slots_[j] = {1.0, items[j], items[j]};
    }

    std::int32_t sample(Rng& rng) const {
        const Slot& s = slots_[rng.below(slots_.size())];
        return rng.uniform() < s.keep ? s.self : s.other;
    }

private:
    struct Slot {
        double keep;
        std::int32_t self, other;
    };
    std::vector<Slot> slots_;
};

// ---- text

// Prefix-free syllables (no one is the start of another), so a syllable string spells exactly one digit
// sequence and distinct codes give distinct words. Two are not ASCII.
constexpr std::string_view kSyllables[] = {"ka", "lo", "mi", "ra", "ne", "to", "su", "ve", "do", "an", "zi", "bo",
                                           "fa", "gu", "li", "sh", "ny", "or", "el", "ju", "pe", "ty", "ür", "ñe"};
constexpr std::uint64_t kBase = std::size(kSyllables);

void append_word(std::string& out, std::uint64_t code) {
    char digits[32];
    int n = 0;
    do {
        digits[n++] = static_cast<char>(code % kBase);
        code /= kBase;
    } while (code > 0);
    const std::size_t start = out.size();
    while (n > 0) out += kSyllables[static_cast<std::size_t>(digits[--n])];
    if (out[start] >= 'a' && out[start] <= 'z') out[start] = static_cast<char>(out[start] - 'a' + 'A');
}

constexpr char kHex[] = "0123456789abcdef";

void append_hex(char* out, std::uint64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
        out[i] = kHex[value & 15];
        value >>= 4;
    }
}

constexpr std::size_t kShortText = 64;

// The "mbid \t name" column of every artist, in one arena (kShortText bytes of padding at the end).
struct ItemText {
    std::string arena;
    std::vector<std::int64_t> offset;  // items + 1
    std::string_view get(std::int32_t item) const {
        auto i = static_cast<std::size_t>(item);
        return {arena.data() + offset[i], static_cast<std::size_t>(offset[i + 1] - offset[i])};
    }
};

// How artist i is written: its mbid (or none) and its name, each computed alone in O(1).
class ItemNaming {
public:
    explicit ItemNaming(const SynthOptions& o)
        : n_(static_cast<std::uint64_t>(o.items)), k_mbid_(key_for(o.seed, Purpose::mbid)),
          k_missing_(key_for(o.seed, Purpose::mbid_missing)), k_extra_(key_for(o.seed, Purpose::name_extra)),
          k_collide_(key_for(o.seed, Purpose::name_collision)) {
        // Name codes follow a seeded affine permutation of [0, n) (a coprime with n), so names do not
        // follow ids and need no table.
        auto h = key_for(o.seed, Purpose::names);
        mul_ = reduce(h, n_) | 1;
        while (std::gcd(mul_, n_) != 1) mul_ += 2;
        add_ = reduce(mix64(h), n_);
    }

    void mbid(std::string& out, std::uint64_t i) const {
        if (reduce(hash_index(k_missing_, i), 100) == 0) return;  // about 1% have none, as in the real file
        char id[36];
        auto a = hash_index(k_mbid_, i), b = mix64(a ^ kGolden);
        // UUID version 4 layout, as MusicBrainz ids are
        append_hex(id, a >> 32, 8);
        id[8] = '-';
        append_hex(id + 9, a >> 16, 4);
        id[13] = '-';
        append_hex(id + 14, 0x4000 | (a & 0x0fff), 4);
        id[18] = '-';
        append_hex(id + 19, 0x8000 | (b >> 50), 4);
        id[23] = '-';
        append_hex(id + 24, b, 12);
        out.append(id, sizeof id);
    }

    void name(std::string& out, std::uint64_t i) const {
        // About 0.2% reuse another artist's name (real data has namesakes with different mbids).
        auto hc = hash_index(k_collide_, i);
        if (n_ > 1 && reduce(hc, 500) == 0) {
            auto other = reduce(mix64(hc), n_ - 1);
            i = other >= i ? other + 1 : other;
        }
        // The first word spells a distinct code (at least three syllables), so it alone makes the name
        // unique; 40% get a second word of two syllables.
        append_word(out, (mul_ * i + add_) % n_ + kBase * kBase);
        auto h = hash_index(k_extra_, i);
        if (reduce(h, 10) < 4) {
            out += ' ';
            append_word(out, kBase + reduce(mix64(h), kBase * kBase - kBase));
        }
    }

private:
    std::uint64_t n_, k_mbid_, k_missing_, k_extra_, k_collide_, mul_ = 1, add_ = 0;
};

ItemText make_item_text(const SynthOptions& o, int threads) {
    const std::int64_t n = o.items;
    const ItemNaming naming(o);
    const int chunks = std::max(1, std::min<int>(threads * 4, static_cast<int>((n + 4095) / 4096)));
    std::vector<std::string> part(static_cast<std::size_t>(chunks));
    std::vector<std::int64_t> length(static_cast<std::size_t>(n));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int c = 0; c < chunks; ++c) {
        std::string& out = part[static_cast<std::size_t>(c)];
        for (std::int64_t i = n * c / chunks; i < n * (c + 1) / chunks; ++i) {
            const std::size_t before = out.size();
            naming.mbid(out, static_cast<std::uint64_t>(i));
            out += '\t';
            naming.name(out, static_cast<std::uint64_t>(i));
            length[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(out.size() - before);
        }
    }
    ItemText text;
    text.offset.resize(static_cast<std::size_t>(n) + 1, 0);
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) text.offset[i + 1] = text.offset[i] + length[i];
    text.arena.reserve(static_cast<std::size_t>(text.offset.back()) + kShortText);
    for (auto& p : part) text.arena += p;
    text.arena.append(kShortText, '\0');
    return text;
}

// ---- the item model: genres and popularity as alias tables

struct ItemModel {
    std::vector<AliasTable> genre;  // one per genre
    AliasTable global;              // all items
};

ItemModel make_item_model(const SynthOptions& o) {
    const std::int64_t n = o.items;
    // Zipf(0.9) popularity over a seeded random rank order.
    std::vector<std::int32_t> rank(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) rank[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i);
    Rng shuffle(key_for(o.seed, Purpose::popularity));
    for (std::int64_t i = n - 1; i > 0; --i)
        std::swap(rank[static_cast<std::size_t>(i)], rank[shuffle.below(static_cast<std::uint64_t>(i) + 1)]);
    std::vector<double> weight(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = std::pow(rank[i] + 1.0, -0.9);

    std::vector<std::vector<std::int32_t>> members(static_cast<std::size_t>(o.genres));
    std::vector<std::int32_t> all(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        members[static_cast<std::size_t>(item_genre(o, i))].push_back(static_cast<std::int32_t>(i));
        all[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i);
    }
    ItemModel model;
    model.genre.reserve(members.size());
    for (auto& m : members) model.genre.emplace_back(m, weight);
    model.global = AliasTable(all, weight);
    return model;
}

// ---- users

// 40 hex digits; the first 16 are a bijection of the user index, so ids never collide.
void user_id(char* out, std::uint64_t key, std::int64_t user) {
    auto h0 = hash_index(key, static_cast<std::uint64_t>(user));
    append_hex(out, h0, 16);
    append_hex(out + 16, mix64(h0 ^ kGolden), 16);
    append_hex(out + 32, mix64(h0 + kGolden) >> 32, 8);
}

constexpr std::int64_t kUsersPerChunk = 1024;  // fixed, so chunk boundaries do not depend on threads

// Per-thread scratch for one user: chosen items, their plays, and an open-addressing set of items.
struct UserScratch {
    std::vector<std::int32_t> items;
    std::vector<std::pair<std::int64_t, std::int32_t>> rows;  // (plays, item)
    std::vector<std::int32_t> table;  // -1 = empty; size a power of two >= 2 * max items
    std::uint64_t mask = 0;

    explicit UserScratch(int max_items) {
        std::size_t size = 16;
        while (size < 2 * static_cast<std::size_t>(max_items)) size *= 2;
        table.assign(size, -1);
        mask = size - 1;
    }
    bool insert(std::int32_t item) {
        auto slot = mix64(static_cast<std::uint64_t>(item)) & mask;
        while (table[slot] != -1) {
            if (table[slot] == item) return false;
            slot = (slot + 1) & mask;
        }
        table[slot] = item;
        return true;
    }
    void clear() {  // only the slots in use, so a user costs O(its items)
        for (auto item : items) {
            auto slot = mix64(static_cast<std::uint64_t>(item)) & mask;
            while (table[slot] != -1) {
                table[slot] = -1;
                slot = (slot + 1) & mask;
            }
        }
        items.clear();
    }
};

char* write_int(char* p, std::int64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) *p++ = tmp[--n];
    return p;
}

struct ChunkWriter {
    std::unique_ptr<char[]> data;
    std::size_t size = 0, capacity = 0;
    char* reserve(std::size_t more) {  // pointer to write at, with room for `more` bytes
        if (size + more > capacity) {
            std::size_t cap = std::max(size + more, capacity * 2);
            auto bigger = std::make_unique<char[]>(cap);
            if (size) std::memcpy(bigger.get(), data.get(), size);
            data = std::move(bigger);
            capacity = cap;
        }
        return data.get() + size;
    }
};

struct Generator {
    const SynthOptions& o;
    const ItemModel& model;
    const ItemText& text;
    std::size_t max_item_text = 0;
    std::uint64_t k_stream, k_id;

    // Appends user u's rows; returns how many.
    std::int64_t user(std::int64_t u, UserScratch& s, ChunkWriter& w) const {
        Rng rng(hash_index(k_stream, static_cast<std::uint64_t>(u)));
        const int max = o.max_items_per_user;
        const int target = (max == 1 || rng.uniform() < 0.9) ? max : 1 + static_cast<int>(rng.below(max - 1));
        const auto& main = model.genre[static_cast<std::size_t>(user_genre(o, u))];
        const auto& side1 = model.genre[rng.below(static_cast<std::uint64_t>(o.genres))];
        const auto& side2 = model.genre[rng.below(static_cast<std::uint64_t>(o.genres))];
        // 70% main genre, 10% each side genre, 10% global popularity. Draws are capped so that users of
        // a tiny genre end with a shorter list instead of looping.
        const int attempts = 8 * target + 32;
        for (int a = 0; a < attempts && static_cast<int>(s.items.size()) < target; ++a) {
            double r = rng.uniform();
            const AliasTable& table = r < 0.7 ? main : r < 0.8 ? side1 : r < 0.9 ? side2 : model.global;
            std::int32_t item = table.sample(rng);
            if (s.insert(item)) s.items.push_back(item);
        }
        const std::size_t n = s.items.size();
        s.rows.resize(n);
        for (std::size_t j = 0; j < n; ++j)
            s.rows[j] = {std::max<std::int64_t>(1, std::llround(std::exp(4.0 + 1.3 * rng.normal()))), s.items[j]};
        // most played first, as each user's top list in the real file (ties by item: a total order)
        std::sort(s.rows.begin(), s.rows.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });

        char id[41];
        user_id(id, k_id, u);
        id[40] = '\t';
        char* p = w.reserve(n * (41 + max_item_text + 1 + 21) + kShortText);
        char* const start = p;
        for (const auto& [plays, item] : s.rows) {
            std::memcpy(p, id, 41);
            p += 41;
            auto t = text.get(item);
            // A fixed-size copy compiles to a few vector moves, much cheaper than a call per row; the
            // arena and the buffer both have kShortText bytes of slack for the overshoot.
            if (t.size() <= kShortText)
                std::memcpy(p, t.data(), kShortText);
            else
                std::memcpy(p, t.data(), t.size());
            p += t.size();
            *p++ = '\t';
            p = write_int(p, plays);
            *p++ = '\n';
        }
        w.size += static_cast<std::size_t>(p - start);
        s.clear();
        return static_cast<std::int64_t>(n);
    }
};

}  // namespace

int synth_item_genre(const SynthOptions& options, std::int64_t item) {
    check_options(options);
    if (item < 0 || item >= options.items) fail("synth_item_genre: item {} outside 0..{}", item, options.items - 1);
    return item_genre(options, item);
}

int synth_user_genre(const SynthOptions& options, std::int64_t user) {
    check_options(options);
    if (user < 0 || user >= options.users) fail("synth_user_genre: user {} outside 0..{}", user, options.users - 1);
    return user_genre(options, user);
}

std::string synth_user_sha1(const SynthOptions& options, std::int64_t user) {
    check_options(options);
    if (user < 0 || user >= options.users) fail("synth_user_sha1: user {} outside 0..{}", user, options.users - 1);
    char id[40];
    user_id(id, key_for(options.seed, Purpose::user_id), user);
    return std::string(id, sizeof id);
}

std::string synth_artist_mbid(const SynthOptions& options, std::int64_t item) {
    check_options(options);
    if (item < 0 || item >= options.items) fail("synth_artist_mbid: item {} outside 0..{}", item, options.items - 1);
    std::string out;
    ItemNaming(options).mbid(out, static_cast<std::uint64_t>(item));
    return out;
}

std::string synth_artist_name(const SynthOptions& options, std::int64_t item) {
    check_options(options);
    if (item < 0 || item >= options.items) fail("synth_artist_name: item {} outside 0..{}", item, options.items - 1);
    std::string out;
    ItemNaming(options).name(out, static_cast<std::uint64_t>(item));
    return out;
}

SynthReport write_synth(const std::string& path, const SynthOptions& options) {
    check_options(options);
    const int threads = resolve_threads(options.threads);
    AtomicFile file(path);  // first, so that a bad path fails before any work
    Progress progress("synth", -1, options.reporter, "MB");

    const ItemText text = make_item_text(options, threads);
    const ItemModel model = make_item_model(options);
    Generator gen{options, model, text, 0, key_for(options.seed, Purpose::user_stream),
                  key_for(options.seed, Purpose::user_id)};
    for (std::size_t i = 0; i + 1 < text.offset.size(); ++i)
        gen.max_item_text = std::max(gen.max_item_text, static_cast<std::size_t>(text.offset[i + 1] - text.offset[i]));

    const std::int64_t chunks = (options.users + kUsersPerChunk - 1) / kUsersPerChunk;
    std::int64_t rows = 0;
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    auto record = [&] {
#pragma omp critical(encore_synth_error)
        if (!error) error = std::current_exception();
        failed = true;
    };
    // Each thread fills its own buffer with a chunk of users, then the chunks are written in order:
    // generation runs in parallel, the file sees the same bytes for any thread count. Exceptions must
    // not leave the parallel region: the first is kept and rethrown after it.
#pragma omp parallel num_threads(threads)
    {
        UserScratch scratch(options.max_items_per_user);
        ChunkWriter buffer;
#pragma omp for ordered schedule(dynamic, 1)
        for (std::int64_t c = 0; c < chunks; ++c) {
            std::int64_t chunk_rows = 0;
            buffer.size = 0;
            if (!failed) {
                try {
                    const std::int64_t end = std::min(options.users, (c + 1) * kUsersPerChunk);
                    for (std::int64_t u = c * kUsersPerChunk; u < end; ++u) chunk_rows += gen.user(u, scratch, buffer);
                } catch (...) {
                    record();
                }
            }
#pragma omp ordered
            {
                if (!failed) {
                    try {
                        file.write(buffer.data.get(), buffer.size);
                        rows += chunk_rows;
                        progress.add(static_cast<double>(buffer.size) / 1e6);
                    } catch (...) {
                        record();
                    }
                }
            }
        }
    }
    if (error) std::rethrow_exception(error);
    file.commit();
    progress.finish();
    return {rows, static_cast<std::int64_t>(file.position()), progress.elapsed_seconds()};
}

}  // namespace encore

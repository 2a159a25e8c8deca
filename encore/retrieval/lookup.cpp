// Name lookup (rules in lookup.hpp): keys and display names -> indices, normalised title matching,
// suggestions for unknown names, and the reason for ids that ingest dropped.
#include "encore/retrieval/lookup.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "encore/util/error.hpp"

namespace encore {

namespace {

// Articles that MovieLens (and library catalogues) move to the end of a title: "Matrix, The (1999)".
constexpr std::string_view kArticles[] = {"the", "a", "an", "la", "le", "les", "l'", "il", "el", "los", "las",
                                          "lo", "gli", "i", "die", "der", "das", "den", "det", "de", "het",
                                          "un", "une", "una", "o", "os", "as"};

bool is_article(std::string_view w) { return std::find(std::begin(kArticles), std::end(kArticles), w) != std::end(kArticles); }

bool is_word_byte(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'';
}

bool is_year(std::string_view w) {
    return w.size() == 4 && std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           (w[0] == '1' || w[0] == '2');
}

// Case-folded, punctuation-stripped words, each with its weight: a year 2, an article 0.25, else 1.
struct Tokens {
    std::vector<std::string> words;
    double total = 0;
};

double token_weight(std::string_view w) { return is_year(w) ? 2.0 : is_article(w) ? 0.25 : 1.0; }

Tokens tokenize(std::string_view normalized) {
    Tokens t;
    std::string_view s = normalized;
    for (std::size_t i = 0; i < s.size();) {
        while (i < s.size() && !is_word_byte(s[i])) ++i;
        std::size_t j = i;
        while (j < s.size() && is_word_byte(s[j])) ++j;
        if (j > i) {
            auto w = s.substr(i, j - i);
            if (std::find(t.words.begin(), t.words.end(), w) == t.words.end()) {
                t.words.emplace_back(w);
                t.total += token_weight(w);
            }
        }
        i = j;
    }
    return t;
}

// Dice coefficient of the weighted word sets.
double token_similarity(const Tokens& a, const Tokens& b) {
    if (a.total <= 0 || b.total <= 0) return 0;
    double common = 0;
    for (const auto& w : a.words)
        if (std::find(b.words.begin(), b.words.end(), w) != b.words.end()) common += token_weight(w);
    return 2 * common / (a.total + b.total);
}

// 1 - distance / longer length when the distance is within max(2, len/3) (the old suggestion rule), else 0.
double edit_similarity(std::string_view a, std::string_view b) {
    const std::size_t cap = std::max<std::size_t>(2, a.size() / 3);
    const std::size_t d = edit_distance(a, b, cap);
    if (d > cap) return 0;
    return 1.0 - static_cast<double>(d) / static_cast<double>(std::max<std::size_t>({a.size(), b.size(), 1}));
}

constexpr double kMinSimilarity = 0.5;

// A candidate for "did you mean": substring matches first (closest length first), then by similarity.
struct Suggestion {
    int tier;      // 0 = one contains the other, 1 = similar
    double score;  // tier 0: -length difference; tier 1: similarity
    std::string_view text;
};

// "; did you mean: A, B, C?" from the closest entries of the tables (in order), or "" when none is close.
std::string suggestion_suffix(std::initializer_list<const StringTable*> tables, std::string_view s) {
    const std::string query = normalize_title(s);
    const Tokens query_tokens = tokenize(query);
    std::vector<Suggestion> found;
    for (const StringTable* t : tables) {
        for (std::size_t i = 0; i < t->size(); ++i) {
            const std::string_view v = (*t)[i];
            if (v.empty()) continue;
            const std::string cand = normalize_title(v);
            if (!query.empty() && (cand.find(query) != std::string::npos || (cand.size() >= 3 && query.find(cand) != std::string::npos))) {
                found.push_back({0, -std::abs(static_cast<double>(cand.size()) - static_cast<double>(query.size())), v});
                continue;
            }
            const double sim = std::max(token_similarity(query_tokens, tokenize(cand)), edit_similarity(query, cand));
            if (sim >= kMinSimilarity) found.push_back({1, sim, v});
        }
    }
    std::stable_sort(found.begin(), found.end(), [](const Suggestion& a, const Suggestion& b) {
        return a.tier != b.tier ? a.tier < b.tier : a.score > b.score;
    });
    std::vector<std::string_view> picks;
    for (const auto& f : found) {
        if (picks.size() >= 3) break;
        if (std::find(picks.begin(), picks.end(), f.text) == picks.end()) picks.push_back(f.text);
    }
    if (picks.empty()) return {};
    return fmt::format("; did you mean: {}?", fmt::join(picks, ", "));
}

// Exact key, exact display name, then display name or key ignoring case, then the normalised title
// (lowest index wins at each step).
std::optional<std::int32_t> find_item(const Model& model, std::string_view s) {
    if (auto i = model.items.find(s)) return static_cast<std::int32_t>(*i);
    if (auto i = model.item_names.find(s)) return static_cast<std::int32_t>(*i);
    auto by_name = model.item_names.find_case_insensitive(s);
    if (!by_name.empty()) return static_cast<std::int32_t>(by_name.front());
    auto by_key = model.items.find_case_insensitive(s);
    if (!by_key.empty()) return static_cast<std::int32_t>(by_key.front());
    const std::string wanted = normalize_title(s);
    if (wanted.empty()) return std::nullopt;
    for (std::size_t i = 0; i < model.item_names.size(); ++i)
        if (normalize_title(model.item_names[i]) == wanted) return static_cast<std::int32_t>(i);
    return std::nullopt;
}

// Why ingest left no such user or item, when it recorded dropping it: "user 442 has no interactions
// left after --min-value 4"; or a note when the list of dropped ids was capped; or "".
std::string dropped_reason(const Model& model, const char* side, const char* what, std::string_view id, bool* exact) {
    *exact = false;
    const auto& info = model.info;
    if (!info.is_object() || !info.contains("data") || !info["data"].is_object() || !info["data"].contains("dropped")) return {};
    const auto& dropped = info["data"]["dropped"];
    if (!dropped.is_object() || !dropped.contains(side) || !dropped[side].is_object()) return {};
    const auto& d = dropped[side];
    const std::string filter = dropped.value("filter", std::string("filtering"));
    if (d.contains("ids") && d["ids"].is_array())
        for (const auto& x : d["ids"])
            if (x.is_string() && x.get_ref<const std::string&>() == id) {
                *exact = true;
                return fmt::format("{} {} has no interactions left after {}", what, id, filter);
            }
    if (d.value("capped", false))
        return fmt::format(" (ingest dropped {} {}s whose every row was filtered by {} and lists only the first {}; "
                           "it may be one of them)",
                           d.value("count", std::int64_t{0}), what, filter, d["ids"].size());
    return {};
}

[[noreturn]] void unknown(const Model& model, const char* side, const char* what, std::string_view id,
                          std::initializer_list<const StringTable*> tables) {
    bool exact = false;
    std::string reason = dropped_reason(model, side, what, id, &exact);
    if (exact) throw Error(reason);
    throw Error(fmt::format("unknown {} '{}'{}{}", what, id, reason, suggestion_suffix(tables, id)));
}


}  // namespace

// Items listed in a file, one per line by key or display name; blank lines and #comments skipped.
std::vector<std::int32_t> read_item_list(const Model& model, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    std::vector<std::int32_t> out;
    std::string line;
    std::int64_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        std::string_view s = line;
        while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        if (line_no == 1 && s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);  // UTF-8 byte order mark
        if (s.empty() || s.front() == '#') continue;
        auto item = find_item(model, s);
        if (!item) {
            try {
                unknown(model, "items", "item", s, {&model.item_names, &model.items});
            } catch (const Error& e) {
                throw ParseError(path, line_no, e.what());
            }
        }
        out.push_back(*item);
    }
    if (in.bad()) throw Error(fmt::format("{}: read error: {}", path, std::strerror(errno)));
    return out;
}

std::string normalize_title(std::string_view s) {
    std::string folded = StringTable::fold_case(s);
    // collapse white space, trim
    std::string t;
    for (char c : folded) {
        const bool space = c == ' ' || c == '\t';
        if (space) {
            if (!t.empty() && t.back() != ' ') t.push_back(' ');
        } else {
            t.push_back(c);
        }
    }
    while (!t.empty() && t.back() == ' ') t.pop_back();
    // Trailing parenthesised groups ("(1999)", "(a.k.a. ...)") stay at the end; the article before
    // them moves to the front.
    std::size_t base_end = t.size();
    while (base_end > 0 && t[base_end - 1] == ')') {
        std::size_t open = t.rfind('(', base_end - 1);
        if (open == std::string::npos) break;
        std::size_t b = open;
        while (b > 0 && t[b - 1] == ' ') --b;
        base_end = b;
    }
    std::string_view base = std::string_view(t).substr(0, base_end);
    const std::size_t comma = base.rfind(", ");
    if (comma == std::string_view::npos) return t;
    const std::string_view article = base.substr(comma + 2);
    if (!is_article(article)) return t;
    std::string out(article);
    if (article.back() != '\'') out.push_back(' ');
    out.append(base.substr(0, comma));
    out.append(std::string_view(t).substr(base_end));
    return out;
}

double name_similarity(std::string_view a, std::string_view b) {
    const std::string na = normalize_title(a), nb = normalize_title(b);
    return std::max(token_similarity(tokenize(na), tokenize(nb)), edit_similarity(na, nb));
}

ItemFilter ItemFilter::from_files(const Model& model, const std::string& only_file, const std::string& exclude_file) {
    ItemFilter f;
    if (only_file.empty() && exclude_file.empty()) return f;
    f.allowed.assign(static_cast<std::size_t>(model.n_items()), only_file.empty() ? 1 : 0);
    if (!only_file.empty())
        for (auto i : read_item_list(model, only_file)) f.allowed[static_cast<std::size_t>(i)] = 1;
    if (!exclude_file.empty())
        for (auto i : read_item_list(model, exclude_file)) f.allowed[static_cast<std::size_t>(i)] = 0;
    return f;
}

std::int32_t resolve_item(const Model& model, std::string_view key_or_name) {
    if (auto i = find_item(model, key_or_name)) return *i;
    unknown(model, "items", "item", key_or_name, {&model.item_names, &model.items});
}

std::int32_t resolve_user(const Model& model, std::string_view user_id) {
    if (auto u = model.users.find(user_id)) return static_cast<std::int32_t>(*u);
    unknown(model, "users", "user", user_id, {&model.users});
}

ItemFilter ItemFilter::from_items(std::int64_t n_items, std::span<const std::int32_t> allow,
                                  std::span<const std::int32_t> deny, bool restrict_to_allow) {
    ItemFilter f;
    if (!restrict_to_allow && deny.empty()) return f;
    f.allowed.assign(static_cast<std::size_t>(n_items), restrict_to_allow ? 0 : 1);
    auto check = [&](std::int32_t i) {
        if (i < 0 || i >= n_items) fail("item index {} out of range (model has {} items)", i, n_items);
        return static_cast<std::size_t>(i);
    };
    for (auto i : allow) f.allowed[check(i)] = 1;
    for (auto i : deny) f.allowed[check(i)] = 0;
    return f;
}

}  // namespace encore

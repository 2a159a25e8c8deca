#pragma once
// Name lookup: turning what a user typed (a key, a display name, a file of them) into item and user
// indices of a model, with suggestions for what was not found.
//
// Matching rule for items, first hit wins (the lowest index among equals):
//   1. exact key;  2. exact display name;
//   3. display name, then key, under Unicode case folding ("BJÖRK" finds "Björk");
//   4. display name after normalisation: case folded, runs of white space collapsed, and a trailing
//      article moved to the front ("Matrix, The (1999)" and "The Matrix (1999)" are the same title;
//      articles: the, a, an and common non-English ones, see kArticles in lookup.cpp).
// Anything else is unknown: the error suggests up to three names (or keys) ranked by (a) containing the
// normalised query or being contained in it, closest in length first, then (b) the better of a
// token similarity (Dice overlap of case-folded words, punctuation stripped, a year counting double
// and articles a quarter) and an edit-distance similarity, above a threshold.
// A user or item that ingest dropped entirely (every row below min-value, recorded in the model's
// info["data"]["dropped"]) is reported as such instead: "user 442 has no interactions left after
// min-value 4".
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/models/model.hpp"

namespace encore {

// A set of allowed items for every query path: --only FILE keeps listed items, --exclude FILE drops
// them. Files list one item per line, by key or by display name (blank lines and #comments ignored).
struct ItemFilter {
    std::vector<std::uint8_t> allowed;  // per item; empty = everything allowed
    static ItemFilter from_files(const Model& model, const std::string& only_file, const std::string& exclude_file);
    // From item indices in memory: allow (restrict_to_allow: only these) minus deny; empty = everything.
    static ItemFilter from_items(std::int64_t n_items, std::span<const std::int32_t> allow,
                                 std::span<const std::int32_t> deny, bool restrict_to_allow);
    std::span<const std::uint8_t> span() const { return allowed; }
};

// Resolves an item given by key or display name by the rule above.
// Unknown -> encore::Error "unknown item 'X'; did you mean: A, B, C?".
std::int32_t resolve_item(const Model& model, std::string_view key_or_name);
// Items listed in a file, one per line by key or display name (blank lines and #comments skipped; a
// title may contain commas). Unknown -> ParseError naming the file and line.
std::vector<std::int32_t> read_item_list(const Model& model, const std::string& path);

// Exact user id. Unknown -> Error with suggestions, or the reason ingest dropped it.
std::int32_t resolve_user(const Model& model, std::string_view user_id);

// The title normalisation of rule 4 (exposed for tests): "Matrix, The (1999)" -> "the matrix (1999)".
std::string normalize_title(std::string_view s);
// Similarity in [0, 1] of two strings as used for suggestions (tokens and edit distance, above).
double name_similarity(std::string_view a, std::string_view b);

}  // namespace encore

// Name lookup (encore/retrieval/lookup.hpp): Unicode case folding, normalised titles, suggestions,
// and ids that ingest dropped.
#include "encore/retrieval/lookup.hpp"

#include <functional>

#include <gtest/gtest.h>

#include "encore/util/error.hpp"
#include "queries_fixture.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// The small fixture model with these display names for its first items.
Model named_model(const std::vector<std::string>& first_names) {
    Model m = testing::small_model();
    auto names = m.item_names.to_vector();
    for (std::size_t i = 0; i < first_names.size(); ++i) names[i] = first_names[i];
    m.item_names = StringTable::build(names);
    return m;
}

TEST(StringTableFold, CaseInsensitiveFindCoversUnicode) {
    auto t = StringTable::build({"Björk", "ABBA", "Sigur Rós", "abba", "Straße"});
    EXPECT_EQ(t.find_case_insensitive("BJÖRK"), (std::vector<std::uint32_t>{0}));
    EXPECT_EQ(t.find_case_insensitive("björk"), (std::vector<std::uint32_t>{0}));
    EXPECT_EQ(t.find_case_insensitive("Abba"), (std::vector<std::uint32_t>{1, 3}));
    EXPECT_EQ(t.find_case_insensitive("SIGUR RÓS"), (std::vector<std::uint32_t>{2}));
    EXPECT_EQ(t.find_case_insensitive("STRASSE"), (std::vector<std::uint32_t>{4}));  // full case folding
    EXPECT_TRUE(t.find_case_insensitive("Bjork").empty());
    // Decomposed input (o + combining diaeresis) folds to the same composed form.
    EXPECT_EQ(t.find_case_insensitive("BJO\xCC\x88RK"), (std::vector<std::uint32_t>{0}));
    // A copy shares the lazily built index and answers the same.
    StringTable copy = t;
    EXPECT_EQ(copy.find_case_insensitive("bjÖrk"), (std::vector<std::uint32_t>{0}));
    // Invalid UTF-8 does not throw: ASCII letters are folded.
    EXPECT_TRUE(t.find_case_insensitive("Bj\xF6rk").empty());
}

TEST(Lookup, ResolveItemIgnoresUnicodeCase) {
    auto m = named_model({"Björk"});
    EXPECT_EQ(resolve_item(m, "BJÖRK"), 0);
}

TEST(Lookup, NormalizedTitlesMoveTrailingArticles) {
    EXPECT_EQ(normalize_title("Matrix, The (1999)"), "the matrix (1999)");
    EXPECT_EQ(normalize_title("The  Matrix (1999)"), "the matrix (1999)");
    EXPECT_EQ(normalize_title("American President, An"), "an american president");
    EXPECT_EQ(normalize_title("Cité des enfants perdus, La (1995)"), "la cité des enfants perdus (1995)");
    EXPECT_EQ(normalize_title("Postman, The (Postino, Il) (1994)"), "the postman (postino, il) (1994)");
    EXPECT_EQ(normalize_title("Crouching Tiger, Hidden Dragon (2000)"), "crouching tiger, hidden dragon (2000)");
}

TEST(Lookup, ExactMatchAfterNormalisationResolvesDirectly) {
    auto m = named_model({"Matrix, The (1999)", "Star Wars (1977)", "Star Trek: Generations (1994)", "Shawshank Redemption, The (1994)"});
    EXPECT_EQ(resolve_item(m, "The Matrix (1999)"), 0);
    EXPECT_EQ(resolve_item(m, "the shawshank redemption (1994)"), 3);
}

TEST(Lookup, SuggestionsFindTheObviousTitles) {
    auto m = named_model({"Star Wars (1977)", "Star Trek: Generations (1994)", "Return of the Jedi (1983)",
                          "Empire Strikes Back, The (1980)", "Matrix, The (1999)"});
    auto msg = error_of([&] { resolve_item(m, "Star Wars: Episode IV - A New Hope (1977)"); });
    EXPECT_EQ(msg.rfind("unknown item 'Star Wars: Episode IV - A New Hope (1977)'; did you mean: Star Wars (1977)", 0), 0u) << msg;
    msg = error_of([&] { resolve_item(m, "The Matrix (1998)"); });
    EXPECT_NE(msg.find("did you mean: Matrix, The (1999)"), std::string::npos) << msg;
    msg = error_of([&] { resolve_item(m, "Empire Strikes Back (1980)"); });
    EXPECT_NE(msg.find("did you mean: Empire Strikes Back, The (1980)"), std::string::npos) << msg;
    EXPECT_GT(name_similarity("Star Wars: Episode IV - A New Hope (1977)", "Star Wars (1977)"),
              name_similarity("Star Wars: Episode IV - A New Hope (1977)", "Star Trek: Generations (1994)"));
}

Model model_with_dropped(std::int64_t count, bool capped) {
    Model m = testing::small_model();
    m.info["data"]["dropped"] = {{"filter", "min-value 4"},
                                 {"users", {{"count", count}, {"ids", {"442", "user-77"}}, {"capped", capped}}},
                                 {"items", {{"count", 1}, {"ids", {"m9"}}, {"capped", false}}}};
    return m;
}

TEST(Lookup, DroppedIdsSayWhy) {
    auto m = model_with_dropped(2, false);
    EXPECT_EQ(error_of([&] { resolve_user(m, "442"); }), "user 442 has no interactions left after min-value 4");
    EXPECT_EQ(error_of([&] { resolve_item(m, "m9"); }), "item m9 has no interactions left after min-value 4");
    // Not dropped: the usual unknown-user message.
    EXPECT_EQ(error_of([&] { resolve_user(m, "user-99"); }).rfind("unknown user 'user-99'; did you mean: ", 0), 0u);
    // A capped list cannot rule it out: the message says so.
    auto capped = model_with_dropped(250000, true);
    auto msg = error_of([&] { resolve_user(capped, "zz-not-listed"); });
    EXPECT_NE(msg.find("ingest dropped 250000 users whose every row was filtered by min-value 4 and lists only the first 2"),
              std::string::npos)
        << msg;
}

TEST(Lookup, DroppedItemInAFilterFileSaysWhyWithFileAndLine) {
    auto m = model_with_dropped(2, false);
    testing::TempDir dir;
    auto f = dir.write("only.txt", "Radiohead\nm9\n");
    auto msg = error_of([&] { ItemFilter::from_files(m, f, ""); });
    EXPECT_EQ(msg, f + ":2: item m9 has no interactions left after min-value 4");
}

}  // namespace
}  // namespace encore

// Results rendering (encore/serve/render.hpp): the JSON contract, batch TSV (header, escaping, the old
// bytes with header = false), JSON Lines, and the output path checked before any work.
#include "encore/serve/render.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "encore/util/error.hpp"
#include "queries_fixture.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::vector<Recommendation>> some_results(std::int64_t queries) {
    std::vector<std::vector<Recommendation>> out(static_cast<std::size_t>(queries));
    for (std::int64_t q = 0; q < queries; ++q)
        for (int r = 0; r < 3; ++r)
            out[static_cast<std::size_t>(q)].push_back({static_cast<std::int32_t>((q + r + 1) % 40), 0.5f - 0.1f * r, {}});
    return out;
}

TEST(Render, BatchTsvHasAHeaderAndTheOldBytesWithout) {
    auto m = testing::small_model();
    testing::TempDir dir;
    auto results = some_results(m.n_items());
    auto with = dir.file("with.tsv"), without = dir.file("without.tsv");
    BatchWriter(with, {}).write(m, m.items, results);
    BatchWriter(without, {.header = false}).write(m, m.items, results);
    // The format before headers existed, written here independently.
    std::string old;
    for (std::size_t q = 0; q < results.size(); ++q) {
        int rank = 0;
        for (const auto& r : results[q])
            old += fmt::format("{}\t{}\t{}\t{:.6g}\n", m.items[q], ++rank, m.items[static_cast<std::size_t>(r.id)], r.score);
    }
    EXPECT_EQ(slurp(without), old);
    EXPECT_EQ(slurp(with), "query\trank\tresult\tscore\n" + old);
}

TEST(Render, TsvFieldsAreEscaped) {
    EXPECT_EQ(escape_tsv_field("plain"), "plain");
    EXPECT_EQ(escape_tsv_field("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
    auto m = testing::small_model();
    auto names = m.item_names.to_vector();
    names[1] = "Tab\tName";
    m.item_names = StringTable::build(names);
    testing::TempDir dir;
    std::vector<std::vector<Recommendation>> results(static_cast<std::size_t>(m.n_items()));
    results[0] = {{1, 0.25f, {}}};
    auto path = dir.file("x.tsv");
    BatchWriter(path, {.header = false, .names = true}).write(m, m.items, results);
    EXPECT_EQ(slurp(path), "The Beatles\t1\tTab\\tName\t0.25\n");
}

TEST(Render, BatchJsonLinesFollowTheSingleQueryContract) {
    auto m = testing::small_model();
    testing::TempDir dir;
    auto results = some_results(m.n_users());
    auto path = dir.file("u.jsonl");
    BatchWriter(path, {.format = BatchFormat::jsonl}).write(m, m.users, results);
    std::ifstream in(path);
    std::string line;
    std::size_t q = 0;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j["query"]["id"], std::string(m.users[q]));
        EXPECT_EQ(j, results_json(m, {{"id", std::string(m.users[q])}, {"name", std::string(m.users[q])}}, results[q]));
        ++q;
    }
    EXPECT_EQ(q, results.size());
    // Items as queries carry the item's id and name.
    auto items = dir.file("i.jsonl");
    BatchWriter(items, {.format = BatchFormat::jsonl}).write(m, m.items, some_results(m.n_items()));
    std::ifstream in2(items);
    std::getline(in2, line);
    EXPECT_EQ(nlohmann::json::parse(line)["query"], (nlohmann::json{{"id", "key-0"}, {"name", "The Beatles"}}));
}

TEST(Render, AnUnwritableOutputFailsWhenTheWriterIsMadeNotAfterTheWork) {
    try {
        BatchWriter w("/nonexistent/dir/x.tsv", {});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent/dir/x.tsv: cannot create: No such file or directory");
    }
}

TEST(Render, JsonIsValidEvenForNamesWithInvalidBytes) {
    auto m = testing::small_model();
    auto names = m.item_names.to_vector();
    names[1] = "Bj\xF6rk";  // as an old file ingested before the encoding checks could hold
    m.item_names = StringTable::build(names);
    std::vector<Recommendation> r = {{1, 0.5f, {}}};
    std::string text;
    ASSERT_NO_THROW(text = format_results(m, "t", r, true, item_json(m, 0)));
    auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["results"][0]["name"], "Bj\xEF\xBF\xBDrk");
    std::ostringstream out;
    print_results(out, m, "Related:", r, false, nullptr);
    EXPECT_EQ(out.str().rfind("Related:\n   1. Bj", 0), 0u) << out.str();
}

}  // namespace
}  // namespace encore

#include "encore/data/csr.hpp"

#include <random>

#include <gtest/gtest.h>

#include "encore/data/dataset.hpp"
#include "encore/data/string_table.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

TEST(Csr, FromTripletsSortsAndSumsDuplicates) {
    std::vector<std::int32_t> r = {1, 0, 1, 0, 1};
    std::vector<std::int32_t> c = {2, 1, 0, 1, 2};
    std::vector<float> v = {1, 2, 3, 4, 5};
    auto m = Csr::from_triplets(2, 3, r, c, v, 2);
    m.validate("m");
    ASSERT_EQ(m.nnz(), 3);
    EXPECT_EQ(m.at(0, 1), 6.0f);
    EXPECT_EQ(m.at(1, 0), 3.0f);
    EXPECT_EQ(m.at(1, 2), 6.0f);
    EXPECT_EQ(m.at(0, 0), 0.0f);
}

TEST(Csr, TransposeTwiceIsIdentity) {
    std::mt19937 rng(3);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int k = 0; k < 2000; ++k) {
        r.push_back(static_cast<std::int32_t>(rng() % 100));
        c.push_back(static_cast<std::int32_t>(rng() % 70));
        v.push_back(static_cast<float>(rng() % 9 + 1));
    }
    auto m = Csr::from_triplets(100, 70, r, c, v);
    auto t = m.transpose();
    t.validate("t");
    EXPECT_EQ(t.rows, 70);
    for (int i = 0; i < 100; ++i)
        for (int j = 0; j < 70; ++j) ASSERT_EQ(m.at(i, j), t.at(j, i));
    auto tt = t.transpose();
    EXPECT_EQ(std::vector<std::int32_t>(tt.indices.begin(), tt.indices.end()),
              std::vector<std::int32_t>(m.indices.begin(), m.indices.end()));
}

TEST(Csr, OutOfRangeTripletIsAnError) {
    std::vector<std::int32_t> r = {0}, c = {5};
    std::vector<float> v = {1};
    EXPECT_THROW(Csr::from_triplets(1, 3, r, c, v), Error);
}

TEST(StringTable, FindsExactCaseInsensitiveAndClose) {
    auto t = StringTable::build({"The Beatles", "Radiohead", "the beatles", "Beatles Tribute", "Muse"});
    EXPECT_EQ(t.size(), 5u);
    EXPECT_EQ(*t.find("Radiohead"), 1u);
    EXPECT_FALSE(t.find("radiohead").has_value());
    auto ci = t.find_case_insensitive("THE BEATLES");
    EXPECT_EQ(ci, (std::vector<std::uint32_t>{0, 2}));
    auto close = t.closest("Radiohed", 3);
    ASSERT_FALSE(close.empty());
    EXPECT_EQ(close[0], 1u);
    auto sub = t.closest("beatles", 5);
    EXPECT_GE(sub.size(), 2u);
}

TEST(Dataset, SaveLoadRoundTrip) {
    testing::TempDir dir;
    Dataset d;
    d.users = StringTable::build({"u1", "u2"});
    d.items = StringTable::build({"a", "b", "c"});
    d.item_names = StringTable::build({"Alpha", "", "Gamma"});
    std::vector<std::int32_t> r = {0, 0, 1}, c = {0, 2, 1};
    std::vector<float> v = {3, 4, 5};
    d.by_user = Csr::from_triplets(2, 3, r, c, v);
    d.by_item = d.by_user.transpose();
    d.meta["format"] = "csv";
    save_dataset(d, dir.file("d.encd"));
    EXPECT_TRUE(is_dataset_file(dir.file("d.encd")));
    auto e = load_dataset(dir.file("d.encd"));
    EXPECT_EQ(e.n_users(), 2);
    EXPECT_EQ(e.n_items(), 3);
    EXPECT_EQ(e.by_user.at(0, 2), 4.0f);
    EXPECT_EQ(e.by_item.at(1, 1), 5.0f);
    EXPECT_EQ(e.item_label(0), "Alpha");
    EXPECT_EQ(e.item_label(1), "b");
    EXPECT_EQ(*e.users.find("u2"), 1u);
    EXPECT_EQ(e.meta["format"], "csv");
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(Dataset, DefaultConstructedNameTableRoundTrips) {
    testing::TempDir dir;
    Dataset d;
    d.users = StringTable::build({"u"});
    d.items = StringTable::build({"i"});
    std::vector<std::int32_t> r = {0}, c = {0};
    std::vector<float> v = {1};
    d.by_user = Csr::from_triplets(1, 1, r, c, v);
    d.by_item = d.by_user.transpose();
    save_dataset(d, dir.file("d.encd"));
    auto e = load_dataset(dir.file("d.encd"));
    EXPECT_EQ(e.item_names.size(), 0u);
    EXPECT_EQ(e.item_label(0), "i");
}

}  // namespace
}  // namespace encore

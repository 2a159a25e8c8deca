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

namespace encore {
namespace {

// The parallel builders must give the same matrix for any thread count, including rows with
// duplicates, empty rows and empty columns.
TEST(Csr, ParallelBuildAndTransposeAreThreadCountInvariant) {
    std::mt19937 rng(11);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int k = 0; k < 50000; ++k) {
        r.push_back(static_cast<std::int32_t>(rng() % 997) * 2);  // odd rows stay empty
        c.push_back(static_cast<std::int32_t>(rng() % 1500));
        v.push_back(static_cast<float>(rng() % 7 + 1));
    }
    auto a = Csr::from_triplets(2000, 1600, r, c, v, 1);
    a.validate("a");
    for (int threads : {2, 3, 7}) {
        auto b = Csr::from_triplets(2000, 1600, r, c, v, threads);
        ASSERT_EQ(std::vector<std::int64_t>(a.indptr.begin(), a.indptr.end()),
                  std::vector<std::int64_t>(b.indptr.begin(), b.indptr.end()));
        ASSERT_EQ(std::vector<std::int32_t>(a.indices.begin(), a.indices.end()),
                  std::vector<std::int32_t>(b.indices.begin(), b.indices.end()));
        ASSERT_EQ(std::vector<float>(a.values.begin(), a.values.end()), std::vector<float>(b.values.begin(), b.values.end()));
        auto ta = a.transpose(1), tb = a.transpose(threads);
        tb.validate("tb");
        ASSERT_EQ(std::vector<std::int32_t>(ta.indices.begin(), ta.indices.end()),
                  std::vector<std::int32_t>(tb.indices.begin(), tb.indices.end()));
        ASSERT_EQ(std::vector<float>(ta.values.begin(), ta.values.end()), std::vector<float>(tb.values.begin(), tb.values.end()));
    }
    // a dense check of the sums
    std::vector<double> dense(2000 * 1600, 0.0);
    for (std::size_t k = 0; k < r.size(); ++k) dense[static_cast<std::size_t>(r[k]) * 1600 + static_cast<std::size_t>(c[k])] += v[k];
    for (int i = 0; i < 2000; i += 37)
        for (int j = 0; j < 1600; ++j) ASSERT_EQ(a.at(i, j), static_cast<float>(dense[static_cast<std::size_t>(i) * 1600 + j]));
}

}  // namespace
}  // namespace encore

#include "encore/data/synth.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

struct Row {
    std::string user, mbid, name, plays;
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Parses the TSV strictly: every line ends with '\n' and has exactly 4 tab-separated fields.
std::vector<Row> parse(const std::string& text) {
    std::vector<Row> rows;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        EXPECT_NE(end, std::string::npos) << "last line has no newline";
        if (end == std::string::npos) break;
        std::string_view line(text.data() + pos, end - pos);
        std::vector<std::string> f;
        std::size_t s = 0;
        for (;;) {
            std::size_t t = line.find('\t', s);
            f.emplace_back(line.substr(s, t == std::string_view::npos ? std::string_view::npos : t - s));
            if (t == std::string_view::npos) break;
            s = t + 1;
        }
        EXPECT_EQ(f.size(), 4u) << "line " << rows.size() + 1 << ": " << line;
        if (f.size() == 4) rows.push_back({f[0], f[1], f[2], f[3]});
        pos = end + 1;
    }
    return rows;
}

bool is_hex(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool is_mbid(const std::string& s) {
    if (s.size() != 36) return false;
    for (std::size_t i : {8u, 13u, 18u, 23u})
        if (s[i] != '-') return false;
    return is_hex(s.substr(0, 8)) && is_hex(s.substr(9, 4)) && is_hex(s.substr(14, 4)) && is_hex(s.substr(19, 4)) &&
           is_hex(s.substr(24, 12));
}

SynthOptions small_options() {
    SynthOptions o;
    o.users = 1500;
    o.items = 3000;
    o.genres = 12;
    o.max_items_per_user = 30;
    o.seed = 7;
    o.threads = 2;
    return o;
}

TEST(Synth, FormatIsLastfmShaped) {
    testing::TempDir dir;
    auto o = small_options();
    auto path = dir.file("synth.tsv");
    auto report = write_synth(path, o);
    auto text = read_all(path);
    EXPECT_EQ(report.bytes, static_cast<std::int64_t>(text.size()));
    auto rows = parse(text);
    ASSERT_EQ(report.rows, static_cast<std::int64_t>(rows.size()));
    std::int64_t empty_mbid = 0, non_ascii = 0;
    for (const auto& r : rows) {
        ASSERT_EQ(r.user.size(), 40u) << r.user;
        ASSERT_TRUE(is_hex(r.user)) << r.user;
        if (r.mbid.empty())
            ++empty_mbid;
        else
            ASSERT_TRUE(is_mbid(r.mbid)) << r.mbid;
        ASSERT_FALSE(r.name.empty());
        ASSERT_TRUE(!r.plays.empty() && r.plays.find_first_not_of("0123456789") == std::string::npos) << r.plays;
        ASSERT_NE(r.plays[0], '0') << r.plays;  // >= 1, no leading zeros
        for (unsigned char ch : r.name) non_ascii += ch >= 0x80;
    }
    // ~1% of artists have no mbid and some names are UTF-8: both must show up in 40K rows
    EXPECT_GT(empty_mbid, 0);
    EXPECT_LT(empty_mbid, static_cast<std::int64_t>(rows.size()) / 20);
    EXPECT_GT(non_ascii, 0);
}

TEST(Synth, RowCountUsersAndNoDuplicatePairs) {
    testing::TempDir dir;
    auto o = small_options();
    auto report = write_synth(dir.file("s.tsv"), o);
    auto rows = parse(read_all(dir.file("s.tsv")));
    // 90% of users at the cap, the rest below: between 85% of users * cap and users * cap
    EXPECT_LE(report.rows, o.users * o.max_items_per_user);
    EXPECT_GE(report.rows, o.users * o.max_items_per_user * 85 / 100);
    // every user appears, in one consecutive block, under its documented id
    std::vector<std::string> order;
    for (const auto& r : rows)
        if (order.empty() || order.back() != r.user) order.push_back(r.user);
    ASSERT_EQ(static_cast<std::int64_t>(order.size()), o.users);
    EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), order.size());
    EXPECT_EQ(order[0], synth_user_sha1(o, 0));
    EXPECT_EQ(order.back(), synth_user_sha1(o, o.users - 1));
    // no (user, artist) pair twice; an artist is its (mbid, name)
    std::unordered_set<std::string> pairs;
    for (const auto& r : rows) EXPECT_TRUE(pairs.insert(r.user + "\t" + r.mbid + "\t" + r.name).second) << r.user;
    // each user's rows are most played first
    for (std::size_t i = 1; i < rows.size(); ++i)
        if (rows[i].user == rows[i - 1].user) {
            ASSERT_LE(std::stoll(rows[i].plays), std::stoll(rows[i - 1].plays));
        }
}

TEST(Synth, ArtistNamesUniqueButForFewCollisions) {
    auto o = small_options();
    o.items = 20000;
    std::unordered_map<std::string, int> count;
    std::set<std::string> mbids;
    int with_mbid = 0;
    for (std::int64_t i = 0; i < o.items; ++i) {
        ++count[synth_artist_name(o, i)];
        auto m = synth_artist_mbid(o, i);
        if (!m.empty()) {
            ++with_mbid;
            mbids.insert(m);
        }
    }
    std::int64_t repeated = o.items - static_cast<std::int64_t>(count.size());
    EXPECT_GT(repeated, 0);                // some namesakes, as in real data
    EXPECT_LT(repeated, o.items / 200);    // about 0.2%
    EXPECT_EQ(static_cast<int>(mbids.size()), with_mbid);  // mbids unique
    EXPECT_NEAR(o.items - with_mbid, o.items / 100, o.items / 200);
}

TEST(Synth, SameBytesForAnyThreadCountAndRun) {
    testing::TempDir dir;
    auto o = small_options();
    o.users = 2500;  // more than two chunks of users
    o.threads = 1;
    write_synth(dir.file("a.tsv"), o);
    o.threads = 2;
    write_synth(dir.file("b.tsv"), o);
    write_synth(dir.file("c.tsv"), o);
    auto a = read_all(dir.file("a.tsv"));
    EXPECT_FALSE(a.empty());
    EXPECT_TRUE(a == read_all(dir.file("b.tsv")));
    EXPECT_TRUE(a == read_all(dir.file("c.tsv")));
    o.seed = 8;
    write_synth(dir.file("d.tsv"), o);
    auto d = read_all(dir.file("d.tsv"));
    EXPECT_FALSE(a == d);
    EXPECT_NE(a.substr(0, 40), d.substr(0, 40));  // user ids depend on the seed too
}

TEST(Synth, PlantedGenreStructure) {
    testing::TempDir dir;
    auto o = small_options();
    write_synth(dir.file("s.tsv"), o);
    auto rows = parse(read_all(dir.file("s.tsv")));
    std::unordered_map<std::string, std::int64_t> user_index, item_index;
    for (std::int64_t u = 0; u < o.users; ++u) user_index[synth_user_sha1(o, u)] = u;
    for (std::int64_t i = 0; i < o.items; ++i) {
        auto m = synth_artist_mbid(o, i);
        if (!m.empty()) item_index[m] = i;
    }
    std::vector<double> in_main(static_cast<std::size_t>(o.users)), total(static_cast<std::size_t>(o.users));
    std::vector<std::int64_t> genre_rows(static_cast<std::size_t>(o.genres));
    for (const auto& r : rows) {
        auto it = item_index.find(r.mbid);
        if (it == item_index.end()) continue;  // artists without mbid cannot be told apart by name alone
        auto u = static_cast<std::size_t>(user_index.at(r.user));
        EXPECT_EQ(synth_artist_name(o, it->second), r.name);
        int g = synth_item_genre(o, it->second);
        ++genre_rows[static_cast<std::size_t>(g)];
        total[u] += 1;
        in_main[u] += g == synth_user_genre(o, static_cast<std::int64_t>(u));
    }
    double share = 0;
    int users = 0;
    for (std::size_t u = 0; u < total.size(); ++u)
        if (total[u] > 0) {
            share += in_main[u] / total[u];
            ++users;
        }
    share /= users;
    // chance would be about 1/12; the plan is 70% main genre plus what side and global draws add
    EXPECT_GT(share, 0.5);
    EXPECT_LT(share, 0.95);
    for (auto n : genre_rows) EXPECT_GT(n, 0);  // every genre is used
}

TEST(Synth, RejectsBadOptions) {
    testing::TempDir dir;
    auto expect_error = [&](SynthOptions o, const std::string& what) {
        try {
            write_synth(dir.file("x.tsv"), o);
            ADD_FAILURE() << "accepted options, expected " << what;
        } catch (const OptionError& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
        EXPECT_FALSE(std::filesystem::exists(dir.file("x.tsv")));
    };
    auto o = small_options();
    o.users = 0;
    expect_error(o, "users must be at least 1");
    o = small_options();
    o.items = 0;
    expect_error(o, "items must be between 1");
    o = small_options();
    o.genres = 0;
    expect_error(o, "genres must be between 1 and the number of items (3000)");
    o.genres = 3001;
    expect_error(o, "genres");
    o = small_options();
    o.max_items_per_user = 3001;
    expect_error(o, "max-items-per-user must be between 1");
    o = small_options();
    o.threads = -1;
    expect_error(o, "threads must be 0");

    try {
        write_synth(dir.file("missing-dir/x.tsv"), small_options());
        ADD_FAILURE() << "wrote into a missing directory";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("missing-dir/x.tsv: cannot create"), std::string::npos) << e.what();
    }
    EXPECT_THROW(synth_item_genre(small_options(), 3000), Error);
    EXPECT_THROW(synth_user_genre(small_options(), -1), Error);
    EXPECT_THROW(synth_user_sha1(small_options(), 1500), Error);
}

TEST(Synth, TinyShapesWork) {
    // one item, one genre, one item per user: every user has exactly that row
    testing::TempDir dir;
    SynthOptions o;
    o.users = 3;
    o.items = 1;
    o.genres = 1;
    o.max_items_per_user = 1;
    auto report = write_synth(dir.file("t.tsv"), o);
    EXPECT_EQ(report.rows, 3);
    auto rows = parse(read_all(dir.file("t.tsv")));
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].name, rows[2].name);
    EXPECT_EQ(synth_item_genre(o, 0), 0);
}

}  // namespace
}  // namespace encore

// Radio sessions on a small hand-made store where every queue can be worked out by hand (shuffle off:
// weight order), the weighted shuffle's determinism and no-repeat rule, replay from the log after a
// restart, and the errors a listener can cause.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "encore/io/sqlite.hpp"
#include "encore/serve/radio.hpp"
#include "encore/serve/store.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

// Items a..g (indices 0..6) with these radio lists (item: neighbour score, ...):
//   a: b .9, c .8, d .7, e .6      b: f .9, c .5, a .4      c: d .9, e .8      d: g .5
// and users u1 (recommended b, c) and u2 (nothing).
std::string hand_store(const testing::TempDir& dir) {
    const auto path = dir.file("hand.db");
    SqliteDb db(path, SqliteDb::Mode::create);
    db.exec(R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, file TEXT NOT NULL, info TEXT NOT NULL);
CREATE TABLE items (idx INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, listeners INTEGER NOT NULL);
CREATE TABLE users (idx INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, items INTEGER NOT NULL);
CREATE TABLE related (model INTEGER NOT NULL, item INTEGER NOT NULL, rank INTEGER NOT NULL, other INTEGER NOT NULL,
    score REAL NOT NULL, member_scores TEXT, PRIMARY KEY (model, item, rank)) WITHOUT ROWID;
CREATE TABLE radio (item INTEGER PRIMARY KEY, neighbours BLOB NOT NULL);
CREATE TABLE recommendations (user INTEGER PRIMARY KEY, results BLOB NOT NULL);
INSERT INTO meta VALUES ('format', 'encore-store'), ('version', '1'), ('finished', 'now'), ('because', '0'),
    ('default_model', 'hand');
INSERT INTO models VALUES (0, 'hand', 'als', 'hand.encm', '{}');
INSERT INTO items VALUES (0, 'a', 'A', 7), (1, 'b', 'B', 6), (2, 'c', 'C', 5), (3, 'd', 'D', 4), (4, 'e', 'E', 3),
    (5, 'f', 'F', 2), (6, 'g', 'G', 1);
INSERT INTO users VALUES (0, 'u1', 2), (1, 'u2', 0);
)sql");
    auto radio = db.prepare("INSERT INTO radio (item, neighbours) VALUES (?1, ?2)");
    auto blob = [](std::initializer_list<std::pair<std::int32_t, float>> list) {
        std::vector<std::byte> out;
        for (auto [i, s] : list) {
            const auto at = out.size();
            out.resize(at + 8);
            std::memcpy(out.data() + at, &i, 4);
            std::memcpy(out.data() + at + 4, &s, 4);
        }
        return out;
    };
    radio.bind(1, std::int64_t{0}).bind_blob(2, blob({{1, .9f}, {2, .8f}, {3, .7f}, {4, .6f}})).run();
    radio.bind(1, std::int64_t{1}).bind_blob(2, blob({{5, .9f}, {2, .5f}, {0, .4f}})).run();
    radio.bind(1, std::int64_t{2}).bind_blob(2, blob({{3, .9f}, {4, .8f}})).run();
    radio.bind(1, std::int64_t{3}).bind_blob(2, blob({{6, .5f}})).run();
    auto recs = db.prepare("INSERT INTO recommendations (user, results) VALUES (?1, ?2)");
    recs.bind(1, std::int64_t{0}).bind_blob(2, blob({{1, 2.0f}, {2, 1.0f}})).run();
    recs.bind(1, std::int64_t{1}).bind_blob(2, blob({})).run();
    return path;
}

std::vector<std::string> keys(const Store& s, const std::vector<std::int32_t>& items) {
    std::vector<std::string> out;
    for (auto i : items) out.emplace_back(s.item_key(i));
    return out;
}

using V = std::vector<std::string>;

TEST(Radio, QueuesFollowTheRulesByHand) {
    testing::TempDir dir;
    const auto store = Store::open(hand_store(dir));
    RadioService radio(open_sqlite_sessions(dir.file("sessions.db")));
    // Pool a 1 (the seed, first), b .9, c .8, d .7, e .6.
    auto r = radio.start(*store, "item", "a", 1, false, 3);
    EXPECT_EQ(keys(*store, r.items), (V{"a", "b", "c"}));
    const auto id = r.session;
    // Up on b: f joins with .9, c gains .5 (1.3), a .4 (1.4); unplayed by weight: f .9, d .7, e .6.
    r = radio.feedback(*store, id, "b", RadioEventKind::up, 3);
    EXPECT_EQ(keys(*store, r.items), (V{"f", "d", "e"}));
    EXPECT_EQ(keys(*store, radio.next(*store, id, 1).items), (V{"f"}));
    // Down on c: c is banned; d .7 * (1 - .5 * .9) = .385, e .6 * (1 - .5 * .8) = .36.
    r = radio.feedback(*store, id, "c", RadioEventKind::down, 5);
    EXPECT_EQ(keys(*store, r.items).front(), "d");
    EXPECT_EQ(keys(*store, radio.next(*store, id, 1).items), (V{"d"}));
    // Skip on d: its neighbour g is not in the pool, nothing changes.
    r = radio.feedback(*store, id, "d", RadioEventKind::skip, 1);
    EXPECT_EQ(keys(*store, r.items), (V{"e"}));
    EXPECT_EQ(keys(*store, radio.next(*store, id, 1).items), (V{"e"}));
    // Every unbanned item has played: a new cycle by weight, c never again (b and f tie at .9: b first).
    EXPECT_EQ(keys(*store, radio.next(*store, id, 5).items), (V{"a", "b", "f", "d", "e"}));
    const auto state = radio.describe(*store, id, 3);
    EXPECT_EQ(state["cycle"], 1);
    EXPECT_EQ(state["played"].size(), 11u);

    // A restarted server (a new service on the same log) continues the same session.
    RadioService again(open_sqlite_sessions(dir.file("sessions.db")));
    EXPECT_EQ(again.describe(*store, id, 3)["played"], state["played"]);
    EXPECT_EQ(again.describe(*store, id, 3)["queue"], state["queue"]);
}

TEST(Radio, AUserRadioStartsFromTheirRecommendations) {
    testing::TempDir dir;
    const auto store = Store::open(hand_store(dir));
    RadioService radio(open_sqlite_sessions(dir.file("sessions.db")));
    // Seeds b (first) and c; pool b 1, c 1, f .9, d .9 (c's .9 beats a's list), e .8, a .4.
    auto r = radio.start(*store, "user", "u1", 3, false, 6);
    EXPECT_EQ(keys(*store, r.items), (V{"b", "c", "d", "f", "e", "a"}));
    try {
        radio.start(*store, "user", "u2", 3, false, 1);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "user 'u2' has no stored recommendations to start a radio from");
    }
}

TEST(Radio, ShuffleIsSeededAndNeverRepeatsWithinACycle) {
    testing::TempDir dir;
    const auto store = Store::open(hand_store(dir));
    RadioService radio(open_sqlite_sessions(dir.file("sessions.db")));
    const auto one = radio.start(*store, "item", "a", 42, true, 5);
    const auto two = radio.start(*store, "item", "a", 42, true, 5);
    EXPECT_NE(one.session, two.session);
    EXPECT_EQ(one.items, two.items);  // same seed, same order
    EXPECT_EQ(keys(*store, one.items).front(), "a");
    const std::set<std::int32_t> distinct(one.items.begin(), one.items.end());
    EXPECT_EQ(distinct.size(), 5u);  // the whole pool, no repeat
    // Played in two calls or one: the same items.
    const auto three = radio.start(*store, "item", "a", 42, true, 2);
    auto rest = radio.next(*store, three.session, 3).items;
    auto joined = three.items;
    joined.insert(joined.end(), rest.begin(), rest.end());
    EXPECT_EQ(joined, one.items);
    // Different seeds give different orders (for these seeds).
    bool differs = false;
    for (std::uint64_t seed = 1; seed < 20 && !differs; ++seed)
        differs = radio.start(*store, "item", "a", seed, true, 5).items != one.items;
    EXPECT_TRUE(differs);
}

TEST(Radio, RefusesWhatAListenerGetsWrong) {
    testing::TempDir dir;
    const auto store = Store::open(hand_store(dir));
    RadioService radio(open_sqlite_sessions(dir.file("sessions.db")));
    auto expect = [](const std::function<void()>& f, const std::string& what) {
        try {
            f();
            ADD_FAILURE() << "accepted: " << what;
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), what);
        }
    };
    expect([&] { radio.start(*store, "item", "zz", 1, true, 1); }, "unknown item 'zz'");
    expect([&] { radio.start(*store, "item", "g", 1, true, 1); },
           "item 'g' has no radio neighbours in this store (precompute with --radio)");
    expect([&] { radio.next(*store, "nope", 1); }, "unknown radio session 'nope'");
    const auto id = radio.start(*store, "item", "a", 1, false, 1).session;
    expect([&] { radio.feedback(*store, id, "e", RadioEventKind::up, 1); },
           fmt::format("item 'e' has not played in radio session '{}'", id));
    expect([&] { radio.feedback(*store, id, "zz", RadioEventKind::up, 1); }, "unknown item 'zz'");
    EXPECT_THROW(radio.next(*store, "nope", 1), RadioService::NotFound);
}

}  // namespace
}  // namespace encore

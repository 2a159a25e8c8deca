// The precomputed store: what precompute writes equals what the Recommender answers (related per
// model and for the ensemble with each member's score, radio neighbours, recommendations with their
// "because" items); a run killed with SIGKILL and started again finishes with the same rows as an
// uninterrupted one; bad inputs and unfinished stores are refused with a clear message.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "encore/io/sqlite.hpp"
#include "encore/kinds/family.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/serve/recommender.hpp"
#include "encore/serve/store.hpp"
#include "encore/util/error.hpp"
#include "synth_split.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

namespace fs = std::filesystem;

struct Fixture {
    testing::TempDir dir;
    Dataset data;
    std::string als, knn, big;  // model files; big: enough slices for a kill in the middle
};

Model train(const Dataset& d, std::string_view kind) {
    auto o = default_model_options(&model_type(kind));
    o.threads = 2;
    o.als.factors = 8;
    o.als.iterations = 4;
    return train_model(d, o, "test");
}

const Fixture& fixture() {
    static const std::unique_ptr<Fixture> f = [] {
        auto f = std::make_unique<Fixture>();
        SynthOptions so{.users = 300, .items = 200, .genres = 6, .max_items_per_user = 20, .seed = 9, .threads = 2};
        f->data = testing::synth_split(f->dir.file("plays.tsv"), so, 3).all;
        f->als = f->dir.file("als.encm");
        f->knn = f->dir.file("knn.encm");
        save_model(train(f->data, "als"), f->als);
        save_model(train(f->data, "knn"), f->knn);
        SynthOptions big{.users = 6000, .items = 4000, .genres = 12, .max_items_per_user = 40, .seed = 4, .threads = 2};
        auto bd = testing::synth_split(f->dir.file("big.tsv"), big, 3).all;
        f->big = f->dir.file("big.encm");
        save_model(train(bd, "als"), f->big);
        return f;
    }();
    return *f;
}

PrecomputeOptions small_options() {
    PrecomputeOptions o;
    o.models = {fixture().als, fixture().knn};
    o.related = 5;
    o.radio = 20;
    o.recommendations = 10;
    o.because = 2;
    o.candidates = 15;
    o.slice = 64;
    o.threads = 2;
    return o;
}

TEST(Store, HoldsWhatTheRecommenderAnswers) {
    const auto& f = fixture();
    const auto path = f.dir.file("small.db");
    const auto report = precompute(small_options(), path);
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".partial"));
    EXPECT_EQ(report.items, f.data.n_items());
    EXPECT_EQ(report.users, f.data.n_users());
    EXPECT_EQ(report.models, 3);
    EXPECT_EQ(report.radio_lists, f.data.n_items());
    EXPECT_EQ(report.recommendation_lists, f.data.n_users());
    EXPECT_EQ(report.slices_resumed, 0);
    EXPECT_EQ(report.bytes, fs::file_size(path));

    const auto store = Store::open(path);
    ASSERT_EQ(store->models().size(), 3u);
    EXPECT_EQ(store->models()[0].name, "ensemble");
    EXPECT_EQ(store->models()[1].name, "als");
    EXPECT_EQ(store->models()[1].kind, "als");
    EXPECT_EQ(store->models()[2].name, "knn");
    EXPECT_EQ(store->default_model().name, "ensemble");
    EXPECT_TRUE(store->models()[1].info.contains("options"));
    EXPECT_EQ(store->meta().value("radio_model", ""), "als");
    EXPECT_FALSE(store->meta().value("created", "").empty());

    auto als = Recommender::open({.models = {f.als}});
    auto knn = Recommender::open({.models = {f.knn}});
    auto ensemble = Recommender::open({.models = {f.als, f.knn}, .candidates = 15});
    ASSERT_EQ(store->n_items(), als.model().n_items());
    for (std::int32_t i = 0; i < store->n_items(); ++i) {
        EXPECT_EQ(store->item_key(i), als.item_key(i));
        EXPECT_EQ(store->item_name(i), als.item_name(i));
        EXPECT_EQ(store->find_item(als.item_key(i)), i);
        EXPECT_EQ(store->listeners(i), static_cast<std::int64_t>(f.data.by_item.row_indices(i).size()));
    }
    for (std::int32_t u = 0; u < store->n_users(); ++u) EXPECT_EQ(store->find_user(als.user_key(u)), u);
    EXPECT_EQ(store->find_item("no such item"), -1);

    for (std::int32_t i = 0; i < store->n_items(); i += 7) {
        // als: the head of its radio list; knn: its own related items; the ensemble with member scores.
        const auto want_als = als.related(i, {.n = 20});
        const auto radio = store->radio(i);
        ASSERT_EQ(radio.size(), want_als.size());
        for (std::size_t k = 0; k < radio.size(); ++k) {
            EXPECT_EQ(radio[k].item, want_als[k].id) << "item " << i << " rank " << k;
            EXPECT_NEAR(radio[k].score, want_als[k].score, 1e-5);
        }
        const auto rel = store->related(1, i, 100);
        ASSERT_EQ(rel.size(), 5u);
        for (std::size_t k = 0; k < rel.size(); ++k) EXPECT_EQ(rel[k].item, radio[k].item);
        const auto want_knn = knn.related(i, {.n = 5});
        const auto rel_knn = store->related(2, i, 5);
        ASSERT_EQ(rel_knn.size(), want_knn.size());
        for (std::size_t k = 0; k < rel_knn.size(); ++k) EXPECT_EQ(rel_knn[k].item, want_knn[k].id);
        const auto want_ens = ensemble.related(i, {.n = 5});
        const auto rel_ens = store->related(0, i, 5);
        ASSERT_EQ(rel_ens.size(), want_ens.size());
        for (std::size_t k = 0; k < rel_ens.size(); ++k) {
            EXPECT_EQ(rel_ens[k].item, want_ens[k].id);
            ASSERT_EQ(rel_ens[k].member_scores.size(), 2u);
            EXPECT_NEAR(rel_ens[k].member_scores[0], als.similarity(i, rel_ens[k].item), 1e-5);
            EXPECT_NEAR(rel_ens[k].member_scores[1], knn.similarity(i, rel_ens[k].item), 1e-5);
        }
        EXPECT_TRUE(rel_knn.empty() || rel_knn[0].member_scores.empty());
        EXPECT_EQ(store->related(1, i, 2).size(), 2u);
    }
    for (std::int32_t u = 0; u < store->n_users(); u += 5) {
        const auto want = ensemble.recommend(u, {.n = 10});
        const auto got = store->recommendations(u, 100);
        ASSERT_EQ(got.size(), want.size()) << "user " << u;
        const auto played = f.data.by_user.row_indices(u);
        const std::set<std::int32_t> played_set(played.begin(), played.end());
        for (std::size_t k = 0; k < got.size(); ++k) {
            EXPECT_EQ(got[k].item, want[k].id);
            EXPECT_NEAR(got[k].score, want[k].score, 1e-4);  // batch and single paths round differently
            EXPECT_EQ(played_set.count(got[k].item), 0u) << "a played item was recommended";
            EXPECT_FALSE(got[k].because.empty());
            EXPECT_LE(got[k].because.size(), 2u);
            const auto expl = als.explain(u, got[k].item, 2);
            ASSERT_EQ(got[k].because.size(), expl.size());
            for (std::size_t j = 0; j < expl.size(); ++j) {
                EXPECT_EQ(got[k].because[j].item, expl[j].item);
                EXPECT_EQ(played_set.count(got[k].because[j].item), 1u) << "because names an unplayed item";
            }
        }
        EXPECT_EQ(store->recommendations(u, 3).size(), std::min<std::size_t>(3, want.size()));
    }
}

// Every row of every table (meta without its times), in a stable order, as text.
std::vector<std::string> dump(const std::string& path) {
    SqliteDb db(path, SqliteDb::Mode::read_only);
    std::vector<std::string> out;
    for (const char* sql :
         {"SELECT key || '=' || value FROM meta WHERE key NOT IN ('created', 'finished') ORDER BY key",
          "SELECT id || name || kind || file || info FROM models ORDER BY id",
          "SELECT idx || key || name || listeners FROM items ORDER BY idx",
          "SELECT idx || key || items FROM users ORDER BY idx",
          "SELECT model || ' ' || item || ' ' || rank || ' ' || other || ' ' || quote(score) || ' ' || "
          "ifnull(member_scores, '') FROM related ORDER BY model, item, rank",
          "SELECT item || ' ' || hex(neighbours) FROM radio ORDER BY item",
          "SELECT user || ' ' || hex(results) FROM recommendations ORDER BY user"}) {
        auto st = db.prepare(sql);
        while (st.step()) out.emplace_back(st.text(0));
        out.emplace_back("--");
    }
    return out;
}

std::int64_t committed_slices(const std::string& partial) {
    try {
        SqliteDb db(partial, SqliteDb::Mode::read_only, 50);
        return db.integer("SELECT COUNT(*) FROM progress WHERE phase = 'items'", 0);
    } catch (const Error&) {
        return 0;  // not created yet, or the tables not yet there
    }
}

TEST(Store, AKilledRunResumesToTheSameRows) {
    const auto& f = fixture();
    const auto whole = f.dir.file("whole.db"), killed = f.dir.file("killed.db");
    const std::string args = fmt::format("--related 10 --radio 100 --recommendations 20 --because 2 --slice 16 --threads 2 --quiet");
    auto r = testing::run_cli(fmt::format("precompute {} -o {} {}", f.big, whole, args));
    ASSERT_EQ(r.status, 0) << r.output;

    // Start the same run and SIGKILL it once a few slices are committed.
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl(ENCORE_CLI, ENCORE_CLI, "precompute", f.big.c_str(), "-o", killed.c_str(), "--related", "10", "--radio",
              "100", "--recommendations", "20", "--because", "2", "--slice", "16", "--threads", "2", "--quiet",
              static_cast<char*>(nullptr));
        _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (committed_slices(killed + ".partial") < 4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed; make the data larger";
    ASSERT_FALSE(fs::exists(killed)) << "a killed run must not leave a finished store";
    ASSERT_TRUE(fs::exists(killed + ".partial"));
    const auto before = committed_slices(killed + ".partial");
    EXPECT_GE(before, 4);

    r = testing::run_cli(fmt::format("precompute {} -o {} {} --json", f.big, killed, args));
    ASSERT_EQ(r.status, 0) << r.output;
    const auto report = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    EXPECT_GE(report["slices_resumed"].get<std::int64_t>(), before);
    EXPECT_LT(report["slices_resumed"].get<std::int64_t>(), report["slices"].get<std::int64_t>());
    EXPECT_FALSE(fs::exists(killed + ".partial"));
    const auto a = dump(whole), b = dump(killed);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) ASSERT_EQ(a[k], b[k]) << "row " << k;
}

TEST(Store, RefusesWhatDoesNotFit) {
    const auto& f = fixture();
    auto expect_error = [](const std::function<void()>& run, const std::string& what) {
        try {
            run();
            ADD_FAILURE() << "accepted, expected: " << what;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    auto o = small_options();
    o.related = 0;
    expect_error([&] { precompute(o, f.dir.file("x.db")); }, "related must be in [1, 10000], got 0");
    o = small_options();
    o.models.clear();
    expect_error([&] { precompute(o, f.dir.file("x.db")); }, "give at least one model");
    o = small_options();
    expect_error([&] { precompute(o, f.dir.file("missing/x.db")); }, "missing/x.db: cannot create");
    // An index built from another model's factors.
    Model shifted = load_model(f.big);
    build_index(shifted.item_factors, {})->save(f.dir.file("other.enci"));
    o = small_options();
    o.indexes = {f.dir.file("other.enci")};
    expect_error([&] { precompute(o, f.dir.file("x.db")); }, "other.enci: this index was built from none of the models");

    // An unfinished store of other options is not resumed by accident.
    const auto partial_path = f.dir.file("mixed.db");
    {
        SqliteDb db(partial_path + ".partial", SqliteDb::Mode::create);
        db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('plan', '{}')");
    }
    expect_error([&] { precompute(small_options(), partial_path); }, "an unfinished store from other inputs or options");
    expect_error([&] { Store::open(partial_path); }, "not finished yet");
    o = small_options();
    o.restart = true;
    EXPECT_EQ(precompute(o, partial_path).slices_resumed, 0);
    EXPECT_NO_THROW(Store::open(partial_path));

    expect_error([&] { Store::open(f.als); }, "not an encore store");
    expect_error([&] { Store::open(f.dir.file("nothing.db")); }, "no such file");
}

TEST(Store, OneModelAndNoLists) {
    const auto& f = fixture();
    PrecomputeOptions o;
    o.models = {f.knn};
    o.related = 3;
    o.radio = 0;
    o.recommendations = 0;
    const auto path = f.dir.file("knn.db");
    const auto report = precompute(o, path);
    EXPECT_EQ(report.models, 1);
    EXPECT_EQ(report.radio_lists, 0);
    EXPECT_EQ(report.recommendation_lists, 0);
    const auto store = Store::open(path);
    EXPECT_EQ(store->default_model().name, "knn");
    EXPECT_TRUE(store->radio(0).empty());
    EXPECT_TRUE(store->recommendations(0, 5).empty());
    auto knn = Recommender::open({.models = {f.knn}});
    const auto want = knn.related(4, {.n = 3});
    const auto got = store->related(0, 4, 3);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k].item, want[k].id);
}

}  // namespace
}  // namespace encore

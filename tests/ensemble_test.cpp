// The ensemble: logistic weight fitting on known answers, the .ence file (round trip, corruption,
// truncation), item-set checks, determinism of the fit, a one-model ensemble ranking exactly as its
// model, and the CLI (ensemble fit, related with several models).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "encore/data/ingest.hpp"
#include "encore/data/synth.hpp"
#include "encore/eval/ensemble_fit.hpp"
#include "encore/eval/split.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/kinds/family.hpp"
#include "encore/query/ensemble_queries.hpp"
#include "encore/util/error.hpp"
#include "synth_split.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

struct Data : testing::SynthSplit {
    std::string plays;
};

const Data& data() {
    static Data* d = [] {
        static testing::TempDir dir;
        auto* out = new Data;
        out->plays = dir.file("plays.tsv");
        SynthOptions so{.users = 300, .items = 200, .genres = 6, .max_items_per_user = 20, .seed = 5, .threads = 2};
        static_cast<testing::SynthSplit&>(*out) = testing::synth_split(out->plays, so, 3);
        return out;
    }();
    return *d;
}

ModelOptions small(ModelKind kind) {
    auto o = default_model_options(kind);
    o.threads = 2;
    o.als.factors = o.lsa.factors = 16;
    o.als.iterations = 6;
    return o;
}

// An ALS and a KNN model of the training set, trained once for the tests that need a pair.
struct ModelPair {
    Model als, knn;
};
const ModelPair& als_and_knn() {
    static const ModelPair* p = new ModelPair{train_model(data().train, small(parse_model_kind("als")), "test"),
                                              train_model(data().train, small(parse_model_kind("knn")), "test")};
    return *p;
}

// Seeded features: x0 decides the label (true logit -1 + 2 x0), x1 and x2 are noise.
void synthetic_examples(std::uint64_t seed, int n, std::vector<double>& x, std::vector<std::uint8_t>& y) {
    std::uint64_t s = seed;
    auto uniform = [&s] {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return double(s >> 11) / double(1ULL << 53);
    };
    for (int r = 0; r < n; ++r) {
        double f[3];
        for (double& v : f) v = 2 * uniform() - 1;
        x.insert(x.end(), f, f + 3);
        const double p = 1 / (1 + std::exp(-(-1 + 2 * f[0])));
        y.push_back(uniform() < p ? 1 : 0);
    }
}

TEST(EnsembleLogistic, RecoversTheInformativeFeature) {
    std::vector<double> x;
    std::vector<std::uint8_t> y;
    synthetic_examples(11, 40000, x, y);
    auto fit = fit_logistic(x, y, 3, {.l2 = 0, .max_iterations = 50, .tolerance = 1e-10});
    ASSERT_EQ(fit.weights.weights.size(), 3u);
    EXPECT_NEAR(fit.weights.weights[0], 2.0, 0.12);
    EXPECT_NEAR(fit.weights.bias, -1.0, 0.08);
    EXPECT_LT(std::abs(fit.weights.weights[1]), 0.08);
    EXPECT_LT(std::abs(fit.weights.weights[2]), 0.08);
    EXPECT_GT(fit.iterations, 1);
    // The solution is the optimum: the gradient of the mean log-likelihood vanishes.
    double g[4] = {0, 0, 0, 0};
    for (std::size_t r = 0; r < y.size(); ++r) {
        double z = fit.weights.bias;
        for (int k = 0; k < 3; ++k) z += fit.weights.weights[k] * x[r * 3 + k];
        const double e = y[r] - 1 / (1 + std::exp(-z));
        g[0] += e;
        for (int k = 0; k < 3; ++k) g[k + 1] += e * x[r * 3 + k];
    }
    for (double v : g) EXPECT_LT(std::abs(v) / double(y.size()), 1e-9);
}

TEST(EnsembleLogistic, BadInputsAreClearErrors) {
    std::vector<double> x = {1, 2, 3};
    std::vector<std::uint8_t> ones = {1, 1, 1};
    EXPECT_NE(error_of([&] { fit_logistic(x, ones, 1); }).find("need both classes"), std::string::npos);
    std::vector<std::uint8_t> two = {1, 0};
    EXPECT_NE(error_of([&] { fit_logistic(x, two, 1); }).find("3 feature values for 2 rows"), std::string::npos);
    EXPECT_NE(error_of([&] { fit_logistic({}, {}, 1); }).find("no examples"), std::string::npos);
}

Ensemble sample_ensemble() {
    Ensemble e;
    e.members = {{"als", 0x0123456789abcdefULL}, {"knn", 42}};
    e.n_items = 200;
    e.candidates = 30;
    e.related = {{0.25, -1.5}, -3.0};
    e.recommend = {{1.0 / 3.0, 2.0}, 0.5};
    e.info = {{"fit", {{"users", 12}}}};
    return e;
}

TEST(EnsembleFile, RoundTripsExactly) {
    testing::TempDir dir;
    const auto path = dir.file("e.ence");
    const auto e = sample_ensemble();
    save_ensemble(e, path);
    const auto back = load_ensemble(path);
    ASSERT_EQ(back.members.size(), 2u);
    EXPECT_EQ(back.members[0].kind, "als");
    EXPECT_EQ(back.members[0].items_fingerprint, 0x0123456789abcdefULL);
    EXPECT_EQ(back.members[1].items_fingerprint, 42u);
    EXPECT_EQ(back.n_items, 200);
    EXPECT_EQ(back.candidates, 30);
    EXPECT_EQ(back.related.weights, e.related.weights);
    EXPECT_EQ(back.related.bias, e.related.bias);
    EXPECT_EQ(back.recommend.weights, e.recommend.weights);  // exact: JSON writes doubles round-trippably
    EXPECT_EQ(back.recommend.bias, e.recommend.bias);
    EXPECT_EQ(back.info["fit"]["users"], 12);
}

TEST(EnsembleFile, CorruptTruncatedAndForeignFilesAreFormatErrors) {
    testing::TempDir dir;
    const auto path = dir.file("e.ence");
    save_ensemble(sample_ensemble(), path);
    const auto size = std::filesystem::file_size(path);
    {
        // One changed digit inside the JSON section: the section checksum catches it.
        std::ifstream in(path, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto at = bytes.find("\"candidates\": 30");
        ASSERT_NE(at, std::string::npos);
        bytes[at + 14] = '4';
        std::ofstream(dir.file("corrupt.ence"), std::ios::binary) << bytes;
    }
    const auto corrupt = error_of([&] { load_ensemble(dir.file("corrupt.ence")); });
    EXPECT_NE(corrupt.find("checksum"), std::string::npos) << corrupt;
    EXPECT_THROW(load_ensemble(dir.file("corrupt.ence")), FormatError);
    std::filesystem::copy_file(path, dir.file("short.ence"));
    std::filesystem::resize_file(dir.file("short.ence"), size / 2);
    const auto msg = error_of([&] { load_ensemble(dir.file("short.ence")); });
    EXPECT_NE(msg.find("short.ence"), std::string::npos) << msg;
    EXPECT_THROW(load_ensemble(dir.file("short.ence")), FormatError);
    {
        std::ofstream f(dir.file("text.ence"));
        f << "not an ensemble at all, just text that is long enough for a header.............\n";
    }
    EXPECT_THROW(load_ensemble(dir.file("text.ence")), FormatError);
    EXPECT_THROW(load_ensemble(dir.file("missing.ence")), Error);
}

TEST(EnsembleFile, BadWeightsAreRejectedOnSave) {
    auto e = sample_ensemble();
    e.related.weights.pop_back();
    testing::TempDir dir;
    EXPECT_NE(error_of([&] { save_ensemble(e, dir.file("e.ence")); }).find("2 members but 1/2 weights"), std::string::npos);
}

TEST(EnsembleItems, MismatchedItemSetsAreClearErrors) {
    const auto& d = data();
    auto a = train_model(d.train, small(parse_model_kind("als")), "test");
    auto b = train_model(d.train, small(parse_model_kind("knn")), "test");
    Dataset fewer = d.train;
    fewer.by_user = d.train.by_user;  // the same plays with other item keys
    std::vector<std::string> keys = d.train.items.to_vector();
    keys[5] = "someone else";
    fewer.items = StringTable::build(keys);
    auto c = train_model(fewer, small(parse_model_kind("popular")), "test");
    std::vector<const Model*> ok = {&a, &b};
    EXPECT_NO_THROW(check_same_items(ok));
    std::vector<const Model*> bad = {&a, &c};
    const auto msg = error_of([&] { check_same_items(bad); });
    EXPECT_NE(msg.find("model 2 (popular) has different items than model 1 (als): item 5 is 'someone else'"),
              std::string::npos)
        << msg;
    EXPECT_THROW(EnsembleScorer{bad}, Error);
    // An ensemble fitted for (als, knn) does not fit (knn, als).
    const auto e = equal_weight_ensemble(ok, 20);
    std::vector<const Model*> swapped = {&b, &a};
    EXPECT_NE(error_of([&] { check_ensemble_models(e, swapped); }).find("member 1 is a als model, model 1 given is knn"),
              std::string::npos);
}

TEST(EnsembleQueries, OneModelEnsembleRanksExactlyAsItsModel) {
    const auto& d = data();
    for (auto kind : {parse_model_kind("als"), parse_model_kind("knn")}) {
        auto m = train_model(d.train, small(kind), "test");
        std::vector<const Model*> one = {&m};
        EnsembleScorer scorer(one);
        auto e = equal_weight_ensemble(one, 50);
        e.related.weights = {0.7};  // any positive weight and bias keep the order
        e.recommend.bias = 2.0;
        QueryOptions q;
        q.n = 10;
        q.threads = 2;
        auto mine = ensemble_related_all(scorer, e, ItemFilter{}, q);
        auto theirs = related_all(m, ItemFilter{}, q);
        ASSERT_EQ(mine.size(), theirs.size());
        for (std::size_t i = 0; i < mine.size(); ++i) {
            ASSERT_EQ(mine[i].size(), theirs[i].size()) << m.kind << " item " << i;
            for (std::size_t r = 0; r < mine[i].size(); ++r) EXPECT_EQ(mine[i][r].id, theirs[i][r].id) << m.kind;
        }
        auto urecs = ensemble_recommend_all(scorer, e, ItemFilter{}, q);
        auto base = recommend_all(m, ItemFilter{}, q);
        for (std::size_t u = 0; u < urecs.size(); ++u) {
            ASSERT_EQ(urecs[u].size(), base[u].size());
            for (std::size_t r = 0; r < urecs[u].size(); ++r) EXPECT_EQ(urecs[u][r].id, base[u][r].id) << m.kind;
        }
        // The single-query paths agree with the batch ones.
        auto single = ensemble_related(scorer, e, 3, ItemFilter{}, q);
        ASSERT_EQ(single.size(), mine[3].size());
        for (std::size_t r = 0; r < single.size(); ++r) EXPECT_EQ(single[r].id, mine[3][r].id);
        auto user = ensemble_recommend(scorer, e, 7, ItemFilter{}, q);
        ASSERT_EQ(user.size(), urecs[7].size());
        for (std::size_t r = 0; r < user.size(); ++r) EXPECT_EQ(user[r].id, urecs[7][r].id);
    }
}

TEST(EnsembleQueries, CandidatesAreZScoredPerMember) {
    const auto& pair = als_and_knn();
    std::vector<const Model*> two = {&pair.als, &pair.knn};
    EnsembleScorer scorer(two);
    const std::int32_t items[] = {4};
    auto lists = scorer.related_lists_for(items, 20, 2);
    std::vector<const std::vector<ScoredItem>*> ptrs = {&lists[0][0], &lists[1][0]};
    auto c = scorer.related_candidates(4, ptrs);
    ASSERT_GE(c.items.size(), 20u);
    EXPECT_TRUE(std::is_sorted(c.items.begin(), c.items.end()));
    for (int m = 0; m < 2; ++m) {
        double mean = 0, sq = 0;
        for (std::size_t r = 0; r < c.items.size(); ++r) mean += c.features[r * 2 + m], sq += c.features[r * 2 + m] * c.features[r * 2 + m];
        EXPECT_NEAR(mean / double(c.items.size()), 0.0, 1e-9);
        EXPECT_NEAR(sq / double(c.items.size()), 1.0, 1e-9);
    }
}

TEST(EnsembleFit, SameSeedSameWeightsAndTheWeightsAreUsable) {
    const auto& d = data();
    const auto& pair = als_and_knn();
    std::vector<const Model*> two = {&pair.als, &pair.knn};
    EnsembleScorer scorer(two);
    EnsembleFitOptions o;
    o.candidates = 20;
    o.seed = 9;
    o.threads = 2;
    auto e1 = fit_ensemble(scorer, d.split.test, o);
    o.threads = 1;
    auto e2 = fit_ensemble(scorer, d.split.test, o);
    EXPECT_EQ(e1.related.weights, e2.related.weights);
    EXPECT_EQ(e1.recommend.weights, e2.recommend.weights);
    EXPECT_EQ(e1.recommend.bias, e2.recommend.bias);
    EXPECT_GT(e1.info["fit"]["recommend"]["positives"].get<int>(), 0);
    EXPECT_GE(e1.info["fit"]["related"]["hit_rate"].get<double>(),
              e1.info["fit"]["related"]["logistic_hit_rate"].get<double>());
    EXPECT_NO_THROW(check_ensemble_models(e1, two));
    // Models that learned the planted genres carry positive weight.
    EXPECT_GT(e1.recommend.weights[0], 0);
    EXPECT_GT(e1.recommend.weights[1], 0);
    // A held-out matrix of the wrong shape is an error.
    Csr wrong = Csr::from_triplets(3, 3, std::vector<std::int32_t>{0}, std::vector<std::int32_t>{0},
                                   std::vector<float>{1}, 1);
    EXPECT_NE(error_of([&] { fit_ensemble(scorer, wrong, o); }).find("held-out matrix is 3 x 3"), std::string::npos);
}

TEST(EnsembleCli, FitsWritesAndRanksRelatedAndRecommendsWithSeveralModels) {
    const auto& d = data();
    testing::TempDir dir;
    const auto e = dir.file("e.ence");
    const auto prefix = dir.file("m");
    auto fit = testing::run_cli(fmt::format(
        "ensemble {} --format lastfm360k --models als,knn --als.factors 16 --candidates 20 --seed 2 --threads 2 -o {} "
        "--save-models {} --quiet --json",
        d.plays, e, prefix));
    ASSERT_EQ(fit.status, 0) << fit.output;
    auto j = nlohmann::json::parse(fit.output);
    EXPECT_EQ(j["members"], nlohmann::json({"als", "knn"}));
    EXPECT_EQ(j["related"]["weights"].size(), 2u);
    auto rel = testing::run_cli(fmt::format("related {}.als.encm {}.knn.encm --ensemble {} --item {} -n 5 --json", prefix,
                                            prefix, e, std::string(d.all.items[0])));
    ASSERT_EQ(rel.status, 0) << rel.output;
    auto r = nlohmann::json::parse(rel.output);
    EXPECT_EQ(r["results"].size(), 5u);
    auto all = testing::run_cli(fmt::format("related {}.als.encm {}.knn.encm --all --no-header -n 3 --quiet", prefix, prefix));
    ASSERT_EQ(all.status, 0) << all.output;
    EXPECT_EQ(std::count(all.output.begin(), all.output.end(), '\n'), 3 * static_cast<long>(d.all.n_items()));
    auto swapped = testing::run_cli(fmt::format("related {}.knn.encm {}.als.encm --ensemble {} --item {}", prefix, prefix,
                                                e, std::string(d.all.items[0])));
    EXPECT_NE(swapped.status, 0);
    EXPECT_NE(swapped.output.find("member 1 is a als model, model 1 given is knn"), std::string::npos) << swapped.output;
    auto index = testing::run_cli(fmt::format("related {}.als.encm {}.knn.encm --index x.enci --item a", prefix, prefix));
    EXPECT_NE(index.status, 0);
    EXPECT_NE(index.output.find("not available with several models"), std::string::npos) << index.output;
    // The ensemble recommender: blended user scores, played items filtered.
    const std::string user(d.all.users[0]);
    auto rec = testing::run_cli(fmt::format("recommend {}.als.encm {}.knn.encm --ensemble {} --user {} -n 4 --json",
                                            prefix, prefix, e, user));
    ASSERT_EQ(rec.status, 0) << rec.output;
    auto rj = nlohmann::json::parse(rec.output);
    ASSERT_EQ(rj["results"].size(), 4u);
    auto played = d.all.by_user.row_indices(0);
    for (const auto& res : rj["results"]) {
        const auto key = res["id"].get<std::string>();
        for (auto i : played) EXPECT_NE(key, std::string(d.all.items[static_cast<std::size_t>(i)])) << "played item returned";
    }
    auto rec_all = testing::run_cli(
        fmt::format("recommend {}.als.encm {}.knn.encm --ensemble {} --all-users --no-header -n 2 --quiet", prefix, prefix, e));
    ASSERT_EQ(rec_all.status, 0) << rec_all.output;
    EXPECT_EQ(std::count(rec_all.output.begin(), rec_all.output.end(), '\n'), 2 * static_cast<long>(d.all.n_users()));
    auto fold = testing::run_cli(fmt::format("recommend {}.als.encm {}.knn.encm --items {}", prefix, prefix,
                                             std::string(d.all.items[0])));
    EXPECT_NE(fold.status, 0);
    EXPECT_NE(fold.output.find("not available for an ensemble"), std::string::npos) << fold.output;
}

}  // namespace
}  // namespace encore

// End-to-end tests of the encore CLI: synthetic logs -> ingest -> train -> queries, and the error paths
// a user can reach from the command line.
#include <cstring>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "encore/models/model.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

using testing::run_cli;
using testing::TempDir;

class Cli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir();
        auto r = run_cli(fmt::format("synth --users 400 --items 300 --genres 6 --seed 3 -o {} --quiet", tsv()));
        ASSERT_EQ(r.status, 0) << r.output;
        r = run_cli(fmt::format("train {} --format lastfm360k --factors 16 --iterations 8 --threads 2 -o {} --quiet",
                                tsv(), model()));
        ASSERT_EQ(r.status, 0) << r.output;
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string tsv() { return dir_->file("plays.tsv"); }
    static std::string model() { return dir_->file("model.encm"); }
    static std::string first_field(int col) {
        std::ifstream in(tsv());
        std::string line;
        std::getline(in, line);
        for (int i = 0; i < col; ++i) line = line.substr(line.find('\t') + 1);
        return line.substr(0, line.find('\t'));
    }
    // The item key of the first row: its mbid, or its name when the mbid is empty.
    static std::string first_key() {
        auto mbid = first_field(1);
        return mbid.empty() ? first_field(2) : mbid;
    }
    static TempDir* dir_;
};
TempDir* Cli::dir_ = nullptr;

TEST_F(Cli, IngestWritesADatasetThatTrainAccepts) {
    auto encd = dir_->file("d.encd");
    auto r = run_cli(fmt::format("ingest {} --format lastfm360k -o {} --quiet", tsv(), encd));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(r.output.empty()) << "--quiet printed: " << r.output;
    r = run_cli(fmt::format("info {} --json", encd));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["type"], "dataset");
    EXPECT_EQ(j["users"], 400);
    r = run_cli(fmt::format("train {} --factors 8 --iterations 2 -o {} --quiet", encd, dir_->file("m2.encm")));
    ASSERT_EQ(r.status, 0) << r.output;
}

TEST_F(Cli, RelatedJsonFollowsTheContract) {
    auto name = first_field(2);
    auto r = run_cli(fmt::format("related {} --item '{}' -n 7 --json", model(), name));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["query"]["name"], name);
    ASSERT_EQ(j["results"].size(), 7u);
    float prev = 2.0f;
    for (const auto& x : j["results"]) {
        EXPECT_TRUE(x.contains("id") && x.contains("name") && x.contains("score") && x.contains("because"));
        EXPECT_NE(x["id"], j["query"]["id"]);
        float s = x["score"].template get<float>();
        EXPECT_LE(s, prev + 1e-6f);
        EXPECT_LE(s, 1.0f + 1e-5f);
        prev = s;
    }
}

TEST_F(Cli, RelatedMatchesNamesCaseInsensitivelyAndSuggests) {
    auto name = first_field(2);
    std::string upper = name;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto r = run_cli(fmt::format("related {} --item '{}' -n 3", model(), upper));
    EXPECT_EQ(r.status, 0) << r.output;
    auto typo = name.substr(0, name.size() - 1) + "q";
    r = run_cli(fmt::format("related {} --item '{}x' -n 3", model(), typo));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("unknown item"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("did you mean"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one-line error: " << r.output;
}

TEST_F(Cli, RecommendFiltersPlayedAndExplains) {
    auto user = first_field(0);
    auto r = run_cli(fmt::format("recommend {} --user {} -n 5 --json --explain 2", model(), user));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    ASSERT_EQ(j["results"].size(), 5u);
    // played items of this user, from the log
    std::ifstream in(tsv());
    std::string line;
    std::set<std::string> played;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::size_t start = 0, tab;
        while ((tab = line.find('\t', start)) != std::string::npos) {
            f.push_back(line.substr(start, tab - start));
            start = tab + 1;
        }
        f.push_back(line.substr(start));
        if (f[0] == user) played.insert(f[1].empty() ? f[2] : f[1]);
    }
    ASSERT_FALSE(played.empty());
    for (const auto& x : j["results"]) {
        EXPECT_EQ(played.count(x["id"].get<std::string>()), 0u) << "played item recommended";
        ASSERT_GE(x["because"].size(), 1u);
        ASSERT_LE(x["because"].size(), 2u);
        for (const auto& b : x["because"]) EXPECT_EQ(played.count(b["id"].get<std::string>()), 1u);
    }
    r = run_cli(fmt::format("recommend {} --user {} -n 500 --include-played --json", model(), user));
    ASSERT_EQ(r.status, 0) << r.output;
    j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["results"].size(), 300u);  // every item, nothing padded
}

TEST_F(Cli, RecommendForANewUserFromItems) {
    auto name = first_field(2);
    auto r = run_cli(fmt::format("recommend {} --items '{}' -n 4 --json", model(), name));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    ASSERT_EQ(j["results"].size(), 4u);
    for (const auto& x : j["results"]) EXPECT_NE(x["id"], j["query"]["items"][0]["id"]);
}

TEST_F(Cli, OnlyAndExcludeListsApply) {
    auto only = dir_->write("only.txt", "# just the query artist\n" + first_key() + "\n\n");
    auto name = first_field(2);
    auto r = run_cli(fmt::format("related {} --item '{}' -n 10 --only {} --json", model(), name, only));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["results"].size(), 0u) << "only the query item itself is allowed, and it is excluded";
    auto bad = dir_->write("bad.txt", "no such artist\n");
    r = run_cli(fmt::format("related {} --item '{}' --exclude {}", model(), name, bad));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("bad.txt:1"), std::string::npos) << r.output;
}

TEST_F(Cli, BatchRelatedAndRecommendWriteEveryQuery) {
    auto out = dir_->file("related.tsv");
    auto r = run_cli(fmt::format("related {} --all -n 5 -o {} --quiet", model(), out));
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in(out);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        EXPECT_EQ(std::count(line.begin(), line.end(), '\t'), 3) << line;
    }
    EXPECT_EQ(lines, 300 * 5 + 1);  // and the header line
    auto recs = dir_->file("recs.tsv");
    r = run_cli(fmt::format("recommend {} --all-users -n 3 -o {} --quiet", model(), recs));
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in2(recs);
    lines = 0;
    while (std::getline(in2, line)) ++lines;
    EXPECT_EQ(lines, 400 * 3 + 1);
}

TEST_F(Cli, SimilarUsersExcludesTheUser) {
    auto user = first_field(0);
    auto r = run_cli(fmt::format("similar-users {} --user {} -n 5 --json", model(), user));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    ASSERT_EQ(j["results"].size(), 5u);
    for (const auto& x : j["results"]) EXPECT_NE(x["id"], user);
}

TEST_F(Cli, EvalReportsMetricsAsJson) {
    auto r = run_cli(fmt::format("eval {} --format lastfm360k --factors 16 --iterations 5 --k 10 --seed 1 --json --quiet", tsv()));
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    for (auto key : {"precision@10", "map@10", "ndcg@10", "auc", "train_seconds"}) ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j["precision@10"].get<double>(), 0.0);
    EXPECT_GT(j["auc"].get<double>(), 0.5);
}

TEST_F(Cli, SameSeedSameModel) {
    auto a = dir_->file("a.encm"), b = dir_->file("b.encm");
    for (const auto& out : {a, b}) {
        auto r = run_cli(fmt::format("train {} --format lastfm360k --factors 8 --iterations 3 --threads 2 --seed 9 -o {} --quiet", tsv(), out));
        ASSERT_EQ(r.status, 0) << r.output;
    }
    auto ma = load_model(a), mb = load_model(b);
    auto sa = ma.item_factors.storage(), sb = mb.item_factors.storage();
    ASSERT_EQ(sa.size(), sb.size());
    EXPECT_EQ(std::memcmp(sa.data(), sb.data(), sa.size() * sizeof(float)), 0);
    auto ua = ma.user_factors.storage(), ub = mb.user_factors.storage();
    EXPECT_EQ(std::memcmp(ua.data(), ub.data(), ua.size() * sizeof(float)), 0);
}

TEST_F(Cli, ErrorsAreOneLineAndNonZero) {
    struct Case {
        std::string args, expect;
    };
    auto bad = dir_->write("bad.tsv", "u1\ti1\t3\nu2\ti2\tabc\n");
    auto neg = dir_->write("neg.tsv", "u1\ti1\t3\nu2\ti2\t-4\n");
    auto empty = dir_->write("empty.tsv", "");
    auto corrupt = dir_->write("corrupt.encm", "ENCOMODL this is not a model");
    std::vector<Case> cases = {
        {"ingest /nonexistent/plays.tsv -o x.encd", "/nonexistent/plays.tsv"},
        {fmt::format("ingest {} --format tsv -o {}", bad, dir_->file("x.encd")), "bad.tsv:2"},
        {fmt::format("ingest {} --format tsv -o {}", neg, dir_->file("x.encd")), "neg.tsv:2"},
        {fmt::format("ingest {} --format tsv -o {}", empty, dir_->file("x.encd")), "empty.tsv"},
        {fmt::format("related {} --item x", corrupt), "corrupt.encm"},
        {fmt::format("related {} --item x", tsv()), "plays.tsv"},
        {fmt::format("recommend {} --user nobody", model()), "unknown user"},
        {fmt::format("train {} --weighting nope -o {}", tsv(), dir_->file("x.encm")), "nope"},
        {fmt::format("train {} --solver nope -o {}", tsv(), dir_->file("x.encm")), "nope"},
        // Options are checked before the input is read: the option is named, not the missing file.
        {fmt::format("train /nonexistent/plays.tsv --cg-gather nope -o {}", dir_->file("x.encm")), "--cg-gather"},
    };
    for (const auto& c : cases) {
        auto r = run_cli(c.args + " --quiet");
        EXPECT_NE(r.status, 0) << c.args;
        EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << " -> " << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.args << " -> " << r.output;
    }
    auto r = run_cli(fmt::format("ingest {} --format tsv --skip-bad-lines -o {}", bad, dir_->file("ok.encd")));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("skipped 1 malformed line"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace encore

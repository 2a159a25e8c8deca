// End-to-end tests of what a new user hits first: encodings, names, batch output, info on every file
// kind, and mistyped commands and options.
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace encore {
namespace {

using testing::run_cli;
using testing::TempDir;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class CliUx : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir();
        auto r = run_cli(fmt::format("synth --users 200 --items 120 --genres 4 --seed 5 -o {} --quiet", tsv()));
        ASSERT_EQ(r.status, 0) << r.output;
        r = run_cli(fmt::format("train {} --format lastfm360k --factors 8 --iterations 3 --threads 2 -o {} --quiet", tsv(),
                                model()));
        ASSERT_EQ(r.status, 0) << r.output;
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string tsv() { return dir_->file("plays.tsv"); }
    static std::string model() { return dir_->file("model.encm"); }
    static TempDir* dir_;
};
TempDir* CliUx::dir_ = nullptr;

TEST_F(CliUx, MistypedCommandAndOptionGetSuggestions) {
    auto r = run_cli(fmt::format("relatd {}", model()));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("unknown command 'relatd'; did you mean 'related'?"), std::string::npos) << r.output;
    r = run_cli(fmt::format("train {} --factor 3 -o x.encm", tsv()));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("encore train: unknown option '--factor'; did you mean '--factors'"), std::string::npos) << r.output;
    r = run_cli(fmt::format("related {} --itme X", model()));
    EXPECT_NE(r.output.find("did you mean '--item'"), std::string::npos) << r.output;
}

TEST_F(CliUx, HelpShowsNoNumericOptionAsText) {
    for (const char* cmd : {"related", "recommend", "ingest", "index", "synth", "ensemble"}) {
        auto r = run_cli(fmt::format("{} --help", cmd));
        ASSERT_EQ(r.status, 0) << r.output;
        std::istringstream in(r.output);
        std::string line;
        // every line of the help is checked against every option (one pass over the lines)
        while (std::getline(in, line)) {
            for (const char* opt : {" -n ", "--threads", "--min-value", "--user-col", "--trees", "--ef ", "--users", "--seed",
                                    "--candidates", "--holdout-fraction", "--max-users"}) {
                if (line.find(opt) != std::string::npos) {
                    EXPECT_EQ(line.find("TEXT"), std::string::npos) << cmd << ": " << line;
                }
            }
        }
    }
}

TEST_F(CliUx, BatchTsvHeaderAndNoHeader) {
    auto a = dir_->file("a.tsv"), b = dir_->file("b.tsv");
    ASSERT_EQ(run_cli(fmt::format("related {} --all -n 2 -o {} --quiet", model(), a)).status, 0);
    ASSERT_EQ(run_cli(fmt::format("related {} --all -n 2 -o {} --no-header --quiet", model(), b)).status, 0);
    EXPECT_EQ(slurp(a), "query\trank\tresult\tscore\n" + slurp(b));
    EXPECT_EQ(slurp(b).rfind("query\t", 0), std::string::npos);
}

TEST_F(CliUx, BatchJsonWritesJsonLines) {
    auto out = dir_->file("related.jsonl");
    auto r = run_cli(fmt::format("related {} --all --json -n 4 -o {} --quiet", model(), out));
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in(out);
    std::string line, first;
    int lines = 0;
    while (std::getline(in, line)) {
        if (lines++ == 0) first = line;
        auto j = nlohmann::json::parse(line);
        EXPECT_TRUE(j.contains("query") && j.contains("results"));
        EXPECT_EQ(j["results"].size(), 4u);
    }
    EXPECT_GT(lines, 50);
    // The first line answers exactly what the single query answers.
    auto j = nlohmann::json::parse(first);
    auto single = run_cli(fmt::format("related {} --item '{}' --json -n 4", model(), j["query"]["id"].get<std::string>()));
    ASSERT_EQ(single.status, 0) << single.output;
    // (The batch scores through a GEMM, the single query through a dot product: equal to float rounding.)
    auto one = nlohmann::json::parse(single.output);
    EXPECT_EQ(one["query"], j["query"]);
    ASSERT_EQ(one["results"].size(), j["results"].size());
    for (std::size_t r = 0; r < j["results"].size(); ++r) {
        EXPECT_EQ(one["results"][r]["id"], j["results"][r]["id"]);
        EXPECT_NEAR(one["results"][r]["score"].get<double>(), j["results"][r]["score"].get<double>(), 1e-6);
    }
    // recommend --all-users too
    auto users = dir_->file("users.jsonl");
    ASSERT_EQ(run_cli(fmt::format("recommend {} --all-users --json -n 3 -o {} --quiet", model(), users)).status, 0);
    std::ifstream u(users);
    ASSERT_TRUE(std::getline(u, line));
    EXPECT_EQ(nlohmann::json::parse(line)["results"].size(), 3u);
}

TEST_F(CliUx, BadOutputPathFailsBeforeTheWork) {
    auto r = run_cli(fmt::format("related {} --all -o /nonexistent/dir/x.tsv --quiet", model()));
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.output, "encore: error: /nonexistent/dir/x.tsv: cannot create: No such file or directory\n");
}

TEST_F(CliUx, InfoDescribesIndexesEnsemblesAndRejectsForeignFiles) {
    auto idx = dir_->file("i.enci");
    ASSERT_EQ(run_cli(fmt::format("index {} -o {} --kind forest --trees 2 --quiet", model(), idx)).status, 0);
    auto r = run_cli(fmt::format("info {}", idx));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output.rfind(idx + ": forest index (cosine) over ", 0), 0u) << r.output;
    r = run_cli(fmt::format("info {} --json", model()));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output)["type"], "model");
    auto foreign = dir_->write("foreign.txt", "hello world\n");
    r = run_cli(fmt::format("info {}", foreign));
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.output.rfind("encore: error: " + foreign + ": not an encore file", 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1);
}

TEST_F(CliUx, Latin1InputIsRejectedWithTheFixThenConverted) {
    TempDir dir;
    auto csv = dir.write("plays.csv", "user,artist,plays\nu1,Abba,3\nu1,Bj\xF6rk,5\nu2,Bj\xF6rk,2\nu2,Cher,4\nu3,Abba,1\nu3,Cher,2\n");
    auto r = run_cli(fmt::format("ingest {} -o {} --quiet", csv, dir.file("d.encd")));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find(csv + ":3: invalid UTF-8 in item key"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("set encoding to latin1"), std::string::npos) << r.output;
    auto m = dir.file("m.encm");
    r = run_cli(fmt::format("train {} --encoding latin1 --factors 2 --iterations 2 -o {} --quiet", csv, m));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_cli(fmt::format("related {} --item 'BJÖRK' --json -n 2", m));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output)["query"]["id"], "Björk");
}

TEST_F(CliUx, AUserDroppedByMinValueIsExplained) {
    TempDir dir;
    auto tsv = dir.write("r.tsv", "1\t10\t5\n1\t11\t4\n2\t10\t4\n2\t12\t5\n442\t10\t2\n442\t11\t3\n3\t11\t5\n3\t12\t4\n");
    auto m = dir.file("m.encm");
    auto r = run_cli(fmt::format("train {} --format tsv --min-value 4 --factors 2 --iterations 2 -o {} --quiet", tsv, m));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_cli(fmt::format("recommend {} --user 442", m));
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.output, "encore: error: user 442 has no interactions left after min-value 4\n");
}

}  // namespace
}  // namespace encore

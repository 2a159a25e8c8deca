// Progress and status lines go through a Reporter: what the library reports, in which order, and that
// it never writes to stderr itself; the CLI draws them (and --quiet silences them).
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "encore/data/ingest.hpp"
#include "encore/data/synth.hpp"
#include "encore/kinds/family.hpp"
#include "encore/util/progress.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

using testing::run_cli;
using testing::TempDir;

struct Recorded {
    std::string label, unit, note;
    double done, total;
    bool finished;
};

class RecordingReporter : public Reporter {
public:
    void progress(const ProgressState& s) override {
        std::lock_guard lock(mutex);
        states.push_back({std::string(s.label), std::string(s.unit), std::string(s.note), s.done, s.total, s.finished});
    }
    void message(std::string_view text) override {
        std::lock_guard lock(mutex);
        messages.emplace_back(text);
    }
    std::mutex mutex;
    std::vector<Recorded> states;
    std::vector<std::string> messages;
};

// done never goes down, never passes total, and the one finished state comes last.
void expect_well_ordered(const std::vector<Recorded>& states, const std::string& label, const std::string& unit) {
    ASSERT_FALSE(states.empty());
    int finished = 0;
    for (std::size_t k = 0; k < states.size(); ++k) {
        EXPECT_EQ(states[k].label, label);
        EXPECT_EQ(states[k].unit, unit);
        if (k > 0) {
            EXPECT_GE(states[k].done, states[k - 1].done);
        }
        EXPECT_LE(states[k].done, states[k].total * (1 + 1e-9));
        finished += states[k].finished;
    }
    EXPECT_EQ(finished, 1);
    EXPECT_TRUE(states.back().finished);
}

std::string write_plays(const TempDir& dir) {
    auto path = dir.file("plays.tsv");
    write_synth(path, {.users = 300, .items = 200, .genres = 6, .max_items_per_user = 20, .seed = 7, .threads = 2});
    return path;
}

Dataset ingest_plays(const std::string& path, Reporter* reporter) {
    IngestOptions o;
    o.format = InputFormat::lastfm360k;
    o.threads = 2;
    o.reporter = reporter;
    return ingest({path}, o);
}

ModelOptions small_als(Reporter* reporter) {
    ModelOptions o = default_model_options(parse_model_kind("als"));
    o.als.factors = 8;
    o.als.iterations = 4;
    o.threads = 2;
    o.reporter = reporter;
    return o;
}

TEST(Progress, CountsFromManyThreadsAndFinishesOnce) {
    RecordingReporter rec;
    {
        Progress p("work", 4000, &rec, "rows");
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 1000; ++i) p.add(1);
            });
        for (auto& t : threads) t.join();
        p.finish();
        p.add(1);  // nothing is reported after the final state
    }  // nor by the destructor
    expect_well_ordered(rec.states, "work", "rows");
    EXPECT_GE(rec.states.size(), 2u) << "the first add() reports, and finish()";
    EXPECT_FALSE(rec.states.front().finished);
    EXPECT_EQ(rec.states.back().done, 4000);
}

TEST(Progress, NullReporterIsSilentAndNeverCancelled) {
    Progress p("work", 10, nullptr);
    p.add(5);
    p.note("note");
    EXPECT_FALSE(p.cancelled());
    report(nullptr, "nothing");
}

TEST(Progress, CancelledFollowsTheReporter) {
    RecordingReporter rec;
    Progress p("work", 10, &rec);
    EXPECT_FALSE(p.cancelled());
    rec.cancel();
    EXPECT_TRUE(rec.cancelled());
    EXPECT_TRUE(p.cancelled());
}

TEST(Progress, MessagesGoThroughTheReporter) {
    RecordingReporter rec;
    report(&rec, "hello");
    ASSERT_EQ(rec.messages.size(), 1u);
    EXPECT_EQ(rec.messages[0], "hello");
}

TEST(Progress, TrainingAndIngestReportThroughTheReporter) {
    TempDir dir;
    auto plays = write_plays(dir);

    RecordingReporter ingested;
    Dataset data = ingest_plays(plays, &ingested);
    expect_well_ordered(ingested.states, "ingest", "MB");
    EXPECT_GT(ingested.states.back().total, 0);
    EXPECT_NEAR(ingested.states.back().done, ingested.states.back().total, 1e-6);

    RecordingReporter trained;
    train_model(data, small_als(&trained), "test");
    expect_well_ordered(trained.states, "als", "iterations");
    EXPECT_EQ(trained.states.back().done, 4);
    EXPECT_EQ(trained.states.back().total, 4);
    ASSERT_EQ(trained.messages.size(), 1u);
    EXPECT_NE(trained.messages[0].find("trained ALS"), std::string::npos) << trained.messages[0];
}

TEST(Progress, TheLibraryNeverWritesToStderr) {
    TempDir dir;
    ::testing::internal::CaptureStderr();
    auto plays = dir.file("plays.tsv");
    write_synth(plays, {.users = 200, .items = 150, .genres = 4, .max_items_per_user = 15, .seed = 3, .threads = 2});
    Dataset data = ingest_plays(plays, nullptr);
    train_model(data, small_als(nullptr), "test");
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(Progress, TheCliDrawsProgressUnlessQuiet) {
    TempDir dir;
    auto plays = write_plays(dir);
    auto train = fmt::format("train {} --format lastfm360k --factors 8 --iterations 3 --threads 2 -o {}", plays,
                             dir.file("m.encm"));
    auto r = run_cli(train);
    ASSERT_EQ(r.status, 0) << r.output;
    // Not a terminal: the final line of each task, then the status lines.
    for (const char* line : {"ingest: 100% ", "ingested ", "als: 100% 3/3 iterations ", " in ", "trained ALS", "wrote "})
        EXPECT_NE(r.output.find(line), std::string::npos) << "missing '" << line << "' in:\n" << r.output;
    r = run_cli(train + " --quiet");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "");
}

}  // namespace
}  // namespace encore

// describe_file (encore/serve/describe.hpp): every encore file kind by its container magic, and a
// clear error for anything else.
#include "encore/serve/describe.hpp"

#include <functional>

#include <gtest/gtest.h>

#include "encore/data/ingest.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/util/error.hpp"
#include "queries_fixture.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

TEST(Describe, EveryEncoreFileKind) {
    testing::TempDir dir;
    IngestOptions o;
    o.format = InputFormat::tsv;
    o.min_value = 2;
    auto data = ingest({dir.write("p.tsv", "u1\ta\t3\nu1\tb\t1\nu2\tb\t1\n")}, o);
    save_dataset(data, dir.file("d.encd"));
    auto d = describe_file(dir.file("d.encd"));
    EXPECT_EQ(d["type"], "dataset");
    EXPECT_EQ(d["users"], 1);
    EXPECT_EQ(d["meta"]["dropped"]["users"]["ids"], (nlohmann::json{"u2"}));
    EXPECT_EQ(describe_line(d), dir.file("d.encd") + ": dataset with 1 users, 1 items, 1 non-zeros");

    auto m = testing::small_model();
    save_model(m, dir.file("m.encm"));
    auto dm = describe_file(dir.file("m.encm"));
    EXPECT_EQ(dm["type"], "model");
    EXPECT_EQ(dm["kind"], "als");
    EXPECT_EQ(dm["items"], 40);

    IndexBuildOptions io;
    io.kind = "forest";
    io.trees = 4;
    io.threads = 1;
    build_index(m.item_factors, io)->save(dir.file("i.enci"));
    auto di = describe_file(dir.file("i.enci"));
    EXPECT_EQ(di["type"], "index");
    EXPECT_EQ(di["kind"], "forest");
    EXPECT_EQ(di["metric"], "cosine");
    EXPECT_EQ(di["items"], 40);
    EXPECT_EQ(di["dim"], 6);

    const Model* members[] = {&m, &m};
    save_ensemble(equal_weight_ensemble(members, 20), dir.file("e.ence"));
    auto de = describe_file(dir.file("e.ence"));
    EXPECT_EQ(de["type"], "ensemble");
    EXPECT_EQ(de["members"].size(), 2u);
    EXPECT_EQ(de["candidates"], 20);
    EXPECT_EQ(describe_line(de), dir.file("e.ence") + ": ensemble of 2 models (als, als) over 40 items, top-20 candidates");
}

TEST(Describe, ForeignAndMissingFilesGetOneClearLine) {
    testing::TempDir dir;
    auto foreign = dir.write("x.bin", "PK\x03\x04 not ours");
    try {
        describe_file(foreign);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), foreign + ": not an encore file (it starts with 'PK\\x03\\x04 not'; expected a .encd "
                                                   "dataset, .encm model, .enci index or .ence ensemble)");
    }
    EXPECT_THROW(describe_file(dir.write("short", "ENC")), Error);
    EXPECT_THROW(describe_file(dir.file("missing")), Error);
}

}  // namespace
}  // namespace encore

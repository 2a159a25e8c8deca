// Ingest's text encoding rules (ingest.hpp "Encoding") and the record of ids the value filter dropped.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "encore/data/ingest.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

using testing::TempDir;

IngestOptions options(InputFormat f, TextEncoding e = TextEncoding::utf8) {
    IngestOptions o;
    o.format = f;
    o.encoding = e;
    o.threads = 2;
    return o;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(IngestEncoding, InvalidUtf8KeyIsAnErrorNamingFileLineAndTheFix) {
    TempDir dir;
    auto path = dir.write("plays.csv", "user,artist,plays\nu1,Abba,3\nu2,Bj\xF6rk,5\n");
    auto msg = error_of([&] { ingest({path}, options(InputFormat::csv)); });
    EXPECT_EQ(msg.rfind(path + ":3: invalid UTF-8 in item key 'Bj\\xF6rk' (byte 0xF6 at offset 2)", 0), 0u) << msg;
    EXPECT_NE(msg.find("set encoding to latin1"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    // skip_bad_lines skips it like any malformed row
    auto o = options(InputFormat::csv);
    o.skip_bad_lines = true;
    IngestReport r;
    auto d = ingest({path}, o, &r);
    EXPECT_EQ(r.bad_lines, 1);
    EXPECT_EQ(d.n_items(), 1);
}

TEST(IngestEncoding, Latin1ConvertsAndReplaceSubstitutes) {
    TempDir dir;
    auto path = dir.write("plays.tsv", "u\xE9\tBj\xF6rk\t5\nu2\tCaf\xC3\xA9\t1\n");
    auto d = ingest({path}, options(InputFormat::tsv, TextEncoding::latin1));
    EXPECT_EQ(d.users.to_vector(), (std::vector<std::string>{"u\xC3\xA9", "u2"}));
    // latin1 reads every byte as Latin-1, UTF-8 sequences included
    EXPECT_EQ(d.items.to_vector(), (std::vector<std::string>{"Bj\xC3\xB6rk", "Caf\xC3\x83\xC2\xA9"}));
    EXPECT_EQ(d.meta["encoding"], "latin1");
    auto r = ingest({path}, options(InputFormat::tsv, TextEncoding::replace));
    EXPECT_EQ(r.users.to_vector(), (std::vector<std::string>{"u\xEF\xBF\xBD", "u2"}));
    EXPECT_EQ(r.items.to_vector(), (std::vector<std::string>{"Bj\xEF\xBF\xBDrk", "Caf\xC3\xA9"}));
    EXPECT_EQ(parse_text_encoding("latin1"), TextEncoding::latin1);
    EXPECT_THROW(parse_text_encoding("cp1252"), OptionError);
}

TEST(IngestEncoding, NamesFilesAreCheckedAndConvertedToo) {
    TempDir dir;
    auto path = dir.write("plays.tsv", "u1\t7\t5\nu2\t8\t1\n");
    auto names = dir.write("names.tsv", "7\tAbba\n8\tBj\xF6rk\n");
    auto o = options(InputFormat::tsv);
    o.names_file = names;
    auto msg = error_of([&] { ingest({path}, o); });
    EXPECT_EQ(msg.rfind(names + ":2: invalid UTF-8 in name 'Bj\\xF6rk'", 0), 0u) << msg;
    o.encoding = TextEncoding::latin1;
    auto d = ingest({path}, o);
    EXPECT_EQ(d.item_names.to_vector(), (std::vector<std::string>{"Abba", "Bj\xC3\xB6rk"}));
    o.encoding = TextEncoding::replace;
    d = ingest({path}, o);
    EXPECT_EQ(d.item_names.to_vector(), (std::vector<std::string>{"Abba", "Bj\xEF\xBF\xBDrk"}));
}

TEST(IngestEncoding, ArtistNamesInsideLastfm360kRowsAreChecked) {
    TempDir dir;
    const std::string sha(40, 'a');
    auto path = dir.write("plays.tsv", sha + "\tmbid-1\tBj\xF6rk\t12\n");
    auto msg = error_of([&] { ingest({path}, options(InputFormat::lastfm360k)); });
    EXPECT_NE(msg.find(":1: invalid UTF-8 in artist name"), std::string::npos) << msg;
    auto d = ingest({path}, options(InputFormat::lastfm360k, TextEncoding::latin1));
    EXPECT_EQ(d.item_names.to_vector(), (std::vector<std::string>{"Bj\xC3\xB6rk"}));
}

TEST(IngestDropped, IdsWhoseEveryRowWasFilteredAreRecorded) {
    TempDir dir;
    // u442 rated everything below 4; item m9 only got low ratings; u1 keeps one row.
    auto path = dir.write("r.tsv", "u1\tm1\t5\nu442\tm1\t2\nu442\tm9\t3\nu1\tm9\t1\nu7\tm1\t0\n");
    auto o = options(InputFormat::tsv);
    o.min_value = 4;
    auto d = ingest({path}, o);
    ASSERT_TRUE(d.meta.contains("dropped")) << d.meta.dump();
    const auto& dr = d.meta["dropped"];
    EXPECT_EQ(dr["filter"], "min-value 4");
    EXPECT_EQ(dr["users"]["ids"], (nlohmann::json{"u442", "u7"}));
    EXPECT_EQ(dr["users"]["count"], 2);
    EXPECT_EQ(dr["users"]["capped"], false);
    EXPECT_EQ(dr["items"]["ids"], (nlohmann::json{"m9"}));
    // nothing dropped: no entry
    auto all = ingest({path}, options(InputFormat::tsv));
    EXPECT_TRUE(all.meta.contains("dropped"));  // u7's only row is a 0
    EXPECT_EQ(all.meta["dropped"]["filter"], "dropping zero values");
    EXPECT_EQ(all.meta["dropped"]["users"]["ids"], (nlohmann::json{"u7"}));
    auto clean = ingest({dir.write("c.tsv", "u1\tm1\t5\n")}, options(InputFormat::tsv));
    EXPECT_FALSE(clean.meta.contains("dropped"));
}

}  // namespace
}  // namespace encore

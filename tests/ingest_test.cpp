#include "encore/data/ingest.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "encore/data/text_scan.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

using testing::TempDir;

IngestOptions quiet_options(InputFormat f = InputFormat::auto_detect) {
    IngestOptions o;
    o.format = f;
    o.threads = 2;
    return o;
}

std::vector<std::string> strings(const StringTable& t) { return t.to_vector(); }

// Value of (user key, item key), 0 when absent.
float value_of(const Dataset& d, std::string_view user, std::string_view item) {
    auto u = d.users.find(user);
    auto i = d.items.find(item);
    if (!u || !i) return 0.0f;
    return d.by_user.at(*u, static_cast<std::int32_t>(*i));
}

// Runs f, expecting an encore::Error whose message contains every part.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one containing '" << parts.front() << "'";
    } catch (const Error& e) {
        std::string msg = e.what();
        for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
    }
}

void expect_same(const Dataset& a, const Dataset& b) {
    EXPECT_EQ(strings(a.users), strings(b.users));
    EXPECT_EQ(strings(a.items), strings(b.items));
    EXPECT_EQ(strings(a.item_names), strings(b.item_names));
    ASSERT_EQ(a.nnz(), b.nnz());
    EXPECT_EQ(a.n_users(), b.n_users());
    EXPECT_EQ(a.n_items(), b.n_items());
    for (std::int64_t r = 0; r <= a.n_users(); ++r) ASSERT_EQ(a.by_user.indptr[r], b.by_user.indptr[r]);
    for (std::int64_t k = 0; k < a.nnz(); ++k) {
        ASSERT_EQ(a.by_user.indices[k], b.by_user.indices[k]);
        ASSERT_EQ(a.by_user.values[k], b.by_user.values[k]);
    }
}

// ------------------------------------------------------------------------------------------------

TEST(IngestText, ParseValue) {
    double v = 0;
    using S = text::ValueStatus;
    EXPECT_EQ(text::parse_value("42", v), S::ok);
    EXPECT_EQ(v, 42.0);
    EXPECT_EQ(text::parse_value(" 3.5 ", v), S::ok);
    EXPECT_EQ(v, 3.5);
    EXPECT_EQ(text::parse_value("+2e3", v), S::ok);
    EXPECT_EQ(v, 2000.0);
    EXPECT_EQ(text::parse_value("-3", v), S::ok);
    EXPECT_EQ(v, -3.0);
    EXPECT_EQ(text::parse_value("", v), S::empty);
    EXPECT_EQ(text::parse_value("12a", v), S::not_number);
    EXPECT_EQ(text::parse_value("plays", v), S::not_number);
    EXPECT_EQ(text::parse_value("+-1", v), S::not_number);
    EXPECT_EQ(text::parse_value("nan", v), S::nan);
    EXPECT_EQ(text::parse_value("inf", v), S::infinite);
    EXPECT_EQ(text::parse_value("-Infinity", v), S::infinite);
    EXPECT_EQ(text::parse_value("1e39", v), S::out_of_range);
    EXPECT_EQ(text::parse_value("1e400", v), S::out_of_range);
}

TEST(IngestText, SplitCsv) {
    std::vector<std::string_view> f(4);
    std::string scratch;
    std::size_t n = 0;
    std::string line = R"(plain,"a,b","say ""hi""",)";
    scratch.reserve(line.size());
    ASSERT_EQ(text::split_csv(line, ',', f, n, scratch), text::CsvStatus::ok);
    ASSERT_EQ(n, 4u);
    EXPECT_EQ(f[0], "plain");
    EXPECT_EQ(f[1], "a,b");
    EXPECT_EQ(f[2], "say \"hi\"");
    EXPECT_EQ(f[3], "");
    EXPECT_EQ(text::split_csv(R"(a,"open)", ',', f, n, scratch), text::CsvStatus::unclosed_quote);
    EXPECT_EQ(text::split_csv(R"(a,"x"y,b)", ',', f, n, scratch), text::CsvStatus::text_after_quote);
    EXPECT_EQ(text::split_plain("a\tb\t\tc", '\t', f), 4u);
    EXPECT_EQ(f[2], "");
}

// split_line (one pass, SIMD where built with AVX-512) against memchr + split_plain: random lines
// of every length around the 64-byte blocks, separators and newlines anywhere, quotes, the last
// line with and without its newline, fewer stored fields than present.
TEST(IngestText, SplitLineMatchesSplitPlain) {
    std::mt19937 rng(3);
    const std::string alphabet = "ab\t\t\n\"x,";
    for (int trial = 0; trial < 3000; ++trial) {
        const std::size_t len = rng() % 300;
        std::string buf;
        for (std::size_t i = 0; i < len; ++i) buf.push_back(alphabet[rng() % alphabet.size()]);
        const std::vector<char> heap(buf.begin(), buf.end());  // exact size: ASan sees reads past the end
        const char* p = heap.data();
        const char* end = p + heap.size();
        for (std::size_t stored : {1u, 3u, 8u}) {
            for (const char* at = p; at < end;) {
                std::vector<std::string_view> got(stored), want(stored);
                const char* le = nullptr;
                bool quote = false;
                const std::size_t n = text::split_line(at, end, '\t', got, le, &quote);
                const char* nl = static_cast<const char*>(std::memchr(at, '\n', static_cast<std::size_t>(end - at)));
                const char* want_end = nl ? nl : end;
                ASSERT_EQ(le, want_end);
                const std::string_view line(at, static_cast<std::size_t>(want_end - at));
                ASSERT_EQ(n, text::split_plain(line, '\t', want));
                ASSERT_EQ(quote, line.find('"') != std::string_view::npos);
                for (std::size_t i = 0; i < std::min(n, stored); ++i) ASSERT_EQ(got[i], want[i]) << "trial " << trial;
                at = le < end ? le + 1 : end;
            }
        }
    }
}

TEST(IngestText, RepairUtf8) {
    EXPECT_EQ(text::repair_utf8("Caf\xE9"), "Caf\xC3\xA9");                 // Latin-1 e-acute
    EXPECT_EQ(text::repair_utf8("Caf\xC3\xA9"), "Caf\xC3\xA9");             // already UTF-8
    EXPECT_EQ(text::repair_utf8("\xE2\x82\xAC \xFC"), "\xE2\x82\xAC \xC3\xBC");  // mixed
    EXPECT_TRUE(text::is_valid_utf8("\xC3\xBC"));
    EXPECT_FALSE(text::is_valid_utf8("\xFC"));
    EXPECT_FALSE(text::is_valid_utf8("\xC0\xAF"));  // overlong
}

TEST(IngestFormat, ParseAndNameFormats) {
    for (auto f : {InputFormat::auto_detect, InputFormat::lastfm360k, InputFormat::lastfm2k, InputFormat::movielens,
                   InputFormat::csv, InputFormat::tsv})
        EXPECT_EQ(parse_input_format(format_name(f)), f);
    expect_error([] { parse_input_format("parquet"); }, {"parquet"});
}

TEST(IngestFormat, AutoDetect) {
    TempDir dir;
    std::string sha(40, 'a');
    EXPECT_EQ(detect_input_format(dir.write("user_artists.dat", "userID\tartistID\tweight\n2\t51\t1\n")), InputFormat::lastfm2k);
    EXPECT_EQ(detect_input_format(dir.write("u.data", "1\t2\t3\t4\n")), InputFormat::movielens);
    EXPECT_EQ(detect_input_format(dir.write("u3.base", "1\t2\t3\t4\n")), InputFormat::movielens);
    EXPECT_EQ(detect_input_format(dir.write("ratings.csv", "userId,movieId,rating,timestamp\n")), InputFormat::movielens);
    EXPECT_EQ(detect_input_format(dir.write("plays.tsv", sha + "\tmbid\tname\t3\n")), InputFormat::lastfm360k);
    EXPECT_EQ(detect_input_format(dir.write("other.tsv", "u\ti\t3\n")), InputFormat::tsv);
    EXPECT_EQ(detect_input_format(dir.write("x.CSV", "u,i,3\n")), InputFormat::csv);
    expect_error([&] { detect_input_format(dir.file("missing.tsv")); }, {"missing.tsv"});
}

// ------------------------------------------------------------------------------------------------

TEST(IngestLastfm360k, KeysNamesAndDuplicates) {
    TempDir dir;
    std::string u1(40, '1'), u2(40, '2');
    std::string body = u1 + "\tmbid-a\tArtist A\t10\n" +
                       u1 + "\t\tNo Mbid Band\t5\n" +       // empty mbid: key = name
                       u2 + "\tmbid-b\tArtist B\t7\n" +
                       u2 + "\tmbid-a\tArtist A (alt)\t3\n" +  // first name seen wins
                       u1 + "\tmbid-a\tArtist A\t1\n";       // duplicate of row 1: summed
    auto path = dir.write("plays.tsv", body);
    IngestReport rep;
    Dataset d = ingest({path}, quiet_options(), &rep);
    EXPECT_EQ(rep.format, InputFormat::lastfm360k);
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{u1, u2}));
    EXPECT_EQ(strings(d.items), (std::vector<std::string>{"mbid-a", "No Mbid Band", "mbid-b"}));
    EXPECT_EQ(strings(d.item_names), (std::vector<std::string>{"Artist A", "No Mbid Band", "Artist B"}));
    EXPECT_EQ(d.nnz(), 4);
    EXPECT_EQ(value_of(d, u1, "mbid-a"), 11.0f);
    EXPECT_EQ(value_of(d, u1, "No Mbid Band"), 5.0f);
    EXPECT_EQ(value_of(d, u2, "mbid-a"), 3.0f);
    EXPECT_EQ(rep.lines, 5);
    EXPECT_EQ(rep.rows_kept, 5);
    EXPECT_EQ(rep.duplicates, 1);
    EXPECT_EQ(d.by_item.rows, 3);
    EXPECT_EQ(d.by_item.at(0, 1), 3.0f);  // transpose
    EXPECT_EQ(d.meta["format"], "lastfm360k");
    EXPECT_EQ(d.meta["duplicates"], 1);
    d.by_user.validate("by_user");
    d.by_item.validate("by_item");
}

TEST(IngestLastfm2k, CrlfHeaderAndNamesBeside) {
    TempDir dir;
    auto path = dir.write("user_artists.dat", "userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n3\t51\t5\r\n3\t99\t4\r\n");
    dir.write("artists.dat",
              "id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://x\thttp://y\n52\tMorcheeba\thttp://x\thttp://y\n"
              "53\tUnused\thttp://x\thttp://y\n");
    IngestReport rep;
    Dataset d = ingest({path}, quiet_options(), &rep);
    EXPECT_EQ(rep.format, InputFormat::lastfm2k);
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{"2", "3"}));
    EXPECT_EQ(strings(d.items), (std::vector<std::string>{"51", "52", "99"}));
    EXPECT_EQ(strings(d.item_names), (std::vector<std::string>{"Duran Duran", "Morcheeba", ""}));
    EXPECT_EQ(value_of(d, "2", "51"), 13883.0f);
    EXPECT_EQ(value_of(d, "3", "99"), 4.0f);
    EXPECT_EQ(rep.lines, 4);
    EXPECT_EQ(d.meta["inputs"][0]["header"], true);
    EXPECT_EQ(d.item_label(2), "99");
}

TEST(IngestLastfm2k, ExplicitNamesFile) {
    TempDir dir;
    auto path = dir.write("plays.dat", "userID\tartistID\tweight\n1\t7\t2\n");
    auto names = dir.write("names.txt", "7\tSeven\n");
    auto o = quiet_options(InputFormat::lastfm2k);
    o.names_file = names;
    Dataset d = ingest({path}, o);
    EXPECT_EQ(strings(d.item_names), (std::vector<std::string>{"Seven"}));
    o.names_file = dir.file("nope.dat");
    expect_error([&] { ingest({path}, o); }, {"nope.dat"});
}

TEST(IngestMovielens, UDataWithLatin1Titles) {
    TempDir dir;
    auto path = dir.write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250950\n");
    dir.write("u.item", "242|Kolya (1996)|24-Jan-1997||http://x|0|0\n302|L.A. Confidential (1997)|01-Jan-1997||http://x|0\n"
                        "303|Caf\xE9 (1999)|x\n");
    IngestReport rep;
    Dataset d = ingest({path}, quiet_options(), &rep);
    EXPECT_EQ(rep.format, InputFormat::movielens);
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{"196", "186"}));
    EXPECT_EQ(strings(d.items), (std::vector<std::string>{"242", "302"}));
    EXPECT_EQ(strings(d.item_names), (std::vector<std::string>{"Kolya (1996)", "L.A. Confidential (1997)"}));
    EXPECT_EQ(value_of(d, "196", "302"), 5.0f);
    EXPECT_EQ(d.nnz(), 3);

    // Latin-1 title converted to UTF-8 when the movie is rated
    auto path2 = dir.write("u1.base", "1\t303\t4\t0\n");
    Dataset d2 = ingest({path2}, quiet_options());
    EXPECT_EQ(strings(d2.item_names), (std::vector<std::string>{"Caf\xC3\xA9 (1999)"}));
}

TEST(IngestMovielens, RatingsCsvWithQuotedTitles) {
    TempDir dir;
    auto path = dir.write("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,0.5,964981247\n2,1,3.5,1\n");
    dir.write("movies.csv",
              "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
              "11,\"American President, The (1995)\",Comedy\n12,\"Say \"\"Hi\"\" (2001)\",Drama\n");
    IngestReport rep;
    Dataset d = ingest({path}, quiet_options(), &rep);
    EXPECT_EQ(strings(d.items), (std::vector<std::string>{"1", "11"}));
    EXPECT_EQ(strings(d.item_names), (std::vector<std::string>{"Toy Story (1995)", "American President, The (1995)"}));
    EXPECT_EQ(value_of(d, "1", "11"), 0.5f);
    EXPECT_EQ(value_of(d, "2", "1"), 3.5f);
    EXPECT_EQ(rep.lines, 3);

    auto o = quiet_options(InputFormat::movielens);
    o.names_file = dir.file("movies.csv");
    auto path2 = dir.write("r2.csv", "userId,movieId,rating,timestamp\n5,12,2,0\n");
    Dataset d2 = ingest({path2}, o);
    EXPECT_EQ(strings(d2.item_names), (std::vector<std::string>{"Say \"Hi\" (2001)"}));
}

// ------------------------------------------------------------------------------------------------

TEST(IngestGeneric, HeaderDetectedOrNotOrForced) {
    TempDir dir;
    auto with = dir.write("with.csv", "user,item,count\na,x,1\nb,y,2\n");
    auto without = dir.write("without.csv", "a,x,1\nb,y,2\n");
    IngestReport rep;
    Dataset d1 = ingest({with}, quiet_options(), &rep);
    EXPECT_EQ(rep.format, InputFormat::csv);
    EXPECT_EQ(strings(d1.users), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(rep.lines, 2);
    Dataset d2 = ingest({without}, quiet_options(), &rep);
    EXPECT_EQ(strings(d2.users), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(rep.lines, 2);
    EXPECT_TRUE(d1.item_names.empty());

    auto o = quiet_options();
    o.header = true;  // forced: the first data row is dropped
    Dataset d3 = ingest({without}, o, &rep);
    EXPECT_EQ(strings(d3.users), (std::vector<std::string>{"b"}));
    o.header = false;  // forced off: the header row is data and fails on its value
    expect_error([&] { ingest({with}, o); }, {"with.csv:1:", "bad value 'count' (not a number)"});
}

TEST(IngestGeneric, NoValueColumnUsesHeaderWordsAndCountsOne) {
    TempDir dir;
    auto o = quiet_options(InputFormat::tsv);
    o.value_col = -1;
    IngestReport rep;
    auto with = dir.write("with.tsv", "user_id\ttrack_id\na\tx\na\tx\nb\tx\n");
    Dataset d = ingest({with}, o, &rep);
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(value_of(d, "a", "x"), 2.0f);
    EXPECT_EQ(rep.duplicates, 1);
    auto without = dir.write("without.tsv", "alice\tsong1\nbob\tsong2\n");
    Dataset d2 = ingest({without}, o, &rep);
    EXPECT_EQ(strings(d2.users), (std::vector<std::string>{"alice", "bob"}));
}

TEST(IngestGeneric, ColumnsCrlfBomAndQuotes) {
    TempDir dir;
    // columns: ignored, item, ignored, user, value; BOM, CRLF and quoted keys with commas and quotes
    auto path = dir.write("log.csv",
                          "\xEF\xBB\xBFts,item,x,user,plays\r\n"
                          "1,\"Hello, World\",z,u1,3\r\n"
                          "2,\"Say \"\"hi\"\"\",z,u2,4\r\n"
                          "3,plain,\"q\",\"u1\",5\r\n"
                          "4,\"Hello, World\",z,u1,1\r\n");
    auto o = quiet_options();
    o.user_col = 3;
    o.item_col = 1;
    o.value_col = 4;
    IngestReport rep;
    Dataset d = ingest({path}, o, &rep);
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{"u1", "u2"}));
    EXPECT_EQ(strings(d.items), (std::vector<std::string>{"Hello, World", "Say \"hi\"", "plain"}));
    EXPECT_EQ(value_of(d, "u1", "Hello, World"), 4.0f);
    EXPECT_EQ(value_of(d, "u2", "Say \"hi\""), 4.0f);
    EXPECT_EQ(rep.duplicates, 1);
    EXPECT_EQ(rep.lines, 4);

    auto bad = dir.write("bad.csv", "u,i,v\r\na,b,1\r\na,\"open,1\r\n");
    expect_error([&] { ingest({bad}, quiet_options()); }, {"bad.csv:3:", "quoted field not closed", "line breaks"});
}

TEST(IngestGeneric, NamesFileAndColumnChecks) {
    TempDir dir;
    auto path = dir.write("plays.tsv", "u1\ti1\t2\nu2\ti2\t1\n");
    auto names = dir.write("names.tsv", "key\tname\ni2\tSecond\ni1\tFirst\ni1\tIgnored\nextra\tNot an item\n");
    auto o = quiet_options(InputFormat::tsv);
    o.names_file = names;
    Dataset d = ingest({path}, o);
    EXPECT_EQ(strings(d.item_names), (std::vector<std::string>{"First", "Second"}));

    auto bad_names = dir.write("bad_names.tsv", "i1\tFirst\ni2 no separator\n");
    o.names_file = bad_names;
    expect_error([&] { ingest({path}, o); }, {"bad_names.tsv:2:", "expected KEY<tab>NAME"});

    o.names_file.clear();
    o.value_col = 5;
    expect_error([&] { ingest({path}, o); }, {"plays.tsv:1:", "expected at least 6 fields"});
    o.value_col = 2;
    o.item_col = 0;
    expect_error([&] { ingest({path}, o); }, {"must differ"});
}

// ------------------------------------------------------------------------------------------------

TEST(IngestFilter, MinValueAndZeroRows) {
    TempDir dir;
    auto path = dir.write("p.tsv", "a\tx\t5\na\ty\t0\nb\tx\t1\nb\ty\t2\nc\tz\t1\n");
    IngestReport rep;
    Dataset d = ingest({path}, quiet_options(InputFormat::tsv), &rep);
    EXPECT_EQ(rep.rows_below_min, 1);  // the zero row
    EXPECT_EQ(d.nnz(), 4);
    EXPECT_EQ(value_of(d, "a", "y"), 0.0f);

    auto o = quiet_options(InputFormat::tsv);
    o.min_value = 2;
    Dataset d2 = ingest({path}, o, &rep);
    EXPECT_EQ(rep.rows_below_min, 3);
    EXPECT_EQ(rep.rows_kept, 2);
    // only kept rows create ids: c and z are gone
    EXPECT_EQ(strings(d2.users), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(strings(d2.items), (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(d2.meta["below_min"], 3);

    o.min_value = 100;
    expect_error([&] { ingest({path}, o); }, {"no rows left after filtering", "5 below"});
}

TEST(IngestFilter, NegativeValues) {
    TempDir dir;
    auto path = dir.write("p.tsv", "u\ti\tv\na\tx\t2\na\ty\t-3\nb\tx\t1\nb\tx\t-1\n");
    expect_error([&] { ingest({path}, quiet_options(InputFormat::tsv)); },
                 {"p.tsv:3:", "negative value -3 (allow-negative keeps dislikes)"});
    auto o = quiet_options(InputFormat::tsv);
    o.allow_negative = true;
    IngestReport rep;
    Dataset d = ingest({path}, o, &rep);
    EXPECT_EQ(value_of(d, "a", "y"), -3.0f);
    // b,x sums to 0: dropped as no interaction
    EXPECT_EQ(d.nnz(), 2);
    EXPECT_EQ(d.by_user.row_nnz(1), 0);
    EXPECT_EQ(d.by_item.nnz(), 2);
    EXPECT_EQ(d.meta["zero_sums_dropped"], 1);
    d.by_user.validate("by_user");
    o.min_value = 0.5;  // dislikes can still be filtered explicitly
    Dataset d2 = ingest({path}, o, &rep);
    EXPECT_EQ(rep.rows_below_min, 2);
    EXPECT_EQ(value_of(d2, "b", "x"), 1.0f);
}

// ------------------------------------------------------------------------------------------------

TEST(IngestErrors, EveryRowErrorNamesFileLineAndReason) {
    TempDir dir;
    struct Case {
        std::string body, reason;
        int line;
    };
    // header on line 1, a blank line 3 (still counted), the bad row on line 5
    std::string pre = "user\titem\tplays\r\na\tx\t1\r\n\r\nb\ty\t2\r\n";
    std::vector<Case> cases = {
        {"c\tz\t12abc\r\n", "bad value '12abc' (not a number)", 5},
        {"c\tz\tnan\r\n", "value 'nan' is NaN", 5},
        {"c\tz\tinf\r\n", "value 'inf' is infinite", 5},
        {"c\tz\t\r\n", "missing value", 5},
        {"c\tz\t1\t9\r\n", "expected 3 fields, found 4", 5},
        {"c\tz\r\n", "expected 3 fields, found 2", 5},
        {"\tz\t1\r\n", "empty user id", 5},
        {"c\t\t1\r\n", "empty item key", 5},
    };
    for (const auto& c : cases) {
        auto path = dir.write("bad.tsv", pre + c.body + "d\tw\t1\r\n");
        SCOPED_TRACE(c.reason);
        try {
            ingest({path}, quiet_options(InputFormat::tsv));
            ADD_FAILURE() << "no error";
        } catch (const ParseError& e) {
            EXPECT_EQ(e.file(), path);
            EXPECT_EQ(e.line(), c.line);
            EXPECT_EQ(e.reason(), c.reason);
            EXPECT_NE(std::string(e.what()).find(path + ":5: " + c.reason), std::string::npos) << e.what();
        }
    }
}

TEST(IngestErrors, MissingAndEmptyFiles) {
    TempDir dir;
    auto missing = dir.file("nothing-here.tsv");
    expect_error([&] { ingest({missing}, quiet_options()); }, {"nothing-here.tsv", "cannot open"});
    auto empty = dir.write("empty.tsv", "");
    expect_error([&] { ingest({empty}, quiet_options()); }, {"empty.tsv: no data rows"});
    auto header_only = dir.write("header.csv", "user,item,plays\r\n\r\n");
    expect_error([&] { ingest({header_only}, quiet_options()); }, {"header.csv: no data rows"});
    // a missing second input fails before anything is parsed
    auto good = dir.write("good.tsv", "a\tb\t1\n");
    expect_error([&] { ingest({good, missing}, quiet_options()); }, {"nothing-here.tsv"});
}

TEST(IngestErrors, LineNumberInLaterChunk) {
    TempDir dir;
    std::string body;
    for (int k = 0; k < 3000; ++k) body += fmt::format("user{}\titem{}\t1\n", k % 97, k % 31);
    body += "bad\trow\tx\n";  // line 3001
    for (int k = 0; k < 500; ++k) body += "u\ti\t1\n";
    body += "bad\trow\ty\n";  // line 3502 (second error: not the one reported)
    auto path = dir.write("big.tsv", body);
    for (int threads : {1, 2}) {
        auto o = quiet_options(InputFormat::tsv);
        o.threads = threads;
        o.chunk_bytes = 1000;
        expect_error([&] { ingest({path}, o); }, {"big.tsv:3001: bad value 'x'"});
    }
}

TEST(IngestErrors, SkipBadLinesCountsAndKeepsExamples) {
    TempDir dir;
    std::string body = "a\tx\t1\n";
    for (int k = 0; k < 8; ++k) body += fmt::format("b\ty\tbad{}\n", k);
    body += "c\tz\t2\n\tz\t1\n";
    auto path = dir.write("skip.tsv", body);
    auto o = quiet_options(InputFormat::tsv);
    o.skip_bad_lines = true;
    o.chunk_bytes = 16;  // examples gathered across many chunks still come in line order
    IngestReport rep;
    Dataset d = ingest({path}, o, &rep);
    EXPECT_EQ(rep.bad_lines, 9);
    EXPECT_EQ(rep.lines, 11);
    EXPECT_EQ(rep.rows_kept, 2);
    ASSERT_EQ(rep.bad_examples.size(), 5u);
    EXPECT_EQ(rep.bad_examples[0], path + ":2: bad value 'bad0' (not a number)");
    EXPECT_EQ(rep.bad_examples[4], path + ":6: bad value 'bad4' (not a number)");
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(d.meta["bad_lines"], 9);
}

// ------------------------------------------------------------------------------------------------

TEST(IngestMulti, InputsShareIds) {
    TempDir dir;
    auto a = dir.write("a.tsv", "u\ti\tplays\nalice\tx\t1\nbob\ty\t2\n");
    auto b = dir.write("b.tsv", "u\ti\tplays\ncarol\tx\t3\nalice\tx\t4\n");  // own header
    IngestReport rep;
    Dataset d = ingest({a, b}, quiet_options(), &rep);
    EXPECT_EQ(strings(d.users), (std::vector<std::string>{"alice", "bob", "carol"}));
    EXPECT_EQ(strings(d.items), (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(value_of(d, "alice", "x"), 5.0f);
    EXPECT_EQ(rep.duplicates, 1);
    EXPECT_EQ(rep.lines, 4);
    EXPECT_EQ(d.meta["inputs"].size(), 2u);
    // an error in the second file names the second file and its own line
    auto c = dir.write("c.tsv", "u\ti\tplays\ndave\tz\toops\n");
    expect_error([&] { ingest({a, c}, quiet_options()); }, {"c.tsv:2: bad value 'oops'"});
}

// A generated Last.fm-360K-shaped file: users in runs, Zipf-ish items, some duplicates and blanks.
std::string generated_log(int rows, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out;
    int user = 0;
    for (int r = 0; r < rows; ++r) {
        if (rng() % 40 == 0) ++user;
        unsigned item = static_cast<unsigned>(std::pow(static_cast<double>(rng() % 100000) / 100000.0, 3.0) * 5000);
        char sha[41];
        std::snprintf(sha, sizeof sha, "%040x", user * 2654435761u);
        out += sha;
        out += '\t';
        if (item % 50 != 0) out += fmt::format("mbid-{}", item);
        out += fmt::format("\tArtist {}\t{}\n", item, 1 + rng() % 500);
        if (r % 5000 == 0) out += "\n";
    }
    return out;
}

TEST(IngestParallel, SameResultForAnyThreadsChunksAndStdin) {
    TempDir dir;
    auto path = dir.write("gen.tsv", generated_log(50000, 7));
    auto o1 = quiet_options(InputFormat::lastfm360k);
    o1.threads = 1;
    IngestReport r1, r2;
    Dataset d1 = ingest({path}, o1, &r1);
    auto o2 = quiet_options(InputFormat::lastfm360k);
    o2.threads = 2;
    o2.chunk_bytes = 64 << 10;  // ~60 chunks
    Dataset d2 = ingest({path}, o2, &r2);
    expect_same(d1, d2);
    EXPECT_EQ(r1.rows_kept, 50000);
    EXPECT_EQ(r1.lines, r2.lines);
    EXPECT_EQ(r1.duplicates, r2.duplicates);
    EXPECT_GT(r1.duplicates, 0);
    EXPECT_EQ(d1.meta, d2.meta);

    // standard input in small blocks, carrying partial lines across block edges
    int saved = dup(STDIN_FILENO);
    int fd = open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_GE(dup2(fd, STDIN_FILENO), 0);
    close(fd);
    auto o3 = o2;
    o3.stdin_block_bytes = 100000;
    o3.format = InputFormat::auto_detect;
    IngestReport r3;
    Dataset d3;
    try {
        d3 = ingest({"-"}, o3, &r3);
    } catch (...) {
        dup2(saved, STDIN_FILENO);
        close(saved);
        throw;
    }
    dup2(saved, STDIN_FILENO);
    close(saved);
    EXPECT_EQ(r3.format, InputFormat::lastfm360k);
    expect_same(d1, d3);
    EXPECT_EQ(r3.bytes, r1.bytes);
}

TEST(IngestParallel, StdinErrorLineNumbersAcrossBlocks) {
    TempDir dir;
    std::string body;
    for (int k = 0; k < 2000; ++k) body += fmt::format("u{}\ti\t1\n", k);
    body += "u\ti\t-1\n";  // line 2001
    auto path = dir.write("s.tsv", body);
    int saved = dup(STDIN_FILENO);
    int fd = open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    dup2(fd, STDIN_FILENO);
    close(fd);
    auto o = quiet_options(InputFormat::tsv);
    o.stdin_block_bytes = 1000;
    expect_error([&] { ingest({"-"}, o); }, {"stdin:2001: negative value -1"});
    dup2(saved, STDIN_FILENO);
    close(saved);
}

// ------------------------------------------------------------------------------------------------

TEST(IngestReal, Lastfm2kFromSharedDatasets) {
    std::string root = testing::shared_datasets();
    if (root.empty()) GTEST_SKIP() << "shared datasets not present";
    IngestReport rep;
    Dataset d = ingest({root + "/lastfm-2k/user_artists.dat"}, quiet_options(), &rep);
    EXPECT_EQ(rep.format, InputFormat::lastfm2k);
    EXPECT_EQ(d.n_users(), 1892);
    EXPECT_EQ(d.n_items(), 17632);
    EXPECT_EQ(d.nnz(), 92834);
    EXPECT_EQ(rep.duplicates, 0);
    EXPECT_EQ(rep.bad_lines, 0);
    ASSERT_EQ(d.item_names.size(), d.items.size());
    auto beatles = d.item_names.find("The Beatles");
    ASSERT_TRUE(beatles.has_value());
    EXPECT_GT(d.by_item.row_nnz(*beatles), 100);
    d.by_user.validate("by_user");
    d.by_item.validate("by_item");
}

}  // namespace
}  // namespace encore

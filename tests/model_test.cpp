#include "encore/models/model.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "encore/data/dataset.hpp"
#include "encore/io/container.hpp"
#include "encore/models/als.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

constexpr Magic kModelMagicForTest = {'E', 'N', 'C', 'O', 'M', 'O', 'D', 'L'};
const char* const kSections[] = {"meta",           "user_factors",   "item_factors",       "users.offsets",
                                 "users.bytes",    "users.sorted",   "items.offsets",      "items.bytes",
                                 "items.sorted",   "names.offsets",  "names.bytes",        "names.sorted",
                                 "user_items.indptr", "user_items.indices", "user_items.values",
                                 "weighting.length_norm"};

// A small trained model with every part filled in; factors = 10 so rows carry padding.
Model make_model(int factors = 10) {
    const int users = 12, items = 9;
    std::mt19937 rng(1);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int u = 0; u < users; ++u)
        for (int i = 0; i < items; ++i)
            if (rng() % 3 == 0) r.push_back(u), c.push_back(i), v.push_back(static_cast<float>(1 + rng() % 50));
    auto plays = Csr::from_triplets(users, items, r, c, v, 1);
    Model m;
    m.weighting = fit_weighting(plays, {.kind = WeightingKind::bm25, .K1 = 50, .B = 0.7f});
    m.user_items = apply_weighting(plays, m.weighting, 1);
    AlsOptions o;
    o.factors = factors;
    o.iterations = 2;
    o.threads = 1;
    o.regularization = 0.05f;
    train_als(m.user_items, m.user_items.transpose(1), o, m.user_factors, m.item_factors);
    m.regularization = o.regularization;
    std::vector<std::string> uids, keys, names;
    for (int u = 0; u < users; ++u) uids.push_back("user-" + std::to_string(u));
    for (int i = 0; i < items; ++i) keys.push_back("mbid-" + std::to_string(i));
    for (int i = 0; i < items; ++i) names.push_back(i % 3 == 0 ? "" : "Artist " + std::to_string(i));
    m.users = StringTable::build(uids);
    m.items = StringTable::build(keys);
    m.item_names = StringTable::build(names);
    m.info = {{"options", {{"factors", factors}, {"solver", "cg"}}}, {"data", {{"source", "test"}}}};
    return m;
}

void expect_same(const Model& a, const Model& b) {
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.n_users(), b.n_users());
    EXPECT_EQ(a.n_items(), b.n_items());
    EXPECT_EQ(a.factors(), b.factors());
    for (const auto& [x, y] : {std::pair{&a.user_factors, &b.user_factors}, std::pair{&a.item_factors, &b.item_factors}}) {
        ASSERT_EQ(x->stride(), y->stride());
        ASSERT_EQ(x->storage().size(), y->storage().size());
        EXPECT_EQ(std::memcmp(x->data(), y->data(), x->storage().size_bytes()), 0);
    }
    EXPECT_EQ(a.users.to_vector(), b.users.to_vector());
    EXPECT_EQ(a.items.to_vector(), b.items.to_vector());
    EXPECT_EQ(a.item_names.to_vector(), b.item_names.to_vector());
    ASSERT_EQ(a.user_items.nnz(), b.user_items.nnz());
    EXPECT_TRUE(std::equal(a.user_items.indptr.begin(), a.user_items.indptr.end(), b.user_items.indptr.begin()));
    EXPECT_TRUE(std::equal(a.user_items.indices.begin(), a.user_items.indices.end(), b.user_items.indices.begin()));
    EXPECT_TRUE(std::equal(a.user_items.values.begin(), a.user_items.values.end(), b.user_items.values.begin()));
    EXPECT_EQ(a.weighting.options.kind, b.weighting.options.kind);
    EXPECT_EQ(a.weighting.options.K1, b.weighting.options.K1);
    EXPECT_EQ(a.weighting.options.B, b.weighting.options.B);
    EXPECT_EQ(a.weighting.options.alpha, b.weighting.options.alpha);
    EXPECT_EQ(a.weighting.options.eps, b.weighting.options.eps);
    EXPECT_EQ(a.weighting.n_items, b.weighting.n_items);
    EXPECT_EQ(a.weighting.item_length_norm, b.weighting.item_length_norm);
    EXPECT_EQ(a.regularization, b.regularization);
    EXPECT_EQ(a.info, b.info);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Rewrites a valid model file with its metadata edited (a way to build well-formed but
// inconsistent files that only the model loader's own checks can catch).
void rewrite_meta(const std::string& from, const std::string& to, const std::function<void(nlohmann::json&)>& edit) {
    auto r = ContainerReader::open(from, kModelMagicForTest, kModelVersion);
    auto meta = nlohmann::json::parse(r.text("meta"));
    edit(meta);
    ContainerWriter w(kModelMagicForTest, kModelVersion);
    w.add_text("meta", meta.dump());
    for (const char* name : kSections)
        if (std::string(name) != "meta") w.add(name, r.section(name));
    w.write(to);
}

std::string load_error(const std::string& path) {
    try {
        load_model(path);
    } catch (const FormatError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("WRONG EXCEPTION TYPE: ") + e.what();
    }
    return "";
}

TEST(ModelFile, SaveLoadIsIdentity) {
    encore::testing::TempDir dir;
    for (int factors : {10, 16}) {
        auto m = make_model(factors);
        auto path = dir.file("m" + std::to_string(factors) + ".encm");
        save_model(m, path);
        auto loaded = load_model(path);
        expect_same(m, loaded);
        // the factor matrices are views into the mapping, rows 64-byte aligned
        for (const Matrix* f : {&loaded.user_factors, &loaded.item_factors})
            for (std::int64_t r = 0; r < f->rows(); ++r)
                ASSERT_EQ(reinterpret_cast<std::uintptr_t>(f->row(r)) % 64, 0u);
        auto again = load_model(path, /*verify=*/false);
        expect_same(m, again);
    }
}

TEST(ModelFile, LoadedModelKeepsItsMappingAlive) {
    // The mapping stays alive through the model's own views even after the reader is gone and the
    // path has been replaced.
    encore::testing::TempDir dir;
    auto m = make_model();
    auto path = dir.file("m.encm");
    save_model(m, path);
    Model loaded = load_model(path);
    std::filesystem::remove(path);
    expect_same(m, loaded);
}

TEST(ModelFile, ItemLabelIsNameElseKey) {
    auto m = make_model();
    EXPECT_EQ(m.item_label(0), "mbid-0");  // empty name
    EXPECT_EQ(m.item_label(1), "Artist 1");
    m.item_names = StringTable();
    EXPECT_EQ(m.item_label(1), "mbid-1");
}

TEST(ModelFile, NoNamesAndNonBm25Weighting) {
    encore::testing::TempDir dir;
    auto m = make_model();
    m.item_names = StringTable();
    m.weighting = fit_weighting(m.user_items, {.kind = WeightingKind::log, .alpha = 2, .eps = 0.5f});
    auto path = dir.file("m.encm");
    save_model(m, path);
    auto loaded = load_model(path);
    EXPECT_TRUE(loaded.item_names.empty());
    expect_same(m, loaded);
}

TEST(ModelFile, TruncatedFilesFailCleanly) {
    encore::testing::TempDir dir;
    auto path = dir.file("m.encm");
    save_model(make_model(), path);
    const std::string bytes = read_file(path);
    auto cut = dir.file("cut.encm");
    for (std::size_t len : {std::size_t{0}, std::size_t{5}, std::size_t{8}, std::size_t{63}, std::size_t{64},
                            std::size_t{200}, bytes.size() / 2, bytes.size() - 64, bytes.size() - 1}) {
        write_file(cut, bytes.substr(0, len));
        auto msg = load_error(cut);
        EXPECT_FALSE(msg.empty()) << "length " << len;
        EXPECT_EQ(msg.find("WRONG"), std::string::npos) << msg;
        EXPECT_NE(msg.find(cut), std::string::npos) << msg;
    }
}

TEST(ModelFile, FlippedBytesFailCleanly) {
    encore::testing::TempDir dir;
    auto path = dir.file("m.encm");
    save_model(make_model(), path);
    const std::string bytes = read_file(path);
    auto bad = dir.file("bad.encm");
    std::mt19937 rng(3);
    std::vector<std::size_t> places = {0, 7, 8, 12, 20, 40, 70, 130, bytes.size() - 1};
    for (int k = 0; k < 40; ++k) places.push_back(rng() % bytes.size());
    int failures = 0;
    for (std::size_t at : places) {
        std::string b = bytes;
        b[at] = static_cast<char>(b[at] ^ 0x5A);
        write_file(bad, b);
        auto msg = load_error(bad);
        EXPECT_EQ(msg.find("WRONG"), std::string::npos) << msg;
        // A flip in the zero padding between sections is harmless (no checksum covers it) and a
        // flip in the reserved header bytes likewise; everything else must be caught.
        if (!msg.empty()) ++failures;
    }
    EXPECT_GE(failures, 9);
    // magic, version, section count, file size: each must be caught
    for (std::size_t at : {std::size_t{0}, std::size_t{8}, std::size_t{12}, std::size_t{16}}) {
        std::string b = bytes;
        b[at] = static_cast<char>(b[at] ^ 0x5A);
        write_file(bad, b);
        EXPECT_FALSE(load_error(bad).empty()) << "byte " << at;
    }
}

TEST(ModelFile, EveryChecksummedByteIsCovered) {
    // Flip one byte inside each section: each is detected by its checksum.
    encore::testing::TempDir dir;
    auto path = dir.file("m.encm");
    save_model(make_model(), path);
    const std::string bytes = read_file(path);
    auto r = ContainerReader::open(path, kModelMagicForTest, kModelVersion);
    auto bad = dir.file("bad.encm");
    for (const char* name : kSections) {
        auto s = r.section(name);
        if (s.empty()) continue;
        std::size_t offset = static_cast<std::size_t>(s.data() - r.file()->bytes().data()) + s.size() / 2;
        std::string b = bytes;
        b[offset] = static_cast<char>(b[offset] ^ 0x01);
        write_file(bad, b);
        auto msg = load_error(bad);
        EXPECT_NE(msg.find("checksum"), std::string::npos) << name << ": " << msg;
    }
}

TEST(ModelFile, DatasetIsNotAModel) {
    encore::testing::TempDir dir;
    Dataset d;
    d.users = StringTable::build({"u"});
    d.items = StringTable::build({"i"});
    d.by_user = Csr::from_triplets(1, 1, std::vector<std::int32_t>{0}, std::vector<std::int32_t>{0},
                                   std::vector<float>{1}, 1);
    d.by_item = d.by_user.transpose(1);
    auto path = dir.file("data.encd");
    save_dataset(d, path);
    auto msg = load_error(path);
    EXPECT_NE(msg.find("not an encore model file"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dataset"), std::string::npos) << msg;
    auto text = dir.write("notes.txt", "hello, this is not a model at all");
    EXPECT_NE(load_error(text).find("not an encore model file"), std::string::npos);
    EXPECT_THROW(load_model(dir.file("missing.encm")), Error);
}

TEST(ModelFile, InconsistentMetadataIsRejected) {
    encore::testing::TempDir dir;
    auto path = dir.file("m.encm");
    save_model(make_model(), path);
    auto bad = dir.file("bad.encm");
    struct Case {
        const char* expect;
        std::function<void(nlohmann::json&)> edit;
    };
    std::vector<Case> cases = {
        {"unknown model kind 'mystery'", [](nlohmann::json& j) { j["kind"] = "mystery"; }},
        {"user_factors", [](nlohmann::json& j) { j["n_users"] = 13; }},
        {"item_factors", [](nlohmann::json& j) { j["n_items"] = 8; }},
        {"factor shape", [](nlohmann::json& j) { j["user_stride"] = 10; }},
        {"user_factors", [](nlohmann::json& j) { j["factors"] = 20; j["user_stride"] = 32; j["item_stride"] = 32; }},
        {"'n_users' is missing", [](nlohmann::json& j) { j.erase("n_users"); }},
        {"'n_items' is missing", [](nlohmann::json& j) { j["n_items"] = "nine"; }},
        {"out of range", [](nlohmann::json& j) { j["n_users"] = -1; }},
        {"unknown weighting", [](nlohmann::json& j) { j["weighting"]["kind"] = "bm99"; }},
        {"bad weighting", [](nlohmann::json& j) { j["weighting"]["K1"] = -3; }},
        {"wrong type", [](nlohmann::json& j) { j["regularization"] = "x"; }},
        {"recorded size", [](nlohmann::json& j) { j["nnz"] = 1; }},
    };
    for (const auto& c : cases) {
        rewrite_meta(path, bad, c.edit);
        auto msg = load_error(bad);
        EXPECT_NE(msg.find(c.expect), std::string::npos) << "expected '" << c.expect << "', got: " << msg;
    }
    // Same factor count but the weighting statistics of another item count.
    rewrite_meta(path, bad, [](nlohmann::json& j) { j["weighting"]["kind"] = "tfidf"; });
    EXPECT_NE(load_error(bad).find("weighting.length_norm"), std::string::npos) << load_error(bad);
}

TEST(ModelFile, SaveRejectsInconsistentModels) {
    encore::testing::TempDir dir;
    auto m = make_model();
    m.users = StringTable::build({"only one"});
    EXPECT_THROW(save_model(m, dir.file("x.encm")), Error);
    auto m2 = make_model();
    m2.kind = "mystery";
    EXPECT_THROW(save_model(m2, dir.file("x.encm")), Error);
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.encm")));
}

TEST(ModelFile, RecordedDigestIsTheHashOfTheLoadedFactors) {
    // Checking an index against a loaded model uses the checksum the file records for the item
    // factors (no pass over them); it must equal the hash of the factors themselves, and stop being
    // used once the factors are replaced.
    encore::testing::TempDir dir;
    auto m = make_model();
    const auto expected = checksum64(std::as_bytes(m.item_factors.storage()));
    EXPECT_EQ(item_factors_fingerprint(m), expected);  // not loaded: hashed now
    auto path = dir.file("m.encm");
    save_model(m, path);
    for (bool verify : {true, false}) {
        auto loaded = load_model(path, verify);
        EXPECT_EQ(loaded.item_factors_digest.data, loaded.item_factors.data());
        EXPECT_EQ(item_factors_fingerprint(loaded), expected);
        Model moved = std::move(loaded);  // the digest follows the mapping
        EXPECT_EQ(item_factors_fingerprint(moved), expected);
        moved.item_factors = moved.item_factors.clone();
        moved.item_factors(0, 0) += 1.0f;
        EXPECT_NE(item_factors_fingerprint(moved), expected);
        EXPECT_EQ(item_factors_fingerprint(moved), checksum64(std::as_bytes(moved.item_factors.storage())));
    }
}

TEST(ModelFile, UnverifiedOpenChecksTheIdsAQueryUses) {
    // Without verification the played-item ids are not scanned at load (that would read the whole
    // matrix); a damaged id is caught when a query reads that user's row, never used to index.
    encore::testing::TempDir dir;
    auto m = make_model();
    auto path = dir.file("m.encm");
    save_model(m, path);
    std::string bytes = read_file(path);
    std::size_t at = 0;
    std::int64_t user = -1;
    {
        auto r = ContainerReader::open(path, kModelMagicForTest, kModelVersion);
        auto indptr = r.array<std::int64_t>("user_items.indptr");
        auto indices = r.section("user_items.indices");
        at = static_cast<std::size_t>(indices.data() - r.file()->bytes().data());
        for (std::size_t u = 0; u + 1 < indptr.size(); ++u)
            if (indptr[u + 1] > 0) {
                user = static_cast<std::int64_t>(u);
                break;
            }
    }
    ASSERT_GE(user, 0);
    const std::int32_t bad_id = 1 << 30;
    std::memcpy(bytes.data() + at, &bad_id, sizeof bad_id);  // the first stored entry: user's first item
    auto bad = dir.file("bad.encm");
    write_file(bad, bytes);
    EXPECT_NE(load_error(bad).find("checksum"), std::string::npos);
    auto loaded = load_model(bad, /*verify=*/false);
    try {
        (void)known_user(loaded, user);
        ADD_FAILURE() << "a damaged played-item id was used";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW((void)known_user(loaded, user + 1 < loaded.n_users() ? user + 1 : 0));
}

}  // namespace
}  // namespace encore

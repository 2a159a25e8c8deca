#include "encore/io/container.hpp"

#include <cstring>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "encore/io/atomic_file.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

constexpr Magic kTestMagic = {'T', 'E', 'S', 'T', 'F', 'I', 'L', 'E'};

std::string write_sample(const testing::TempDir& dir) {
    std::vector<float> floats = {1.5f, -2.0f, 3.25f};
    std::vector<std::int64_t> ints(1000);
    for (std::size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<std::int64_t>(i * i);
    ContainerWriter w(kTestMagic, 2);
    w.add_array("floats", std::span<const float>(floats));
    w.add_array("ints", std::span<const std::int64_t>(ints));
    w.add_text("meta", R"({"a": 1})");
    auto path = dir.file("sample.bin");
    w.write(path);
    return path;
}

TEST(Container, RoundTripsSectionsAlignedAndChecked) {
    testing::TempDir dir;
    auto path = write_sample(dir);
    auto r = ContainerReader::open(path, kTestMagic, 2);
    EXPECT_EQ(r.version(), 2u);
    auto f = r.array<float>("floats");
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[2], 3.25f);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f.data()) % 64, 0u);
    auto ints = r.array<std::int64_t>("ints", 1000);
    EXPECT_EQ(ints[999], 999 * 999);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(ints.data()) % 64, 0u);
    EXPECT_EQ(r.text("meta"), R"({"a": 1})");
    EXPECT_TRUE(r.has("meta"));
    EXPECT_FALSE(r.has("nope"));
    EXPECT_THROW(r.section("nope"), FormatError);
    EXPECT_THROW(r.array<std::int64_t>("ints", 999), FormatError);
}

TEST(Container, RejectsWrongMagicAndNewerVersion) {
    testing::TempDir dir;
    auto path = write_sample(dir);
    constexpr Magic other = {'O', 'T', 'H', 'E', 'R', 'M', 'A', 'G'};
    try {
        ContainerReader::open(path, other, 2);
        FAIL() << "expected FormatError";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos) << e.what();
    }
    try {
        ContainerReader::open(path, kTestMagic, 1);
        FAIL() << "expected FormatError";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("version 2 is not supported"), std::string::npos) << e.what();
    }
}

TEST(Container, EveryTruncationIsACleanError) {
    testing::TempDir dir;
    auto path = write_sample(dir);
    std::ifstream in(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    for (std::size_t len : {std::size_t{0}, std::size_t{10}, std::size_t{63}, std::size_t{64}, std::size_t{200},
                            all.size() / 2, all.size() - 1}) {
        auto cut = dir.write("cut.bin", all.substr(0, len));
        EXPECT_THROW(ContainerReader::open(cut, kTestMagic, 2), FormatError) << "length " << len;
    }
}

TEST(Container, EveryFlippedByteIsDetected) {
    testing::TempDir dir;
    auto path = write_sample(dir);
    std::ifstream in(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    // Flip one byte in the header, the table, and each section's payload.
    auto r = ContainerReader::open(path, kTestMagic, 2);
    auto base = reinterpret_cast<const char*>(r.file()->bytes().data());
    std::vector<std::size_t> where = {0, 9, 20, 70, 100,
                                      static_cast<std::size_t>(reinterpret_cast<const char*>(r.section("floats").data()) - base),
                                      static_cast<std::size_t>(reinterpret_cast<const char*>(r.section("ints").data()) - base) + 500,
                                      static_cast<std::size_t>(reinterpret_cast<const char*>(r.section("meta").data()) - base) + 3};
    for (auto pos : where) {
        std::string bad = all;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
        auto p = dir.write("bad.bin", bad);
        EXPECT_THROW(ContainerReader::open(p, kTestMagic, 2), FormatError) << "byte " << pos;
    }
}

TEST(Container, MissingFileNamesThePath) {
    try {
        ContainerReader::open("/nonexistent/x.encm", kTestMagic, 1);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/x.encm"), std::string::npos);
    }
}

TEST(AtomicFile, UncommittedWriteLeavesNoFileAndKeepsTheOld) {
    testing::TempDir dir;
    auto path = dir.write("f.txt", "old");
    {
        AtomicFile f(path);
        f.write("new content");
        // destroyed without commit: e.g. an exception during writing
    }
    std::ifstream in(path);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(s, "old");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
    {
        AtomicFile f(path);
        f.write("new content");
        f.commit();
    }
    std::ifstream in2(path);
    std::string s2((std::istreambuf_iterator<char>(in2)), {});
    EXPECT_EQ(s2, "new content");
}

}  // namespace
}  // namespace encore

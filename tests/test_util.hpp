#pragma once
// Helpers shared by the tests: temp directories, the CLI path, the shared datasets.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "encore/data/csr.hpp"

namespace encore::testing {

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        auto base = std::filesystem::temp_directory_path();
        std::string tmpl = (base / "encore-test-XXXXXX").string();
        char* p = mkdtemp(tmpl.data());
        if (!p) throw std::runtime_error("mkdtemp failed");
        path_ = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string write(const std::string& name, const std::string& content) const {
        auto p = file(name);
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Whether this build runs under AddressSanitizer (GCC defines __SANITIZE_ADDRESS__, clang has the
// feature test): whole-pipeline quality runs skip there, the unit tests cover the same code.
inline constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// ../shared/datasets beside the project root, or "" when absent (tests then GTEST_SKIP()).
inline std::string shared_datasets() {
    auto p = std::filesystem::path(ENCORE_SOURCE_DIR) / ".." / "shared" / "datasets";
    return std::filesystem::exists(p / "lastfm-2k" / "user_artists.dat") ? p.string() : std::string();
}

// Two disjoint taste blocks: users 0..19 play some of items 0..14, users 20..39 some of items 15..29
// (each cell with probability 1/2 from `seed`). Values are 1, or uniform in 1..max_value.
inline Csr two_block_plays(std::uint32_t seed, int max_value = 1) {
    std::mt19937 rng(seed);
    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    for (int u = 0; u < 40; ++u)
        for (int i = 0; i < 15; ++i)
            if (rng() % 2) {
                r.push_back(u);
                c.push_back(i + (u >= 20 ? 15 : 0));
                v.push_back(max_value > 1 ? static_cast<float>(1 + rng() % static_cast<std::uint32_t>(max_value)) : 1.0f);
            }
    return Csr::from_triplets(40, 30, r, c, v, 1);
}

struct CommandResult {
    int status;
    std::string output;  // stdout and stderr together
};

// Runs the encore CLI with the given argument string (shell syntax), capturing its output.
inline CommandResult run_cli(const std::string& args) {
    std::string cmd = std::string(ENCORE_CLI) + " " + args + " 2>&1";
    CommandResult r{0, {}};
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) return {-1, "popen failed"};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
    int st = pclose(pipe);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

}  // namespace encore::testing

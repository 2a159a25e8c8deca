#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>
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

// A loopback port nobody listens on now (bound to 0 and closed: the kernel's choice). Not a listener
// left open: cpp-httplib's bind_to_any_port without listen() keeps its socket, which then shares the
// port through SO_REUSEPORT and takes half the connections.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ::close(fd);
    return ok ? ntohs(addr.sin_port) : -1;
}

// The encore binary run with args (a server listening on `port`), up once ready() answers; killed
// with SIGKILL when destroyed unless kill_with() ended it first.
class ChildProcess {
public:
    ChildProcess(const std::vector<std::string>& args, const std::function<bool()>& ready) {
        // argv is built before fork: the child of a threaded process may only call async-signal-safe
        // functions before exec (no malloc).
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(ENCORE_CLI));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        pid_ = fork();
        if (pid_ == 0) {
            execv(ENCORE_CLI, argv.data());
            _exit(127);
        }
        for (int k = 0; k < 1000; ++k) {
            if (ready()) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        up_ = false;
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() {
        if (pid_ > 0) kill_with(SIGKILL);
    }
    bool up() const { return up_; }
    pid_t pid() const { return pid_; }
    // Sends sig and waits; the wait status.
    int kill_with(int sig) {
        ::kill(pid_, sig);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }

private:
    pid_t pid_ = -1;
    bool up_ = true;
};

}  // namespace encore::testing

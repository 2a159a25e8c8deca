// Radio sessions shared by two serving hosts through a real PostgreSQL server: the test creates a
// throwaway cluster (initdb + pg_ctl in a temporary directory, on a free loopback port), runs two
// `encore serve` processes against it, starts a session on one and continues it on the other, then
// stops the cluster. Skips when PostgreSQL's server programs are not installed (scripts/setup.sh
// installs them, so CI runs it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "encore/kinds/family.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/serve/radio.hpp"
#include "encore/serve/store.hpp"
#include "synth_split.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string pg_bin() {
    if (!fs::exists("/usr/lib/postgresql")) return "";
    for (const auto& v : fs::directory_iterator("/usr/lib/postgresql"))
        if (fs::exists(v.path() / "bin" / "initdb") && fs::exists(v.path() / "bin" / "pg_ctl")) return (v.path() / "bin").string();
    return "";
}

// A PostgreSQL cluster of its own in a temporary directory. PostgreSQL refuses to run as root: as
// root, its programs run as the `postgres` account the Debian package creates.
class Cluster {
public:
    Cluster(const std::string& bin, const std::string& dir) : bin_(bin), dir_(dir), port_(testing::free_port()) {
        as_ = "";
        if (geteuid() == 0) {
            if (!getpwnam("postgres")) return;
            as_ = "runuser -u postgres -- ";
            fs::permissions(fs::path(dir_).parent_path(), fs::perms::others_exec, fs::perm_options::add);
        }
        fs::create_directories(dir_);
        if (geteuid() == 0) std::system(("chown postgres " + dir_).c_str());
        const std::string init = fmt::format("{}{}/initdb -D {}/data -U encore --auth=trust -E UTF8 >{}/initdb.log 2>&1",
                                             as_, bin_, dir_, dir_);
        if (std::system(init.c_str()) != 0) return;
        const std::string start = fmt::format(
            "{}{}/pg_ctl -D {}/data -w -t 60 -l {}/server.log -o \"-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off\" "
            "start >/dev/null 2>&1",
            as_, bin_, dir_, dir_, port_, dir_);
        started_ = std::system(start.c_str()) == 0;
    }
    ~Cluster() {
        if (started_)
            std::system(fmt::format("{}{}/pg_ctl -D {}/data -w -m fast stop >/dev/null 2>&1", as_, bin_, dir_).c_str());
    }
    bool started() const { return started_; }
    std::string uri() const { return fmt::format("postgresql://encore@127.0.0.1:{}/postgres", port_); }
    std::string log() const { return dir_ + "/server.log"; }

private:
    std::string bin_, dir_, as_;
    int port_;
    bool started_ = false;
};

struct Serve : testing::ChildProcess {
    int port;
    Serve(const std::string& store, const std::string& sessions, int p = testing::free_port())
        : testing::ChildProcess({"serve", store, "--port", std::to_string(p), "--sessions", sessions, "--quiet"},
                                [p] {
                                    httplib::Client c("127.0.0.1", p);
                                    auto r = c.Get("/health");
                                    return r && r->status == 200;
                                }),
          port(p) {
        EXPECT_TRUE(up()) << "encore serve did not come up";
    }
    json get(const std::string& path) const {
        httplib::Client c("127.0.0.1", port);
        auto r = c.Get(path.c_str());
        EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no response");
        return r ? json::parse(r->body) : json();
    }
    json post(const std::string& path, const json& body, int want = 200) const {
        httplib::Client c("127.0.0.1", port);
        auto r = c.Post(path.c_str(), body.dump(), "application/json");
        EXPECT_TRUE(r && r->status == want) << path << ": " << (r ? r->body : "no response");
        return r ? json::parse(r->body) : json();
    }
};

TEST(Postgres, TwoServersShareRadioSessions) {
    const auto bin = pg_bin();
    if (bin.empty()) GTEST_SKIP() << "PostgreSQL server programs not installed (scripts/setup.sh installs postgresql)";
    testing::TempDir dir;
    Cluster pg(bin, dir.file("pg"));
    ASSERT_TRUE(pg.started()) << "the throwaway PostgreSQL cluster did not start; see " << pg.log();

    SynthOptions so{.users = 300, .items = 200, .genres = 6, .max_items_per_user = 20, .seed = 8, .threads = 2};
    const auto data = testing::synth_split(dir.file("plays.tsv"), so, 3).all;
    auto o = default_model_options(&model_type("als"));
    o.threads = 2;
    o.als.factors = 8;
    save_model(train_model(data, o, "test"), dir.file("als.encm"));
    PrecomputeOptions po;
    po.models = {dir.file("als.encm")};
    po.radio = 40;
    po.recommendations = 5;
    precompute(po, dir.file("store.db"));
    const auto store = Store::open(dir.file("store.db"));

    Serve a(dir.file("store.db"), pg.uri()), b(dir.file("store.db"), pg.uri());
    EXPECT_NE(a.get("/health")["sessions"].get<std::string>().find("postgresql://encore@127.0.0.1"), std::string::npos);
    const std::string seed(store->item_key(3));
    auto start = a.post("/radio", {{"item", seed}, {"n", 2}, {"seed", 11}}, 201);
    const std::string id = start["session"];
    ASSERT_EQ(start["tracks"].size(), 2u);
    // Host b knows the session and continues it: no repeat of what a played.
    auto more = b.get("/radio/" + id + "/next?n=3");
    ASSERT_EQ(more["tracks"].size(), 3u);
    for (const auto& t : more["tracks"])
        for (const auto& s : start["tracks"]) EXPECT_NE(t["id"], s["id"]);
    // Thumbs down on b, seen by a: the item is banned, a's queue equals b's answer.
    const std::string disliked = more["tracks"][1]["id"];
    auto fb = b.post("/radio/" + id + "/feedback", {{"item", disliked}, {"feedback", "down"}, {"n", 6}});
    auto state = a.get("/radio/" + id + "?n=6");
    EXPECT_EQ(state["played"].size(), 5u);
    EXPECT_EQ(state["queue"], fb["queue"]);
    auto next_a = a.get("/radio/" + id + "/next?n=6");
    EXPECT_EQ(next_a["tracks"], fb["queue"]);
    for (const auto& t : next_a["tracks"]) EXPECT_NE(t["id"], disliked);
    // Both hosts play in turn without ever repeating within the pool (optimistic appends never lose
    // an event: 11 plays so far and 4 x 2 x 2 more, all distinct while the 41-item pool lasts).
    std::set<std::string> seen;
    const json played = b.get("/radio/" + id)["played"];  // named: a loop over a temporary's member dangles
    for (const auto& t : played) EXPECT_TRUE(seen.insert(t["id"]).second);
    for (int k = 0; k < 4; ++k)
        for (const Serve* s : {&a, &b}) {
            const json tracks = s->get("/radio/" + id + "/next?n=2")["tracks"];
            for (const auto& t : tracks) EXPECT_TRUE(seen.insert(t["id"]).second);
        }
    EXPECT_EQ(seen.size(), 27u);
    EXPECT_EQ(b.get("/radio/" + id + "?n=1")["played"].size(), 27u);

    // The library's log directly: an append after a stale event number is refused, not merged.
    auto log = open_postgresql_sessions(pg.uri(), 1);
    std::int64_t last = 0;
    log->events(id, 0, &last);
    EXPECT_EQ(last, 28);  // 27 plays and the thumbs down
    const RadioEvent e{RadioEventKind::skip, seed};
    EXPECT_FALSE(log->append(id, last - 1, std::span(&e, 1)).has_value());
    EXPECT_EQ(log->append(id, last, std::span(&e, 1)), last + 1);
}

}  // namespace
}  // namespace encore

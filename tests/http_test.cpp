// The HTTP API over a real store and a real socket (cpp-httplib's client against the library's
// server): every route's answer against the library's, errors as 4xx JSON, many clients at once, a
// store swapped under load, metrics and OpenAPI; and through the encore binary: feedback acknowledged
// before a kill -9 is there after the restart, and SIGHUP reloads the store.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "encore/kinds/family.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/serve/http.hpp"
#include "encore/serve/recommender.hpp"
#include "encore/serve/store.hpp"
#include "encore/util/error.hpp"
#include "synth_split.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Fixture {
    testing::TempDir dir;
    std::string als, lsa, store;
};

const Fixture& fixture() {
    static const std::unique_ptr<Fixture> f = [] {
        auto f = std::make_unique<Fixture>();
        SynthOptions so{.users = 400, .items = 300, .genres = 6, .max_items_per_user = 20, .seed = 3, .threads = 2};
        const auto data = testing::synth_split(f->dir.file("plays.tsv"), so, 3).all;
        f->als = f->dir.file("als.encm");
        f->lsa = f->dir.file("lsa.encm");
        for (const auto& [kind, path] : {std::pair{"als", f->als}, std::pair{"lsa", f->lsa}}) {
            auto o = default_model_options(&model_type(kind));
            o.threads = 2;
            o.als.factors = o.lsa.factors = 8;
            save_model(train_model(data, o, "test"), path);
        }
        f->store = f->dir.file("store.db");
        PrecomputeOptions po;
        po.models = {f->als, f->lsa};
        po.related = 10;
        po.radio = 30;
        po.recommendations = 10;
        po.candidates = 20;
        precompute(po, f->store);
        return f;
    }();
    return *f;
}

// A server on a free port, run on its own thread for the test's duration.
struct Running {
    std::unique_ptr<Server> server;
    std::thread thread;
    explicit Running(ServerOptions o) {
        o.port = 0;
        o.threads = 4;
        server = std::make_unique<Server>(o, nullptr);
        thread = std::thread([this] { server->run(); });
        httplib::Client c("127.0.0.1", server->port());
        for (int k = 0; k < 200 && !c.Get("/health"); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ~Running() {
        server->stop();
        thread.join();
    }
    httplib::Client client() const {
        httplib::Client c("127.0.0.1", server->port());
        c.set_read_timeout(10);
        return c;
    }
};

json body(const httplib::Result& r) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos);
    return json::parse(r->body);
}

TEST(Http, RoutesAnswerAsTheLibrary) {
    const auto& f = fixture();
    ServerOptions o;
    o.store = f.store;
    o.models = {f.als};
    o.sessions = f.dir.file("routes.sessions");
    Running run(o);
    auto c = run.client();
    const auto store = Store::open(f.store);
    auto live = Recommender::open({.models = {f.als}});

    auto h = body(c.Get("/health"));
    EXPECT_EQ(h["status"], "ok");
    EXPECT_EQ(h["models"], json::array({"ensemble", "als", "lsa"}));
    EXPECT_EQ(h["items"], store->n_items());

    // Search: a name's prefix in another case finds it first among equals, most listeners first.
    const std::string name(store->item_name(5));
    const std::string prefix = name.substr(0, 3);
    std::string shout = prefix;
    for (auto& ch : shout) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    httplib::Params params{{"n", "50"}, {"q", shout}};
    auto s = body(c.Get("/items", params, httplib::Headers{}));
    ASSERT_FALSE(s["results"].empty());
    std::int64_t last = std::numeric_limits<std::int64_t>::max();
    bool found = false;
    for (const auto& r : s["results"]) {
        const std::string n = r["name"];
        if (n.size() >= 3 && strncasecmp(n.c_str(), prefix.c_str(), 3) == 0) {
            const auto listeners = r["listeners"].get<std::int64_t>();
            EXPECT_LE(listeners, last);
            last = listeners;
        }
        found |= r["id"] == std::string(store->item_key(5));
    }
    EXPECT_TRUE(found);

    // Related: the ensemble by default with each member's score, a named model on request.
    const std::string key(store->item_key(7));
    auto rel = body(c.Get(("/items/" + key + "/related?n=4").c_str()));
    EXPECT_EQ(rel["model"], "ensemble");
    EXPECT_EQ(rel["query"]["id"], key);
    const auto want = store->related(0, 7, 4);
    ASSERT_EQ(rel["results"].size(), want.size());
    for (std::size_t k = 0; k < want.size(); ++k) {
        EXPECT_EQ(rel["results"][k]["id"], std::string(store->item_key(want[k].item)));
        EXPECT_TRUE(rel["results"][k]["member_scores"].contains("als"));
        EXPECT_TRUE(rel["results"][k]["member_scores"].contains("lsa"));
    }
    auto rel_lsa = body(c.Get(("/items/" + key + "/related?n=3&model=lsa").c_str()));
    EXPECT_EQ(rel_lsa["model"], "lsa");
    EXPECT_EQ(rel_lsa["results"].size(), 3u);

    // A known user's recommendations, with reasons on request.
    const std::string user(store->user_key(3));
    auto recs = body(c.Get(("/users/" + user + "/recommendations?n=5&explain=true").c_str()));
    ASSERT_EQ(recs["results"].size(), 5u);
    EXPECT_FALSE(recs["results"][0]["because"].empty());
    auto plain = body(c.Get(("/users/" + user + "/recommendations?n=5").c_str()));
    EXPECT_TRUE(plain["results"][0]["because"].empty());

    // A new user, folded in live: the same JSON the library renders for the same query.
    const json req = {{"items", {store->item_key(1), store->item_key(2)}}, {"plays", {3, 1}}, {"n", 5}};
    auto fresh = c.Post("/recommendations", req.dump(), "application/json");
    const std::int32_t items[] = {1, 2};
    const float plays[] = {3, 1};
    json query = {{"items", json::array({live.item_query(1), live.item_query(2)})}};
    EXPECT_EQ(body(fresh), live.to_json(query, live.recommend_items(items, plays, {.n = 5})));

    // Metrics count what was asked; the OpenAPI document lists every route.
    const auto metrics = c.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("encore_http_requests_total{route=\"/items/{key}/related\",method=\"GET\",status=\"200\"} 2"),
              std::string::npos)
        << metrics->body;
    EXPECT_NE(metrics->body.find("encore_http_request_duration_seconds_bucket{route=\"/items\",le=\"+Inf\"} 1"),
              std::string::npos);
    auto api = body(c.Get("/openapi.json"));
    for (const char* p : {"/items", "/items/{key}/related", "/users/{id}/recommendations", "/recommendations", "/radio",
                          "/radio/{id}/next", "/radio/{id}/feedback", "/health", "/metrics"})
        EXPECT_TRUE(api["paths"].contains(p)) << p;
    const auto page = c.Get("/");
    ASSERT_TRUE(page);
    EXPECT_NE(page->body.find("<script src=\"/app.js\">"), std::string::npos);
}

TEST(Http, BadInputGetsA4xxJsonError) {
    const auto& f = fixture();
    ServerOptions o;
    o.store = f.store;
    o.sessions = f.dir.file("errors.sessions");
    o.max_body_bytes = 1024;
    Running run(o);
    auto c = run.client();
    const auto store = Store::open(f.store);
    const std::string item(store->item_key(0)), user(store->user_key(0));
    auto expect = [](const httplib::Result& r, int status, const std::string& message) {
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, status) << r->body;
        const auto j = json::parse(r->body, nullptr, false);
        ASSERT_TRUE(j.is_object()) << r->body;
        EXPECT_EQ(j.value("error", ""), message);
    };
    expect(c.Get("/items/no-such-item/related"), 404, "unknown item 'no-such-item'");
    expect(c.Get(("/items/" + item + "/related?n=0").c_str()), 400, "n must be in [1, 1000], got 0");
    expect(c.Get(("/items/" + item + "/related?n=ten").c_str()), 400, "n must be an integer, got 'ten'");
    expect(c.Get(("/items/" + item + "/related?model=svd").c_str()), 404,
           "unknown model 'svd' (this store has: ensemble, als, lsa)");
    expect(c.Get("/users/nobody/recommendations"), 404, "unknown user 'nobody'");
    expect(c.Get(("/users/" + user + "/recommendations?explain=maybe").c_str()), 400,
           "explain must be true or false, got 'maybe'");
    expect(c.Post("/recommendations", json{{"items", {item}}}.dump(), "application/json"), 409,
           "new users need a live model: start the server with --model MODEL.encm");
    expect(c.Post("/radio", "{not json", "application/json"), 400, "the body is not valid JSON");
    expect(c.Post("/radio", "[1, 2]", "application/json"), 400, "the body must be a JSON object");
    expect(c.Post("/radio", R"({"item": 1.5})", "application/json"), 400, "'item' must be a string");
    expect(c.Post("/radio", json{{"item", item}, {"user", user}}.dump(), "application/json"), 400,
           "give a seed 'item' or a seed 'user' (one of them)");
    expect(c.Post("/radio", json{{"item", item}, {"n", 100000}}.dump(), "application/json"), 400,
           "'n' must be in [1, 1000], got 100000");
    expect(c.Post("/radio", R"({"item": "nothing"})", "application/json"), 404, "unknown item 'nothing'");
    expect(c.Post("/radio", std::string(2000, ' '), "application/json"), 413, "the body is larger than 1024 bytes");
    expect(c.Get("/radio/abc/next"), 404, "unknown radio session 'abc'");
    expect(c.Post("/radio/abc/feedback", json{{"item", item}, {"feedback", "love"}}.dump(), "application/json"), 400,
           "'feedback' must be up, down or skip, got 'love'");
    expect(c.Get("/no/such/route"), 404, "no route GET /no/such/route");
    // Still serving after all of that.
    EXPECT_EQ(c.Get("/health")->status, 200);
}

TEST(Http, ManyClientsAndAStoreSwappedUnderLoad) {
    const auto& f = fixture();
    ServerOptions o;
    o.store = f.dir.file("swap.db");
    fs::copy_file(f.store, o.store, fs::copy_options::overwrite_existing);
    o.sessions = f.dir.file("swap.sessions");
    Running run(o);
    const auto store = Store::open(f.store);
    std::atomic<int> ok{0}, wrong{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 6; ++t)
        clients.emplace_back([&, t] {
            auto c = run.client();
            for (int k = 0; !stop || k < 50; ++k) {
                const auto item = std::string(store->item_key((t * 50 + k) % static_cast<int>(store->n_items())));
                auto r = c.Get(("/items/" + item + "/related?n=5").c_str());
                if (r && r->status == 200 && json::parse(r->body)["results"].size() == 5u)
                    ++ok;
                else
                    ++wrong;
                if (k > 2000) break;
            }
        });
    // A new store (other list lengths) replaces the file; the server swaps it in while clients run.
    PrecomputeOptions po;
    po.models = {f.als};
    po.related = 6;
    po.radio = 10;
    po.recommendations = 3;
    precompute(po, f.dir.file("swap-new.db"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fs::rename(f.dir.file("swap-new.db"), o.store);
    EXPECT_TRUE(run.server->reload_if_changed());
    EXPECT_FALSE(run.server->reload_if_changed());
    stop = true;
    for (auto& t : clients) t.join();
    EXPECT_EQ(wrong, 0);
    EXPECT_GE(ok, 300);
    auto c = run.client();
    auto h = body(c.Get("/health"));
    EXPECT_EQ(h["reloads"], 1);
    EXPECT_EQ(h["models"], json::array({"als"}));
    EXPECT_EQ(body(c.Get(("/items/" + std::string(store->item_key(0)) + "/related?n=50").c_str()))["results"].size(), 6u);
}

// ---- through the encore binary ----

// encore serve as a process, up once /health answers.
struct Child : testing::ChildProcess {
    int port;
    Child(const std::vector<std::string>& args, int p)
        : testing::ChildProcess(args, [p] {
              httplib::Client c("127.0.0.1", p);
              auto r = c.Get("/health");
              return r && r->status == 200;
          }),
          port(p) {
        EXPECT_TRUE(up()) << "encore serve did not come up on port " << port;
    }
};

TEST(Http, AcknowledgedFeedbackSurvivesKill9) {
    const auto& f = fixture();
    const auto sessions = f.dir.file("kill.sessions");
    const auto store = Store::open(f.store);
    const std::string seed(store->item_key(10));
    std::string id;
    json queue_after;
    std::vector<std::string> played;
    {
        const int port = testing::free_port();
        Child server({"serve", f.store, "--port", std::to_string(port), "--sessions", sessions, "--quiet"}, port);
        httplib::Client c("127.0.0.1", port);
        auto start = body(c.Post("/radio", json{{"item", seed}, {"n", 3}, {"seed", 5}}.dump(), "application/json"));
        id = start["session"];
        for (const auto& t : start["tracks"]) played.push_back(t["id"]);
        const std::string liked = played[1];
        auto fb = c.Post(("/radio/" + id + "/feedback").c_str(), json{{"item", liked}, {"feedback", "up"}, {"n", 8}}.dump(),
                         "application/json");
        ASSERT_TRUE(fb);
        ASSERT_EQ(fb->status, 200) << fb->body;
        queue_after = json::parse(fb->body)["queue"];
        const auto down = c.Post(("/radio/" + id + "/feedback").c_str(),
                                 json{{"item", played[2]}, {"feedback", "down"}, {"n", 8}}.dump(), "application/json");
        ASSERT_EQ(down->status, 200);
        queue_after = json::parse(down->body)["queue"];
        const int status = server.kill_with(SIGKILL);
        EXPECT_TRUE(WIFSIGNALED(status));
    }
    const int port = testing::free_port();
    Child server({"serve", f.store, "--port", std::to_string(port), "--sessions", sessions, "--quiet"}, port);
    httplib::Client c("127.0.0.1", port);
    auto state = body(c.Get(("/radio/" + id + "?n=8").c_str()));
    ASSERT_EQ(state["played"].size(), 3u);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(state["played"][k]["id"], played[k]);
    EXPECT_EQ(state["queue"], queue_after);  // both thumbs applied
    auto next = body(c.Get(("/radio/" + id + "/next?n=8").c_str()));
    EXPECT_EQ(next["tracks"], queue_after);
    for (const auto& t : next["tracks"]) EXPECT_NE(t["id"], played[2]) << "a thumbs-down item came back";
}

TEST(Http, SighupReloadsTheStore) {
    const auto& f = fixture();
    const auto path = f.dir.file("hup.db");
    fs::copy_file(f.store, path, fs::copy_options::overwrite_existing);
    const int port = testing::free_port();
    Child server({"serve", path, "--port", std::to_string(port), "--no-watch", "--quiet", "--sessions",
                  f.dir.file("hup.sessions")},
                 port);
    httplib::Client c("127.0.0.1", port);
    EXPECT_EQ(body(c.Get("/health"))["reloads"], 0);
    ::kill(server.pid(), SIGHUP);
    for (int k = 0; k < 200 && body(c.Get("/health"))["reloads"] == 0; ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(body(c.Get("/health"))["reloads"], 1);
    const int status = server.kill_with(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status)) << "SIGTERM should stop the server cleanly";
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace encore

#include "encore/serve/http.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "encore/serve/page.hpp"
#include "encore/serve/radio.hpp"
#include "encore/serve/recommender.hpp"
#include "encore/serve/store.hpp"
#include "encore/util/error.hpp"
#include "encore/util/json.hpp"
#include "encore/util/json_writer.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

using json = nlohmann::json;

// A request the client got wrong: its status and a message for a person.
struct HttpError {
    int status;
    std::string message;
};

[[noreturn]] void bad(int status, std::string message) { throw HttpError{status, std::move(message)}; }

// ---- metrics: requests by route, method and status; latency histograms by route ----

constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

class Metrics {
public:
    void record(const std::string& route, const std::string& method, int status, double seconds) {
        std::lock_guard lock(mutex_);
        ++counts_[{route, method, status}];
        auto& h = latency_[route];
        for (std::size_t b = 0; b < kBuckets.size(); ++b)
            if (seconds <= kBuckets[b]) ++h.buckets[b];
        ++h.count;
        h.sum += seconds;
    }
    std::string text() const {
        std::lock_guard lock(mutex_);
        std::string out =
            "# HELP encore_http_requests_total HTTP requests answered, by route, method and status.\n"
            "# TYPE encore_http_requests_total counter\n";
        for (const auto& [k, n] : counts_)
            out += fmt::format("encore_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                               std::get<0>(k), std::get<1>(k), std::get<2>(k), n);
        out +=
            "# HELP encore_http_request_duration_seconds Time from routing to the response, by route.\n"
            "# TYPE encore_http_request_duration_seconds histogram\n";
        for (const auto& [route, h] : latency_) {
            for (std::size_t b = 0; b < kBuckets.size(); ++b)
                out += fmt::format("encore_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route,
                                   kBuckets[b], h.buckets[b]);
            out += fmt::format("encore_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, h.count);
            out += fmt::format("encore_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
            out += fmt::format("encore_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
        }
        return out;
    }

private:
    struct Histogram {
        std::array<std::uint64_t, kBuckets.size()> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mutex_;
    std::map<std::tuple<std::string, std::string, int>, std::uint64_t> counts_;
    std::map<std::string, Histogram> latency_;
};

// ---- request parsing ----

int int_param(const httplib::Request& req, const char* name, int fallback, int lo, int hi) {
    if (!req.has_param(name)) return fallback;
    const std::string v = req.get_param_value(name);
    int x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || p != v.data() + v.size())
        bad(400, fmt::format("{} must be an integer, got '{}'", name, v));
    if (x < lo || x > hi) bad(400, fmt::format("{} must be in [{}, {}], got {}", name, lo, hi, x));
    return x;
}

bool bool_param(const httplib::Request& req, const char* name, bool fallback) {
    if (!req.has_param(name)) return fallback;
    const std::string v = req.get_param_value(name);
    if (v == "true" || v == "1" || v.empty()) return true;
    if (v == "false" || v == "0") return false;
    bad(400, fmt::format("{} must be true or false, got '{}'", name, v));
}

json body_json(const httplib::Request& req) {
    if (req.body.empty()) bad(400, "the request needs a JSON body");
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) bad(400, "the body is not valid JSON");
    if (!j.is_object()) bad(400, "the body must be a JSON object");
    return j;
}

std::string string_field(const json& j, const char* name) {
    if (!j.contains(name)) bad(400, fmt::format("'{}' is missing", name));
    const auto& v = j[name];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
    bad(400, fmt::format("'{}' must be a string", name));
}

int int_field(const json& j, const char* name, int fallback, int lo, int hi) {
    if (!j.contains(name)) return fallback;
    const auto& v = j[name];
    if (!v.is_number_integer()) bad(400, fmt::format("'{}' must be an integer", name));
    const auto x = v.get<std::int64_t>();
    if (x < lo || x > hi) bad(400, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, x));
    return static_cast<int>(x);
}

// ---- rendering (the JSON contract of docs/api.md) ----

json item_ref(const Store& s, std::int32_t i) {
    return {{"id", std::string(s.item_key(i))}, {"name", std::string(s.item_name(i))}};
}

JsonWriter& write_item_ref(JsonWriter& w, const Store& s, std::int32_t i) {
    return w.raw("{").key("id").string(s.item_key(i)).raw(",").key("name").string(s.item_name(i)).raw("}");
}

json items_json(const Store& s, const std::vector<std::int32_t>& items) {
    json a = json::array();
    for (auto i : items) a.push_back(item_ref(s, i));
    return a;
}

}  // namespace

struct Server::Impl {
    ServerOptions options;
    Reporter* reporter = nullptr;
    std::shared_ptr<const Store> store;  // swapped whole on reload; read with std::atomic_load
    std::optional<Recommender> live;
    std::unique_ptr<RadioService> radio;
    httplib::Server http;
    Metrics metrics;
    int port = 0;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::mutex reload_mutex;
    struct stat store_stat {};
    std::atomic<std::uint64_t> reloads{0};

    std::shared_ptr<const Store> current() const { return std::atomic_load(&store); }

    // Runs a handler: HttpError -> its status, encore::Error -> 400 (404 for unknown ids), anything
    // else -> 500; every answer is JSON (or the page), counted in the metrics under its route.
    template <typename F>
    httplib::Server::Handler route(std::string name, F f) {
        return [this, name = std::move(name), f](const httplib::Request& req, httplib::Response& res) {
            const auto t0 = std::chrono::steady_clock::now();
            try {
                f(req, res);
            } catch (const HttpError& e) {
                reply_error(res, e.status, e.message);
            } catch (const RadioService::NotFound& e) {
                reply_error(res, 404, e.what());
            } catch (const Error& e) {
                const std::string what = e.what();
                reply_error(res, what.rfind("unknown ", 0) == 0 ? 404 : 400, what);
            } catch (const std::exception& e) {
                reply_error(res, 500, fmt::format("internal error: {}", e.what()));
            }
            metrics.record(name, req.method, res.status < 0 ? 200 : res.status,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        };
    }

    static void reply(httplib::Response& res, const json& j, int status = 200) {
        res.status = status;
        res.set_content(json_text(j), "application/json");
    }
    static void reply_error(httplib::Response& res, int status, const std::string& message) {
        reply(res, {{"error", message}}, status);
    }

    std::int32_t item_of(const Store& s, const std::string& key) const {
        const auto i = s.find_item(key);
        if (i < 0) bad(404, fmt::format("unknown item '{}'", key));
        return i;
    }

    json radio_json(const Store& s, const RadioReply& r) const {
        json j = {{"session", r.session}, {"tracks", items_json(s, r.items)}};
        if (r.feedback_item) j["item"] = item_ref(s, *r.feedback_item);
        return j;
    }

    void routes();
};

void Server::Impl::routes() {
    const int max_n = options.max_n;

    http.Get(R"(/items/([^/]+)/related)",
             route("/items/{key}/related", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                 const auto s = current();
                 const auto item = item_of(*s, req.matches[1]);
                 const int n = int_param(req, "n", 10, 1, max_n);
                 const StoredModel* model = &s->default_model();
                 if (req.has_param("model")) {
                     const std::string name = req.get_param_value("model");
                     model = s->find_model(name);
                     if (!model) {
                         std::string known;
                         for (const auto& m : s->models()) known += (known.empty() ? "" : ", ") + m.name;
                         bad(404, fmt::format("unknown model '{}' (this store has: {})", name, known));
                     }
                 }
                 // Written directly (the hot path); the same text nlohmann would dump, keys sorted.
                 std::string out;
                 out.reserve(256 + 128 * static_cast<std::size_t>(n));
                 JsonWriter w(out);
                 w.raw("{").key("model").string(model->name).raw(",").key("query");
                 write_item_ref(w, *s, item).raw(",").key("results").raw("[");
                 bool first = true;
                 for (const auto& r : s->related(model->id, item, n)) {
                     w.raw(first ? "{" : ",{").key("because").raw("[],").key("id").string(s->item_key(r.item));
                     if (!r.member_scores.empty()) {
                         w.raw(",").key("member_scores").raw("{");
                         // Member names in sorted order (the object's key order in nlohmann's dump).
                         std::vector<std::pair<std::string_view, float>> members;
                         for (std::size_t m = 0; m < r.member_scores.size() && m + 1 < s->models().size(); ++m)
                             members.emplace_back(s->models()[m + 1].name, r.member_scores[m]);
                         std::sort(members.begin(), members.end());
                         for (std::size_t m = 0; m < members.size(); ++m) {
                             if (m) w.raw(",");
                             w.key(members[m].first).number(members[m].second);
                         }
                         w.raw("}");
                     }
                     w.raw(",").key("name").string(s->item_name(r.item)).raw(",").key("score").number(r.score).raw("}");
                     first = false;
                 }
                 w.raw("]}");
                 res.status = 200;
                 res.set_content(std::move(out), "application/json");
             }));

    http.Get(R"(/users/([^/]+)/recommendations)",
             route("/users/{id}/recommendations", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                 const auto s = current();
                 const std::string key = req.matches[1];
                 const auto user = s->find_user(key);
                 if (user < 0) bad(404, fmt::format("unknown user '{}'", key));
                 const int n = int_param(req, "n", 10, 1, max_n);
                 const bool explain = bool_param(req, "explain", false);
                 std::string out;
                 out.reserve(256 + (explain ? 512 : 128) * static_cast<std::size_t>(n));
                 JsonWriter w(out);
                 w.raw("{").key("query").raw("{").key("id").string(key).raw(",").key("name").string(key);
                 w.raw("},").key("results").raw("[");
                 bool first = true;
                 for (const auto& r : s->recommendations(user, n)) {
                     w.raw(first ? "{" : ",{").key("because").raw("[");
                     if (explain)
                         for (std::size_t b = 0; b < r.because.size(); ++b) {
                             w.raw(b ? ",{" : "{").key("id").string(s->item_key(r.because[b].item));
                             w.raw(",").key("name").string(s->item_name(r.because[b].item));
                             w.raw(",").key("score").number(r.because[b].score).raw("}");
                         }
                     w.raw("],").key("id").string(s->item_key(r.item)).raw(",").key("name").string(s->item_name(r.item));
                     w.raw(",").key("score").number(r.score).raw("}");
                     first = false;
                 }
                 w.raw("]}");
                 res.status = 200;
                 res.set_content(std::move(out), "application/json");
             }));

    http.Get("/items", route("/items", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                 const auto s = current();
                 const int n = int_param(req, "n", 10, 1, max_n);
                 const std::string q = req.has_param("q") ? req.get_param_value("q") : "";
                 json results = json::array();
                 for (auto i : s->search(q, n)) {
                     auto j = item_ref(*s, i);
                     j["listeners"] = s->listeners(i);
                     results.push_back(j);
                 }
                 reply(res, {{"query", q}, {"results", results}});
             }));

    http.Post("/recommendations", route("/recommendations", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                  if (!live)
                      bad(409, "new users need a live model: start the server with --model MODEL.encm");
                  const json body = body_json(req);
                  if (!body.contains("items") || !body["items"].is_array() || body["items"].empty())
                      bad(400, "'items' must be a non-empty array of item ids");
                  if (body["items"].size() > 10000) bad(400, "'items' may list at most 10000 items");
                  std::vector<std::int32_t> items;
                  for (const auto& v : body["items"]) {
                      if (!v.is_string() && !v.is_number_integer()) bad(400, "'items' must hold item ids (strings)");
                      const std::string key = v.is_string() ? v.get<std::string>() : std::to_string(v.get<std::int64_t>());
                      try {
                          items.push_back(live->item(key));
                      } catch (const Error& e) {
                          bad(404, e.what());
                      }
                  }
                  std::vector<float> plays;
                  if (body.contains("plays")) {
                      if (!body["plays"].is_array()) bad(400, "'plays' must be an array of numbers");
                      for (const auto& v : body["plays"]) {
                          if (!v.is_number()) bad(400, "'plays' must be an array of numbers");
                          const double p = v.get<double>();
                          if (!(p > 0) || !std::isfinite(p)) bad(400, "'plays' must be positive numbers");
                          plays.push_back(static_cast<float>(p));
                      }
                      if (plays.size() != items.size())
                          bad(400, fmt::format("{} items but {} plays", items.size(), plays.size()));
                  }
                  const int n = int_field(body, "n", 10, 1, max_n);
                  const int explain = body.contains("explain") && body["explain"].is_boolean() && body["explain"].get<bool>() ? 3 : 0;
                  const auto recs = live->recommend_items(items, plays, {.n = n, .explain = explain});
                  json query = {{"items", json::array()}};
                  for (auto i : items) query["items"].push_back(live->item_query(i));
                  reply(res, live->to_json(query, recs));
              }));

    http.Post("/radio", route("/radio", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                  const auto s = current();
                  const json body = body_json(req);
                  const bool has_item = body.contains("item"), has_user = body.contains("user");
                  if (has_item == has_user) bad(400, "give a seed 'item' or a seed 'user' (one of them)");
                  std::optional<std::uint64_t> seed;
                  if (body.contains("seed")) {
                      if (!body["seed"].is_number_unsigned()) bad(400, "'seed' must be a non-negative integer");
                      seed = body["seed"].get<std::uint64_t>() & ((std::uint64_t{1} << 52) - 1);
                  }
                  bool shuffle = true;
                  if (body.contains("shuffle")) {
                      if (!body["shuffle"].is_boolean()) bad(400, "'shuffle' must be true or false");
                      shuffle = body["shuffle"].get<bool>();
                  }
                  const int n = int_field(body, "n", 10, 1, max_n);
                  const std::string seed_id = string_field(body, has_item ? "item" : "user");
                  if (has_item && s->find_item(seed_id) < 0) bad(404, fmt::format("unknown item '{}'", seed_id));
                  if (has_user && s->find_user(seed_id) < 0) bad(404, fmt::format("unknown user '{}'", seed_id));
                  const auto r = radio->start(*s, has_item ? "item" : "user", seed_id, seed, shuffle, n);
                  reply(res, radio_json(*s, r), 201);
              }));

    http.Get(R"(/radio/([^/]+)/next)", route("/radio/{id}/next", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                 const auto s = current();
                 const int n = int_param(req, "n", 10, 1, max_n);
                 reply(res, radio_json(*s, radio->next(*s, req.matches[1], n)));
             }));

    http.Post(R"(/radio/([^/]+)/feedback)",
              route("/radio/{id}/feedback", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                  const auto s = current();
                  const json body = body_json(req);
                  const std::string item = string_field(body, "item");
                  const std::string kind = string_field(body, "feedback");
                  const auto k = parse_radio_feedback(kind);
                  if (!k) bad(400, fmt::format("'feedback' must be up, down or skip, got '{}'", kind));
                  if (s->find_item(item) < 0) bad(404, fmt::format("unknown item '{}'", item));
                  const int n = int_field(body, "n", 10, 1, max_n);
                  auto r = radio->feedback(*s, req.matches[1], item, *k, n);
                  json j = radio_json(*s, r);
                  j["feedback"] = kind;
                  j["queue"] = j["tracks"];
                  j.erase("tracks");
                  reply(res, j);
              }));

    http.Get(R"(/radio/([^/]+))", route("/radio/{id}", [this, max_n](const httplib::Request& req, httplib::Response& res) {
                 const auto s = current();
                 reply(res, radio->describe(*s, req.matches[1], int_param(req, "n", 10, 1, max_n)));
             }));

    // Matched in this order (a regular expression each): the lookups first.
    http.Get("/health", route("/health", [this](const httplib::Request&, httplib::Response& res) {
                 const auto s = current();
                 json models = json::array();
                 for (const auto& m : s->models()) models.push_back(m.name);
                 reply(res, {{"status", "ok"},
                             {"store", s->path()},
                             {"items", s->n_items()},
                             {"users", s->n_users()},
                             {"models", models},
                             {"live_models", live ? live->members() : 0},
                             {"sessions", radio->log().describe()},
                             {"reloads", reloads.load()},
                             {"uptime_seconds",
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
             }));
    http.Get("/metrics", route("/metrics", [this](const httplib::Request&, httplib::Response& res) {
                 res.set_content(metrics.text(), "text/plain; version=0.0.4");
             }));
    http.Get("/openapi.json", route("/openapi.json", [](const httplib::Request&, httplib::Response& res) {
                 res.set_content(std::string(openapi_json()), "application/json");
             }));
    for (const auto& [path, content, type] : page_files())
        http.Get(std::string(path), route(std::string(path), [content, type](const httplib::Request&, httplib::Response& res) {
                     res.set_content(std::string(content), std::string(type));
                 }));

    // What httplib answers itself (no route, body too large, bad request line) is JSON too.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string message = res.status == 404   ? fmt::format("no route {} {}", req.method, req.path)
                              : res.status == 413 ? fmt::format("the body is larger than {} bytes", options.max_body_bytes)
                              : res.status == 405 ? fmt::format("{} is not allowed here", req.method)
                                                  : fmt::format("HTTP {}", res.status);
        reply_error(res, res.status, message);
        if (res.status == 404) metrics.record("(no route)", req.method, 404, 0);
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        reply_error(res, 500, "internal error");
    });
}

Server::Server(const ServerOptions& o, Reporter* reporter) : impl_(std::make_unique<Impl>()) {
    auto& m = *impl_;
    m.options = o;
    m.reporter = reporter;
    if (o.max_n < 1) throw OptionError(fmt::format("max-n must be at least 1, got {}", o.max_n));
    if (o.threads < 0) throw OptionError(fmt::format("threads must be 0 (all cores) or more, got {}", o.threads));
    m.store = Store::open(o.store);
    ::stat(o.store.c_str(), &m.store_stat);
    if (!o.models.empty()) {
        m.live = Recommender::open({.models = o.models, .verify = o.verify});
        const Store& s = *m.store;
        if (m.live->model().n_items() != s.n_items() || s.n_items() == 0 ||
            m.live->item_key(0) != s.item_key(0) || m.live->item_key(static_cast<std::int32_t>(s.n_items() - 1)) !=
                                                       s.item_key(static_cast<std::int32_t>(s.n_items() - 1)))
            fail("{}: the live model's items are not the store's (precompute the store from this model)", o.models.front());
    }
    const std::string sessions = o.sessions.empty() ? o.store + ".sessions" : o.sessions;
    if (sessions.rfind("postgresql://", 0) == 0 || sessions.rfind("postgres://", 0) == 0)
        m.radio = std::make_unique<RadioService>(open_postgresql_sessions(sessions, o.session_connections));
    else
        m.radio = std::make_unique<RadioService>(open_sqlite_sessions(sessions, o.full_sync));

    const int threads = o.threads > 0 ? o.threads : std::max(16, 4 * resolve_threads(0));
    m.http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    m.http.set_payload_max_length(o.max_body_bytes);
    m.http.set_tcp_nodelay(true);  // without it, a response waits for the delayed ACK (40 ms on Linux)
    m.http.set_keep_alive_max_count(1000000);
    m.http.set_keep_alive_timeout(5);  // an idle connection gives its thread back after 5 s
    m.http.set_read_timeout(10);
    m.http.set_write_timeout(10);
    m.routes();
    if (o.port == 0) {
        m.port = m.http.bind_to_any_port(o.host);
        if (m.port < 0) fail("cannot bind {} to a free port", o.host);
    } else {
        if (!m.http.bind_to_port(o.host, o.port)) fail("cannot bind {}:{} (in use, or not allowed)", o.host, o.port);
        m.port = o.port;
    }
}

Server::~Server() = default;

int Server::port() const { return impl_->port; }

void Server::run() {
    report(impl_->reporter, fmt::format("serving {} ({} items, {} users) on http://{}:{}/ with {} threads; sessions in {}",
                                        impl_->options.store, impl_->current()->n_items(), impl_->current()->n_users(),
                                        impl_->options.host, impl_->port,
                                        impl_->options.threads > 0 ? impl_->options.threads : std::max(16, 4 * resolve_threads(0)),
                                        impl_->radio->log().describe()));
    std::atomic<bool> done{false};
    std::thread watcher;
    if (impl_->options.watch)
        watcher = std::thread([&] {
            while (!done) {
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
                if (!done) reload_if_changed();
            }
        });
    const bool listened = impl_->http.listen_after_bind();
    done = true;
    if (watcher.joinable()) watcher.join();
    if (!listened) fail("the server stopped listening on port {}", impl_->port);
}

void Server::stop() { impl_->http.stop(); }

bool Server::reload() {
    auto& m = *impl_;
    std::lock_guard lock(m.reload_mutex);
    try {
        auto fresh = Store::open(m.options.store);
        ::stat(m.options.store.c_str(), &m.store_stat);
        std::atomic_store(&m.store, std::shared_ptr<const Store>(std::move(fresh)));
        ++m.reloads;
        report(m.reporter, fmt::format("reloaded {} ({} items, {} users)", m.options.store, m.current()->n_items(),
                                       m.current()->n_users()));
        return true;
    } catch (const Error& e) {
        report(m.reporter, fmt::format("reload failed, still serving the previous store: {}", e.what()));
        return false;
    }
}

bool Server::reload_if_changed() {
    auto& m = *impl_;
    struct stat now {};
    if (::stat(m.options.store.c_str(), &now) != 0) return false;
    bool changed;
    {
        std::lock_guard lock(m.reload_mutex);
        changed = now.st_ino != m.store_stat.st_ino || now.st_mtim.tv_sec != m.store_stat.st_mtim.tv_sec ||
                  now.st_mtim.tv_nsec != m.store_stat.st_mtim.tv_nsec || now.st_size != m.store_stat.st_size;
    }
    if (!changed) return false;
    if (reload()) return true;
    std::lock_guard lock(m.reload_mutex);
    m.store_stat = now;  // not again until the file changes once more
    return false;
}

}  // namespace encore

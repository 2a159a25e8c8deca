#include "encore/serve/store.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <xxhash.h>

#include "encore/data/string_table.hpp"
#include "encore/io/sqlite.hpp"
#include "encore/util/clock.hpp"
#include "encore/retrieval/lookup.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/serve/recommender.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDefaultSlice = 2048;

// ---- the schema (docs/formats.md, "Store") ----

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, file TEXT NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    idx INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, listeners INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (idx INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS related (
    model INTEGER NOT NULL, item INTEGER NOT NULL, rank INTEGER NOT NULL, other INTEGER NOT NULL,
    score REAL NOT NULL, member_scores TEXT, PRIMARY KEY (model, item, rank)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS radio (item INTEGER PRIMARY KEY, neighbours BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS recommendations (user INTEGER PRIMARY KEY, results BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS progress (phase TEXT NOT NULL, slice INTEGER NOT NULL, PRIMARY KEY (phase, slice))
    WITHOUT ROWID;
)sql";


// What identifies an input file for a resumed run: its size and a hash of its first 64 KiB (an encore
// container's header and section table, which carry every section's checksum).
nlohmann::json file_identity(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot read", path);
    std::vector<char> head(64 * 1024);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    return {{"file", fs::absolute(path).lexically_normal().string()},
            {"bytes", fs::file_size(path)},
            {"head_xxh3", fmt::format("{:016x}", XXH3_64bits(head.data(), head.size()))}};
}

// Little-endian packing of the stored lists (x86 and ARM are little-endian; the static_assert keeps
// a big-endian port from writing them silently wrong).
static_assert(std::endian::native == std::endian::little, "the store's lists are little-endian");

void put(std::vector<std::byte>& out, std::int32_t id, float score) {
    const auto at = out.size();
    out.resize(at + 8);
    std::memcpy(out.data() + at, &id, 4);
    std::memcpy(out.data() + at + 4, &score, 4);
}

StoredItem get(std::span<const std::byte> in, std::size_t k) {
    StoredItem s{};
    std::memcpy(&s.item, in.data() + 8 * k, 4);
    std::memcpy(&s.score, in.data() + 8 * k + 4, 4);
    return s;
}

std::string model_name(const std::string& path) { return fs::path(path).stem().string(); }

// ---- precompute ----

// The Recommenders a store is computed with: one per model (with the indexes built from it), and the
// ensemble's when there are several models or an ensemble file.
struct Sources {
    std::vector<std::string> names;              // per member
    std::vector<Recommender> members;            // each model alone
    std::optional<Recommender> ensemble;         // several models
    int radio_member = 0;                        // whose neighbours are the radio lists
    const Recommender& first() const { return members.front(); }
    const Recommender& recommending() const { return ensemble ? *ensemble : members.front(); }
};

Sources open_sources(const PrecomputeOptions& o) {
    Sources s;
    std::vector<std::vector<std::string>> member_indexes(o.models.size());
    std::vector<Model> heads;  // the models' headers, to match indexes (mapped, not read)
    for (const auto& path : o.models) heads.push_back(load_model(path, false));
    for (const auto& path : o.indexes) {
        auto index = open_index(path, false);
        bool matched = false;
        for (std::size_t m = 0; m < heads.size() && !matched; ++m)
            if (heads[m].has_factors() && index->size() == heads[m].n_items() && index->dim() == heads[m].factors() &&
                index->source_fingerprint() == item_factors_fingerprint(heads[m])) {
                member_indexes[m].push_back(path);
                matched = true;
            }
        if (!matched) fail("{}: this index was built from none of the models given (rebuild it with encore index)", path);
    }
    heads.clear();
    std::vector<std::string> seen;
    for (std::size_t m = 0; m < o.models.size(); ++m) {
        std::string name = model_name(o.models[m]);
        for (int k = 2; std::find(seen.begin(), seen.end(), name) != seen.end(); ++k)
            name = fmt::format("{}-{}", model_name(o.models[m]), k);
        if (name == "ensemble") name = "ensemble-model";
        seen.push_back(name);
        s.names.push_back(name);
        s.members.push_back(Recommender::open(
            {.models = {o.models[m]}, .indexes = member_indexes[m], .verify = o.verify, .threads = o.threads}));
    }
    if (o.models.size() > 1 || !o.ensemble.empty())
        s.ensemble = Recommender::open({.models = o.models,
                                        .ensemble = o.ensemble,
                                        .candidates = o.candidates,
                                        .verify = o.verify,
                                        .threads = o.threads});
    // Radio: the first model with a cosine index (the fast path Spotify's radio uses), else the first
    // model with factors, else the first.
    s.radio_member = -1;
    for (std::size_t m = 0; m < s.members.size() && s.radio_member < 0; ++m)
        if (s.members[m].index(true)) s.radio_member = static_cast<int>(m);
    for (std::size_t m = 0; m < s.members.size() && s.radio_member < 0; ++m)
        if (s.members[m].model().has_factors()) s.radio_member = static_cast<int>(m);
    if (s.radio_member < 0) s.radio_member = 0;
    return s;
}

nlohmann::json plan_of(const PrecomputeOptions& o, std::int64_t slice) {
    nlohmann::json plan = {{"version", kStoreVersion},
                           {"related", o.related},
                           {"radio", o.radio},
                           {"recommendations", o.recommendations},
                           {"because", o.because},
                           {"candidates", o.candidates},
                           {"search", o.search},
                           {"slice", slice},
                           {"models", nlohmann::json::array()},
                           {"indexes", nlohmann::json::array()}};
    for (const auto& m : o.models) plan["models"].push_back(file_identity(m));
    for (const auto& i : o.indexes) plan["indexes"].push_back(file_identity(i));
    plan["ensemble"] = o.ensemble.empty() ? nlohmann::json() : file_identity(o.ensemble);
    return plan;
}

// One slice of items: every stored model's related lists and the radio lists.
struct ItemSlice {
    std::int64_t first = 0, count = 0;
    std::vector<std::vector<std::vector<Recommendation>>> related;  // [stored model][k]
    std::vector<std::vector<std::vector<float>>> member_scores;     // ensemble rows: [k][rank] -> members
    std::vector<std::vector<Recommendation>> radio;                 // [k]
};

struct UserSlice {
    std::int64_t first = 0, count = 0;
    std::vector<std::vector<Recommendation>> recommendations;  // with because
};

class Precompute {
public:
    Precompute(const PrecomputeOptions& o, Sources& s, std::int64_t slice) : o_(o), s_(s), slice_(slice) {
        // Stored models: the ensemble first (id 0) when there is one, then every member.
        if (s_.ensemble) stored_.push_back(&*s_.ensemble);
        for (auto& m : s_.members) stored_.push_back(&m);
    }

    ItemSlice items(std::int64_t first, std::int64_t count) const {
        ItemSlice out;
        out.first = first;
        out.count = count;
        const Batch b{.threads = o_.threads, .first = first, .count = count};
        const Recommender* radio = o_.radio > 0 ? &s_.members[static_cast<std::size_t>(s_.radio_member)] : nullptr;
        if (radio) out.radio = radio->related_batch({}, {.n = std::max(o_.radio, o_.related), .search = search(o_.radio)}, b);
        for (const Recommender* r : stored_) {
            if (r == radio) {
                // The same model's related items are the head of its radio list (one search, not two).
                auto& lists = out.related.emplace_back(out.radio.size());
                for (std::size_t k = 0; k < out.radio.size(); ++k) {
                    const auto& src = out.radio[k];
                    lists[k].assign(src.begin(), src.begin() + std::min<std::ptrdiff_t>(o_.related, std::ssize(src)));
                }
            } else {
                out.related.push_back(r->related_batch({}, {.n = o_.related, .search = search(o_.related)}, b));
            }
        }
        if (radio && o_.radio < o_.related)
            for (auto& l : out.radio) l.resize(std::min<std::size_t>(l.size(), static_cast<std::size_t>(o_.radio)));
        if (s_.ensemble) {
            // Each member's own score of every ensemble result, so a page can show why it ranks there.
            const auto& lists = out.related.front();
            out.member_scores.resize(lists.size());
            const int threads = resolve_threads(o_.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
            for (std::int64_t k = 0; k < static_cast<std::int64_t>(lists.size()); ++k) {
                const auto item = static_cast<std::int32_t>(first + k);
                for (const auto& r : lists[static_cast<std::size_t>(k)]) {
                    std::vector<float> scores;
                    for (const auto& m : s_.members) scores.push_back(static_cast<float>(m.similarity(item, r.id)));
                    out.member_scores[static_cast<std::size_t>(k)].push_back(std::move(scores));
                }
            }
        }
        return out;
    }

    UserSlice users(std::int64_t first, std::int64_t count) const {
        UserSlice out;
        out.first = first;
        out.count = count;
        const Recommender& r = s_.recommending();
        out.recommendations = r.recommend_batch(
            {}, {.n = o_.recommendations, .search = search(o_.recommendations)},
            {.threads = o_.threads, .first = first, .count = count});
        if (o_.because > 0) {
            const int threads = resolve_threads(o_.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
            for (std::int64_t k = 0; k < count; ++k) {
                auto& recs = out.recommendations[static_cast<std::size_t>(k)];
                if (recs.empty()) continue;
                std::vector<std::int32_t> ids;
                for (const auto& rec : recs) ids.push_back(rec.id);
                auto because = s_.first().explain(static_cast<std::int32_t>(first + k), ids, o_.because);
                for (std::size_t j = 0; j < recs.size(); ++j) recs[j].because = std::move(because[j]);
            }
        }
        return out;
    }

    std::size_t stored_models() const { return stored_.size(); }

private:
    // An index answers a list of n with a search effort of at least n.
    int search(int n) const { return o_.search > 0 ? std::max(o_.search, n) : 0; }

    const PrecomputeOptions& o_;
    Sources& s_;
    std::int64_t slice_;
    std::vector<const Recommender*> stored_;
};

void check_options(const PrecomputeOptions& o) {
    if (o.models.empty()) throw OptionError("models: give at least one model file");
    if (o.related < 1 || o.related > 10000) throw OptionError(fmt::format("related must be in [1, 10000], got {}", o.related));
    if (o.radio < 0 || o.radio > 10000) throw OptionError(fmt::format("radio must be in [0, 10000], got {}", o.radio));
    if (o.recommendations < 0 || o.recommendations > 10000)
        throw OptionError(fmt::format("recommendations must be in [0, 10000], got {}", o.recommendations));
    if (o.because < 0 || o.because > 100) throw OptionError(fmt::format("because must be in [0, 100], got {}", o.because));
    if (o.slice < 0) throw OptionError(fmt::format("slice must be at least 1 (0 = automatic), got {}", o.slice));
    if (o.threads < 0) throw OptionError(fmt::format("threads must be 0 (all cores) or more, got {}", o.threads));
}

void write_catalog(SqliteDb& db, const Sources& s, const PrecomputeOptions& o, const nlohmann::json& plan) {
    const Model& m = s.first().model();
    SqliteTransaction tx(db);
    auto meta = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
    auto set = [&](std::string_view k, const std::string& v) {
        meta.bind(1, k).bind(2, std::string_view(v)).run();
    };
    set("format", "encore-store");
    set("version", std::to_string(kStoreVersion));
    set("encore_version", ENCORE_VERSION);
    set("created", utc_now());
    set("plan", plan.dump());
    set("related", std::to_string(o.related));
    set("radio", std::to_string(o.radio));
    set("recommendations", std::to_string(o.recommendations));
    set("because", std::to_string(o.because));
    set("radio_model", s.names[static_cast<std::size_t>(s.radio_member)]);
    set("default_model", s.ensemble ? "ensemble" : s.names.front());
    set("recommended_by", s.ensemble ? "ensemble" : s.names.front());

    auto models = db.prepare("INSERT INTO models (id, name, kind, file, info) VALUES (?1, ?2, ?3, ?4, ?5)");
    std::int64_t id = 0;
    if (s.ensemble) {
        nlohmann::json info = {{"members", s.names}};
        if (const Ensemble* e = s.ensemble->ensemble()) info["ensemble"] = e->info;
        models.bind(1, id++).bind(2, std::string_view("ensemble")).bind(3, std::string_view("ensemble"));
        models.bind(4, std::string_view(o.ensemble)).bind(5, std::string_view(info.dump())).run();
    }
    for (std::size_t k = 0; k < s.members.size(); ++k) {
        const Model& mk = s.members[k].model();
        models.bind(1, id++).bind(2, std::string_view(s.names[k])).bind(3, std::string_view(mk.kind));
        models.bind(4, std::string_view(fs::absolute(o.models[k]).lexically_normal().string()));
        models.bind(5, std::string_view(mk.info.dump())).run();
    }

    std::vector<std::int64_t> listeners(static_cast<std::size_t>(m.n_items()), 0);
    if (m.user_items.rows != 0)
        for (std::int64_t u = 0; u < m.user_items.rows; ++u)
            for (auto i : m.user_items.row_indices(u)) ++listeners[static_cast<std::size_t>(i)];
    auto items = db.prepare("INSERT INTO items (idx, key, name, listeners) VALUES (?1, ?2, ?3, ?4)");
    for (std::int64_t i = 0; i < m.n_items(); ++i)
        items.bind(1, i).bind(2, m.items[static_cast<std::size_t>(i)]).bind(3, m.item_label(i))
            .bind(4, listeners[static_cast<std::size_t>(i)]).run();
    auto users = db.prepare("INSERT INTO users (idx, key, items) VALUES (?1, ?2, ?3)");
    for (std::int64_t u = 0; u < m.n_users(); ++u)
        users.bind(1, u).bind(2, m.users[static_cast<std::size_t>(u)])
            .bind(3, static_cast<std::int64_t>(m.user_items.rows != 0 ? m.user_items.row_indices(u).size() : 0)).run();
    db.prepare("INSERT INTO progress (phase, slice) VALUES ('catalog', 0)").run();
    tx.commit();
}

void write_items(SqliteDb& db, const ItemSlice& s, std::int64_t slice_index, bool radio, PrecomputeReport& report) {
    SqliteTransaction tx(db);
    auto rel = db.prepare("INSERT INTO related (model, item, rank, other, score, member_scores) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    for (std::size_t m = 0; m < s.related.size(); ++m)
        for (std::int64_t k = 0; k < s.count; ++k) {
            const auto& list = s.related[m][static_cast<std::size_t>(k)];
            for (std::size_t r = 0; r < list.size(); ++r) {
                rel.bind(1, static_cast<std::int64_t>(m)).bind(2, s.first + k).bind(3, static_cast<std::int64_t>(r));
                rel.bind(4, static_cast<std::int64_t>(list[r].id)).bind(5, static_cast<double>(list[r].score));
                if (m == 0 && !s.member_scores.empty()) {
                    std::string scores = "[";
                    for (float v : s.member_scores[static_cast<std::size_t>(k)][r])
                        scores += fmt::format("{}{}", scores.size() > 1 ? "," : "", v);
                    rel.bind(6, std::string_view(scores += "]"));
                }
                rel.run();
                ++report.related_rows;
            }
        }
    if (radio) {
        auto ins = db.prepare("INSERT INTO radio (item, neighbours) VALUES (?1, ?2)");
        std::vector<std::byte> blob;
        for (std::int64_t k = 0; k < s.count; ++k) {
            blob.clear();
            for (const auto& r : s.radio[static_cast<std::size_t>(k)]) put(blob, r.id, r.score);
            ins.bind(1, s.first + k).bind_blob(2, blob).run();
            ++report.radio_lists;
        }
    }
    db.prepare("INSERT INTO progress (phase, slice) VALUES ('items', ?1)").bind(1, slice_index).run();
    tx.commit();
}

void write_users(SqliteDb& db, const UserSlice& s, std::int64_t slice_index, int because, PrecomputeReport& report) {
    SqliteTransaction tx(db);
    auto ins = db.prepare("INSERT INTO recommendations (user, results) VALUES (?1, ?2)");
    std::vector<std::byte> blob;
    for (std::int64_t k = 0; k < s.count; ++k) {
        blob.clear();
        for (const auto& r : s.recommendations[static_cast<std::size_t>(k)]) {
            put(blob, r.id, r.score);
            for (int j = 0; j < because; ++j) {
                const bool has = j < static_cast<int>(r.because.size());
                put(blob, has ? r.because[static_cast<std::size_t>(j)].item : -1,
                    has ? r.because[static_cast<std::size_t>(j)].score : 0.0f);
            }
        }
        ins.bind(1, s.first + k).bind_blob(2, blob).run();
        ++report.recommendation_lists;
    }
    db.prepare("INSERT INTO progress (phase, slice) VALUES ('users', ?1)").bind(1, slice_index).run();
    tx.commit();
}

std::vector<std::uint8_t> done_slices(SqliteDb& db, std::string_view phase, std::int64_t slices) {
    std::vector<std::uint8_t> done(static_cast<std::size_t>(slices), 0);
    auto st = db.prepare("SELECT slice FROM progress WHERE phase = ?1");
    st.bind(1, phase);
    while (st.step()) {
        const auto k = st.integer(0);
        if (k >= 0 && k < slices) done[static_cast<std::size_t>(k)] = 1;
    }
    return done;
}

// Runs the slices not yet committed: computing slice k + 1 (on the worker threads) while slice k is
// written, in slice order.
template <typename Slice, typename Compute, typename Write>
void run_slices(std::int64_t total, std::int64_t slice, const std::vector<std::uint8_t>& done, Progress& progress,
                Compute compute, Write write) {
    std::vector<std::int64_t> todo;
    for (std::size_t k = 0; k < done.size(); ++k)
        if (!done[k]) todo.push_back(static_cast<std::int64_t>(k));
    auto start = [&](std::int64_t k) {
        const std::int64_t first = k * slice, count = std::min(slice, total - first);
        return std::async(std::launch::async, [=] { return compute(first, count); });
    };
    std::future<Slice> next;
    if (!todo.empty()) next = start(todo[0]);
    for (std::size_t t = 0; t < todo.size(); ++t) {
        Slice s = next.get();
        if (progress.cancelled()) throw Cancelled();
        if (t + 1 < todo.size()) next = start(todo[t + 1]);
        write(s, todo[t]);
        progress.add(static_cast<double>(s.count));
    }
}

}  // namespace

nlohmann::json PrecomputeReport::to_json() const {
    return {{"path", path},
            {"items", items},
            {"users", users},
            {"models", models},
            {"related_rows", related_rows},
            {"radio_lists", radio_lists},
            {"recommendation_lists", recommendation_lists},
            {"slices", slices},
            {"slices_resumed", slices_resumed},
            {"seconds", seconds},
            {"bytes", bytes}};
}

std::string PrecomputeReport::summary() const {
    return fmt::format("precompute: {} items, {} users, {} models: {} related rows, {} radio lists, {} recommendation "
                       "lists in {:.1f}s{} -> {} ({:.1f} MB)",
                       items, users, models, related_rows, radio_lists, recommendation_lists, seconds,
                       slices_resumed > 0 ? fmt::format(" ({} of {} slices resumed)", slices_resumed, slices) : "",
                       path, static_cast<double>(bytes) / 1e6);
}

PrecomputeReport precompute(const PrecomputeOptions& o, const std::string& path, Reporter* reporter) {
    check_options(o);
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t slice = o.slice > 0 ? o.slice : kDefaultSlice;
    const auto parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent)) fail("{}: cannot create (no directory {})", path, parent.string());

    Sources sources = open_sources(o);
    const nlohmann::json plan = plan_of(o, slice);
    const std::string work = path + ".partial";
    PrecomputeReport report;
    report.path = path;

    if (fs::exists(work)) {
        SqliteDb old(work, SqliteDb::Mode::read_write);
        const std::string recorded = old.has_table("meta") ? old.text("SELECT value FROM meta WHERE key = 'plan'") : "";
        if (recorded != plan.dump()) {
            if (!o.restart)
                fail("{}: an unfinished store from other inputs or options is here; remove it, or pass restart "
                     "to start over",
                     work);
        }
    }
    if (o.restart && fs::exists(work)) {
        SqliteDb old(work, SqliteDb::Mode::read_write);
        if (old.text("SELECT value FROM meta WHERE key = 'plan'") != plan.dump()) {
            old.exec("PRAGMA journal_mode = DELETE");  // drops the WAL, so the files below are all of it
            for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(work + suffix);
        }
    }

    auto writer = std::make_unique<SqliteDb>(work, SqliteDb::Mode::create);
    SqliteDb& db = *writer;
    db.exec("PRAGMA journal_mode = WAL");
    // A commit survives a killed process (the WAL is in the page cache); after a power cut the last
    // slices may be gone, and the next run recomputes them (the progress table commits with them).
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec(kSchema);
    const bool catalog_done = db.integer("SELECT COUNT(*) FROM progress WHERE phase = 'catalog'") > 0;
    if (!catalog_done) write_catalog(db, sources, o, plan);

    const Model& m = sources.first().model();
    report.items = m.n_items();
    report.users = m.n_users();
    Precompute pc(o, sources, slice);
    report.models = static_cast<std::int64_t>(pc.stored_models());
    const std::int64_t item_slices = (m.n_items() + slice - 1) / slice;
    const std::int64_t user_slices = o.recommendations > 0 ? (m.n_users() + slice - 1) / slice : 0;
    report.slices = item_slices + user_slices;
    report.related_rows = db.integer("SELECT COUNT(*) FROM related");
    report.radio_lists = db.integer("SELECT COUNT(*) FROM radio");
    report.recommendation_lists = db.integer("SELECT COUNT(*) FROM recommendations");
    if (catalog_done) encore::report(reporter, fmt::format("{}: resuming an unfinished run", work));

    {
        const auto done = done_slices(db, "items", item_slices);
        const auto resumed = std::count(done.begin(), done.end(), 1);
        report.slices_resumed += resumed;
        Progress progress("items", static_cast<double>(m.n_items()), reporter, "items");
        progress.set(std::min<double>(static_cast<double>(resumed * slice), static_cast<double>(m.n_items())));
        run_slices<ItemSlice>(
            m.n_items(), slice, done, progress, [&](std::int64_t first, std::int64_t count) { return pc.items(first, count); },
            [&](const ItemSlice& s, std::int64_t k) { write_items(db, s, k, o.radio > 0, report); });
        progress.finish();
    }
    if (user_slices > 0) {
        const auto done = done_slices(db, "users", user_slices);
        const auto resumed = std::count(done.begin(), done.end(), 1);
        report.slices_resumed += resumed;
        Progress progress("users", static_cast<double>(m.n_users()), reporter, "users");
        progress.set(std::min<double>(static_cast<double>(resumed * slice), static_cast<double>(m.n_users())));
        run_slices<UserSlice>(
            m.n_users(), slice, done, progress, [&](std::int64_t first, std::int64_t count) { return pc.users(first, count); },
            [&](const UserSlice& s, std::int64_t k) { write_users(db, s, k, o.because, report); });
        progress.finish();
    }
    {
        SqliteTransaction tx(db);
        db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('finished', ?1)").bind(1, std::string_view(utc_now())).run();
        tx.commit();
    }
    // Everything into the main file (no WAL left beside it), then the finished store takes the name.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    writer.reset();
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(work + suffix);
    fs::rename(work, path);
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(path + suffix);
    report.bytes = fs::file_size(path);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
}

// ---- reading a finished store ----

struct Store::State {
    std::string path;
    std::uint64_t generation = 0;
    std::vector<std::string> folded;  // per item: the display name case-folded
    std::vector<std::int32_t> by_folded;  // items sorted by folded name (ties: more listeners first)
    std::vector<std::int32_t> by_listeners;  // items, most listeners first (ties: lower index)
    nlohmann::json meta = nlohmann::json::object();
    std::vector<StoredModel> models;
    int default_model = 0;
    std::vector<std::string> item_keys, item_names, user_keys;
    std::vector<std::int64_t> listeners;
    std::unordered_map<std::string_view, std::int32_t> item_index, user_index;
    int because = 0;

    // Connections with their statements, one per concurrent caller, reused.
    struct Connection {
        SqliteDb db;
        SqliteStatement related, radio, recommendations;
    };
    std::mutex mutex;
    std::vector<std::unique_ptr<Connection>> idle;

    std::unique_ptr<Connection> connect() const {
        // immutable: the file is never written once finished (a new store replaces it by rename), so
        // readers need no locks and no WAL index beside it.
        SqliteDb db(sqlite_uri(path) + "?immutable=1", SqliteDb::Mode::read_only);
        // Pages read through a mapping of the file: no copy into SQLite's page cache per lookup.
        db.exec("PRAGMA mmap_size = 1099511627776");
        auto c = std::make_unique<Connection>(Connection{std::move(db), {}, {}, {}});
        c->related = c->db.prepare(
            "SELECT other, score, member_scores FROM related WHERE model = ?1 AND item = ?2 ORDER BY rank LIMIT ?3");
        c->radio = c->db.prepare("SELECT neighbours FROM radio WHERE item = ?1");
        c->recommendations = c->db.prepare("SELECT results FROM recommendations WHERE user = ?1");
        return c;
    }
    // A connection for the duration of one call.
    struct Lease {
        const State& s;
        std::unique_ptr<Connection> c;
        explicit Lease(const State& st) : s(st) {
            {
                std::lock_guard lock(const_cast<State&>(s).mutex);
                auto& idle = const_cast<State&>(s).idle;
                if (!idle.empty()) {
                    c = std::move(idle.back());
                    idle.pop_back();
                }
            }
            if (!c) c = s.connect();
        }
        ~Lease() {
            c->related.reset();
            c->radio.reset();
            c->recommendations.reset();
            std::lock_guard lock(const_cast<State&>(s).mutex);
            const_cast<State&>(s).idle.push_back(std::move(c));
        }
        Connection* operator->() { return c.get(); }
    };
};

Store::Store(std::unique_ptr<State> state) : s_(std::move(state)) {}
Store::~Store() = default;

std::shared_ptr<const Store> Store::open(const std::string& path) {
    if (!fs::exists(path)) {
        if (fs::exists(path + ".partial"))
            throw FormatError(path, "not finished yet (a precompute run is writing it, or was stopped: run it again)");
        throw FormatError(path, "no such file");
    }
    {
        // SQLite's own magic first: anything else gets a plain answer, not SQLite's "file is not a database".
        char magic[16] = {};
        std::ifstream in(path, std::ios::binary);
        in.read(magic, sizeof magic);
        if (std::string_view(magic, sizeof magic) != std::string_view("SQLite format 3\0", 16))
            throw FormatError(path, "not an encore store (not an SQLite database)");
    }
    auto s = std::make_unique<State>();
    s->path = path;
    std::unique_ptr<State::Connection> c;
    try {
        SqliteDb probe(sqlite_uri(path) + "?immutable=1", SqliteDb::Mode::read_only);
        if (!probe.has_table("meta") || !probe.has_table("related") || !probe.has_table("items"))
            throw FormatError(path, "not an encore store (its tables are missing)");
        c = s->connect();
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        throw FormatError(path, fmt::format("not a readable encore store ({})", e.what()));
    }
    SqliteDb& db = c->db;
    auto meta = db.prepare("SELECT key, value FROM meta");
    while (meta.step()) s->meta[std::string(meta.text(0))] = std::string(meta.text(1));
    if (s->meta.value("format", "") != "encore-store") throw FormatError(path, "not an encore store");
    const int version = std::stoi(s->meta.value("version", "0"));
    if (version < 1 || version > kStoreVersion)
        throw FormatError(path, fmt::format("store version {} is not one this encore reads (1..{})", version, kStoreVersion));
    if (!s->meta.contains("finished")) throw FormatError(path, "the store is not finished");
    s->because = std::stoi(s->meta.value("because", "0"));
    const std::string default_name = s->meta.value("default_model", "");

    auto models = db.prepare("SELECT id, name, kind, file, info FROM models ORDER BY id");
    while (models.step()) {
        StoredModel m{static_cast<int>(models.integer(0)), std::string(models.text(1)), std::string(models.text(2)),
                      std::string(models.text(3)), nlohmann::json::parse(models.text(4), nullptr, false)};
        if (m.name == default_name) s->default_model = static_cast<int>(s->models.size());
        s->models.push_back(std::move(m));
    }
    if (s->models.empty()) throw FormatError(path, "the store has no models");

    auto items = db.prepare("SELECT idx, key, name, listeners FROM items ORDER BY idx");
    while (items.step()) {
        if (items.integer(0) != static_cast<std::int64_t>(s->item_keys.size()))
            throw FormatError(path, "the items table has a gap in its indices");
        s->item_keys.emplace_back(items.text(1));
        s->item_names.emplace_back(items.text(2));
        s->listeners.push_back(items.integer(3));
    }
    auto users = db.prepare("SELECT idx, key FROM users ORDER BY idx");
    while (users.step()) {
        if (users.integer(0) != static_cast<std::int64_t>(s->user_keys.size()))
            throw FormatError(path, "the users table has a gap in its indices");
        s->user_keys.emplace_back(users.text(1));
    }
    for (std::size_t i = 0; i < s->item_keys.size(); ++i) s->item_index.emplace(s->item_keys[i], static_cast<std::int32_t>(i));
    s->folded.reserve(s->item_names.size());
    for (const auto& name : s->item_names) s->folded.push_back(StringTable::fold_case(name));
    s->by_listeners.resize(s->item_keys.size());
    for (std::size_t i = 0; i < s->by_listeners.size(); ++i) s->by_listeners[i] = static_cast<std::int32_t>(i);
    std::stable_sort(s->by_listeners.begin(), s->by_listeners.end(), [&](std::int32_t a, std::int32_t b) {
        return s->listeners[static_cast<std::size_t>(a)] > s->listeners[static_cast<std::size_t>(b)];
    });
    s->by_folded = s->by_listeners;
    std::stable_sort(s->by_folded.begin(), s->by_folded.end(), [&](std::int32_t a, std::int32_t b) {
        return s->folded[static_cast<std::size_t>(a)] < s->folded[static_cast<std::size_t>(b)];
    });
    static std::atomic<std::uint64_t> generations{0};
    s->generation = ++generations;
    for (std::size_t u = 0; u < s->user_keys.size(); ++u) s->user_index.emplace(s->user_keys[u], static_cast<std::int32_t>(u));
    s->idle.push_back(std::move(c));
    return std::shared_ptr<const Store>(new Store(std::move(s)));
}

const std::string& Store::path() const { return s_->path; }
std::uint64_t Store::generation() const { return s_->generation; }

std::vector<std::int32_t> Store::search(std::string_view q, int n) const {
    std::vector<std::int32_t> out;
    if (n <= 0) return out;
    const std::string f = StringTable::fold_case(q);
    if (f.empty()) {
        for (auto i : s_->by_listeners) {
            if (static_cast<int>(out.size()) >= n) break;
            out.push_back(i);
        }
        return out;
    }
    std::vector<std::uint8_t> taken(s_->item_keys.size(), 0);
    auto by_listeners = [&](std::vector<std::int32_t>& v) {
        std::stable_sort(v.begin(), v.end(), [&](std::int32_t a, std::int32_t b) {
            return s_->listeners[static_cast<std::size_t>(a)] > s_->listeners[static_cast<std::size_t>(b)];
        });
    };
    auto take = [&](std::vector<std::int32_t> v) {
        by_listeners(v);
        for (auto i : v) {
            if (static_cast<int>(out.size()) >= n) return;
            if (!taken[static_cast<std::size_t>(i)]) {
                taken[static_cast<std::size_t>(i)] = 1;
                out.push_back(i);
            }
        }
    };
    // 1. prefix of the folded name: a range of the sorted order.
    const auto& folded = s_->folded;
    auto lo = std::lower_bound(s_->by_folded.begin(), s_->by_folded.end(), f,
                               [&](std::int32_t i, const std::string& v) { return folded[static_cast<std::size_t>(i)] < v; });
    std::vector<std::int32_t> prefix;
    for (auto it = lo; it != s_->by_folded.end() && folded[static_cast<std::size_t>(*it)].compare(0, f.size(), f) == 0; ++it)
        prefix.push_back(*it);
    take(std::move(prefix));
    if (static_cast<int>(out.size()) >= n) return out;
    // 2. containing it (a word inside the name, or the key), most listeners first.
    std::vector<std::int32_t> inside;
    for (std::size_t i = 0; i < folded.size(); ++i)
        if (!taken[i] && (folded[i].find(f) != std::string::npos || s_->item_keys[i] == q))
            inside.push_back(static_cast<std::int32_t>(i));
    take(std::move(inside));
    if (static_cast<int>(out.size()) >= n || f.size() < 3) return out;
    // 3. similar names among the most played items (typos: "bjrok" -> "björk").
    struct Near {
        double similarity;
        std::int32_t item;
    };
    std::vector<Near> near;
    const std::size_t scan = std::min<std::size_t>(s_->by_listeners.size(), 50000);
    for (std::size_t k = 0; k < scan; ++k) {
        const auto i = s_->by_listeners[k];
        if (taken[static_cast<std::size_t>(i)]) continue;
        const double sim = name_similarity(f, folded[static_cast<std::size_t>(i)]);
        if (sim >= 0.5) near.push_back({sim, i});
    }
    std::stable_sort(near.begin(), near.end(), [](const Near& a, const Near& b) { return a.similarity > b.similarity; });
    for (const auto& x : near) {
        if (static_cast<int>(out.size()) >= n) break;
        out.push_back(x.item);
    }
    return out;
}
const nlohmann::json& Store::meta() const { return s_->meta; }
const std::vector<StoredModel>& Store::models() const { return s_->models; }
const StoredModel& Store::default_model() const { return s_->models[static_cast<std::size_t>(s_->default_model)]; }

const StoredModel* Store::find_model(std::string_view name) const {
    for (const auto& m : s_->models)
        if (m.name == name) return &m;
    return nullptr;
}

std::int64_t Store::n_items() const { return static_cast<std::int64_t>(s_->item_keys.size()); }
std::int64_t Store::n_users() const { return static_cast<std::int64_t>(s_->user_keys.size()); }
std::string_view Store::item_key(std::int32_t i) const { return s_->item_keys.at(static_cast<std::size_t>(i)); }
std::string_view Store::item_name(std::int32_t i) const { return s_->item_names.at(static_cast<std::size_t>(i)); }
std::int64_t Store::listeners(std::int32_t i) const { return s_->listeners.at(static_cast<std::size_t>(i)); }
std::string_view Store::user_key(std::int32_t u) const { return s_->user_keys.at(static_cast<std::size_t>(u)); }

std::int32_t Store::find_item(std::string_view key) const {
    auto it = s_->item_index.find(key);
    return it == s_->item_index.end() ? -1 : it->second;
}

std::int32_t Store::find_user(std::string_view key) const {
    auto it = s_->user_index.find(key);
    return it == s_->user_index.end() ? -1 : it->second;
}

std::vector<StoredRelated> Store::related(int model, std::int32_t item, int n) const {
    State::Lease c(*s_);
    auto& st = c->related;
    st.bind(1, static_cast<std::int64_t>(model)).bind(2, static_cast<std::int64_t>(item)).bind(3, static_cast<std::int64_t>(n));
    std::vector<StoredRelated> out;
    while (st.step()) {
        StoredRelated r{static_cast<std::int32_t>(st.integer(0)), static_cast<float>(st.real(1)), {}};
        if (!st.is_null(2)) {
            auto scores = nlohmann::json::parse(st.text(2), nullptr, false);
            if (scores.is_array())
                for (const auto& v : scores)
                    if (v.is_number()) r.member_scores.push_back(v.get<float>());
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<StoredItem> Store::radio(std::int32_t item) const {
    State::Lease c(*s_);
    auto& st = c->radio;
    st.bind(1, static_cast<std::int64_t>(item));
    std::vector<StoredItem> out;
    if (st.step()) {
        const auto blob = st.blob(0);
        for (std::size_t k = 0; k < blob.size() / 8; ++k) out.push_back(get(blob, k));
    }
    return out;
}

std::vector<StoredRecommendation> Store::recommendations(std::int32_t user, int n) const {
    State::Lease c(*s_);
    auto& st = c->recommendations;
    st.bind(1, static_cast<std::int64_t>(user));
    std::vector<StoredRecommendation> out;
    if (st.step()) {
        const auto blob = st.blob(0);
        const std::size_t per = 1 + static_cast<std::size_t>(s_->because);
        for (std::size_t r = 0; r + 1 <= blob.size() / 8 / per && static_cast<int>(out.size()) < n; ++r) {
            const auto head = get(blob, r * per);
            StoredRecommendation rec{head.item, head.score, {}};
            for (std::size_t j = 1; j < per; ++j) {
                const auto b = get(blob, r * per + j);
                if (b.item >= 0) rec.because.push_back(b);
            }
            out.push_back(std::move(rec));
        }
    }
    return out;
}

}  // namespace encore

#include "encore/serve/describe.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "encore/data/dataset.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/util/error.hpp"
#include "encore/util/json.hpp"

namespace encore {

namespace {

// The container magics (docs/formats.md); each loader checks its own again.
enum class FileKind { dataset, model, index, ensemble, unknown };

FileKind kind_of(std::string_view magic) {
    if (magic == "ENCODATA") return FileKind::dataset;
    if (magic == "ENCOMODL") return FileKind::model;
    if (magic == "ENCOINDX") return FileKind::index;
    if (magic == "ENCOENSM") return FileKind::ensemble;
    return FileKind::unknown;
}

std::string printable(std::string_view bytes) {
    std::string out;
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7F) ? std::string(1, c) : fmt::format("\\x{:02X}", u);
    }
    return out;
}

// Metadata can list up to 100000 dropped ids (ingest.hpp); a description shows the first few.
void shorten_dropped(nlohmann::json& meta) {
    if (!meta.is_object() || !meta.contains("dropped") || !meta["dropped"].is_object()) return;
    for (const char* side : {"users", "items"}) {
        auto& d = meta["dropped"][side];
        if (!d.is_object() || !d.contains("ids") || !d["ids"].is_array() || d["ids"].size() <= 10) continue;
        nlohmann::json first(d["ids"].begin(), d["ids"].begin() + 10);
        d["ids"] = std::move(first);
        d["ids_shown"] = 10;
    }
}

nlohmann::json weights_json(const EnsembleWeights& w) { return {{"weights", w.weights}, {"bias", w.bias}}; }

}  // namespace

nlohmann::json describe_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    std::array<char, 8> magic{};
    in.read(magic.data(), magic.size());
    const std::string_view head(magic.data(), static_cast<std::size_t>(in.gcount()));
    const FileKind kind = head.size() == magic.size() ? kind_of(head) : FileKind::unknown;
    nlohmann::json out;
    switch (kind) {
        case FileKind::dataset: {
            auto d = load_dataset(path);
            out = {{"type", "dataset"}, {"path", path}, {"users", d.n_users()}, {"items", d.n_items()}, {"nnz", d.nnz()},
                   {"named_items", !d.item_names.empty()}, {"meta", d.meta}};
            shorten_dropped(out["meta"]);
            return out;
        }
        case FileKind::model: {
            auto m = load_model(path);
            out = {{"type", "model"}, {"path", path}, {"kind", m.kind}, {"users", m.n_users()}, {"items", m.n_items()},
                   {"factors", m.factors()}, {"nnz", m.user_items.nnz()}, {"info", m.info}};
            if (out["info"].contains("data")) shorten_dropped(out["info"]["data"]);
            return out;
        }
        case FileKind::index: {
            auto index = open_index(path);
            return {{"type", "index"},
                    {"path", path},
                    {"kind", std::string(index->kind())},
                    {"metric", std::string(metric_name(index->metric()))},
                    {"items", index->size()},
                    {"dim", index->dim()},
                    {"default_search", index->default_search()},
                    {"source_fingerprint", fmt::format("{:016x}", index->source_fingerprint())}};
        }
        case FileKind::ensemble: {
            auto e = load_ensemble(path);
            nlohmann::json members = nlohmann::json::array();
            for (const auto& m : e.members)
                members.push_back({{"kind", m.kind}, {"items_fingerprint", fmt::format("{:016x}", m.items_fingerprint)}});
            return {{"type", "ensemble"},   {"path", path},
                    {"members", members},   {"items", e.n_items},
                    {"candidates", e.candidates}, {"related", weights_json(e.related)},
                    {"recommend", weights_json(e.recommend)}, {"info", e.info}};
        }
        case FileKind::unknown: break;
    }
    throw Error(fmt::format("{}: not an encore file (it starts with '{}'; expected a .encd dataset, .encm model, .enci "
                            "index or .ence ensemble)",
                            path, printable(head)));
}

std::string describe_line(const nlohmann::json& d) {
    const std::string type = d.value("type", std::string("?"));
    const std::string path = d.value("path", std::string("?"));
    auto num = [&](const char* key) { return d.contains(key) ? json_text(d[key]) : std::string("?"); };
    if (type == "dataset")
        return fmt::format("{}: dataset with {} users, {} items, {} non-zeros", path, num("users"), num("items"), num("nnz"));
    if (type == "model")
        return fmt::format("{}: {} model with {} users, {} items, {} factors, {} non-zeros", path,
                           d.value("kind", std::string("?")), num("users"), num("items"), num("factors"), num("nnz"));
    if (type == "index")
        return fmt::format("{}: {} index ({}) over {} items of dimension {}", path, d.value("kind", std::string("?")),
                           d.value("metric", std::string("?")), num("items"), num("dim"));
    if (type == "ensemble") {
        std::vector<std::string> kinds;
        for (const auto& m : d["members"]) kinds.push_back(m.value("kind", std::string("?")));
        return fmt::format("{}: ensemble of {} models ({}) over {} items, top-{} candidates", path, kinds.size(),
                           fmt::join(kinds, ", "), num("items"), num("candidates"));
    }
    return fmt::format("{}: {}", path, type);
}

}  // namespace encore

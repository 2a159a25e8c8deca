#include "encore/models/model.hpp"

#include <cstring>
#include <fstream>
#include <limits>

#include "encore/data/dataset.hpp"
#include "encore/io/container.hpp"
#include "encore/util/json.hpp"
#include "encore/util/error.hpp"

namespace encore {

namespace {

constexpr Magic kModelMagic = {'E', 'N', 'C', 'O', 'M', 'O', 'D', 'L'};
constexpr Magic kDatasetMagic = {'E', 'N', 'C', 'O', 'D', 'A', 'T', 'A'};

bool known_kind(std::string_view kind) { return is_model_kind(kind); }

void check_for_save(const Model& m) {
    if (!known_kind(m.kind)) fail("save_model: unknown model kind '{}'", m.kind);
    if (m.has_factors() ? m.item_neighbours.rows != 0
                        : (m.item_neighbours.rows != m.n_items() || m.item_neighbours.cols != m.n_items()))
        fail("save_model: a {} model with a {}x{} neighbour matrix for {} items", m.kind, m.item_neighbours.rows,
             m.item_neighbours.cols, m.n_items());
    if (m.user_factors.cols() != m.item_factors.cols())
        fail("save_model: user factors have {} columns, item factors {}", m.user_factors.cols(), m.item_factors.cols());
    if (static_cast<std::int64_t>(m.users.size()) != m.n_users())
        fail("save_model: {} user ids for {} user factor rows", m.users.size(), m.n_users());
    if (static_cast<std::int64_t>(m.items.size()) != m.n_items())
        fail("save_model: {} item ids for {} item factor rows", m.items.size(), m.n_items());
    if (m.item_names.size() != 0 && m.item_names.size() != m.items.size())
        fail("save_model: {} item names for {} items", m.item_names.size(), m.items.size());
    if (m.user_items.rows != m.n_users() || m.user_items.cols != m.n_items() ||
        static_cast<std::int64_t>(m.user_items.indptr.size()) != m.n_users() + 1)
        fail("save_model: the user-item matrix is {}x{}, expected {}x{}", m.user_items.rows, m.user_items.cols,
             m.n_users(), m.n_items());
    if (m.weighting.n_items != m.n_items())
        fail("save_model: the weighting was fitted on {} items, the model has {}", m.weighting.n_items, m.n_items());
    bool bm25 = m.weighting.options.kind == WeightingKind::bm25;
    if (static_cast<std::int64_t>(m.weighting.item_length_norm.size()) != (bm25 ? m.n_items() : 0))
        fail("save_model: the weighting has {} item lengths for {} items", m.weighting.item_length_norm.size(),
             m.n_items());
}

// The JSON accessors throw nlohmann exceptions on a wrong type; a model file must answer with a
// FormatError instead, so every field is read through these.
template <typename T>
T field(const nlohmann::json& j, const char* name, const std::string& path) {
    auto it = j.find(name);
    if (it == j.end()) throw FormatError(path, fmt::format("metadata lacks '{}'", name));
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception&) {
        throw FormatError(path, fmt::format("metadata field '{}' has the wrong type", name));
    }
}

std::int64_t count_field(const nlohmann::json& j, const char* name, const std::string& path,
                         std::int64_t max = std::numeric_limits<std::int32_t>::max()) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer())
        throw FormatError(path, fmt::format("metadata field '{}' is missing or not an integer", name));
    auto v = it->get<std::int64_t>();
    // int32 column indices bound every dimension by default.
    if (v < 0 || v > max)
        throw FormatError(path, fmt::format("metadata field '{}' = {} is out of range", name, v));
    return v;
}

Matrix load_factors(const ContainerReader& r, const std::string& name, std::int64_t rows, std::int64_t cols,
                    std::int64_t stride, bool verify) {
    auto data = r.array<float>(name, static_cast<std::size_t>(rows * stride));
    if (reinterpret_cast<std::uintptr_t>(data.data()) % 64 != 0)
        throw FormatError(r.path(), fmt::format("section '{}' is not 64-byte aligned", name));
    if (verify) {
        // Kernels run over the padded row length and rely on the padding being zero.
        for (std::int64_t i = 0; i < rows; ++i)
            for (std::int64_t j = cols; j < stride; ++j)
                if (data[static_cast<std::size_t>(i * stride + j)] != 0.0f)
                    throw FormatError(r.path(), fmt::format("section '{}' has non-zero row padding", name));
    }
    return Matrix::view(data.data(), rows, cols, stride, r.file());
}

}  // namespace

std::string_view Model::item_label(std::int64_t i) const {
    if (static_cast<std::size_t>(i) < item_names.size()) {
        auto n = item_names[static_cast<std::size_t>(i)];
        if (!n.empty()) return n;
    }
    return items[static_cast<std::size_t>(i)];
}

std::uint64_t item_factors_fingerprint(const Model& model) {
    if (model.item_factors_digest.data != nullptr && model.item_factors_digest.data == model.item_factors.data())
        return model.item_factors_digest.value;
    return checksum64(std::as_bytes(model.item_factors.storage()));
}

void save_model(const Model& model, const std::string& path) {
    check_for_save(model);
    const auto& w = model.weighting;
    nlohmann::json meta = {
        {"kind", model.kind},
        {"n_users", model.n_users()},
        {"n_items", model.n_items()},
        {"factors", model.factors()},
        {"user_stride", model.user_factors.stride()},
        {"item_stride", model.item_factors.stride()},
        {"nnz", model.user_items.nnz()},
        {"neighbour_nnz", model.item_neighbours.nnz()},
        {"regularization", model.regularization},
        {"weighting",
         {{"kind", weighting_name(w.options.kind)},
          {"K1", w.options.K1},
          {"B", w.options.B},
          {"alpha", w.options.alpha.value_or(default_alpha(w.options.kind))},
          {"eps", w.options.eps}}},
        {"info", model.info},
    };
    ContainerWriter out(kModelMagic, kModelVersion);
    out.add_text("meta", json_text(meta));
    out.add_array("user_factors", model.user_factors.storage());
    out.add_array("item_factors", model.item_factors.storage());
    model.users.save(out, "users");
    model.items.save(out, "items");
    model.item_names.save(out, "names");
    save_csr(out, model.user_items, "user_items");
    out.add_array("weighting.length_norm", std::span<const float>(w.item_length_norm));
    if (!model.has_factors()) save_csr(out, model.item_neighbours, "item_neighbours");
    out.write(path);
}

Model load_model(const std::string& path, bool verify) {
    {
        // A clear word for the common mistake of passing a dataset (or anything else) instead.
        std::ifstream in(path, std::ios::binary);
        char m[8] = {};
        if (in && in.read(m, 8) && std::memcmp(m, kModelMagic.data(), 8) != 0) {
            if (std::memcmp(m, kDatasetMagic.data(), 8) == 0)
                throw FormatError(path, "not an encore model file (it is an encore dataset: train a model from it first)");
            throw FormatError(path, "not an encore model file (unknown magic)");
        }
    }
    auto r = ContainerReader::open(path, kModelMagic, kModelVersion, verify);
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(r.text("meta"));
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, fmt::format("bad metadata: {}", e.what()));
    }
    if (!meta.is_object()) throw FormatError(path, "bad metadata: not a JSON object");

    Model m;
    m.kind = field<std::string>(meta, "kind", path);
    if (!known_kind(m.kind))
        throw FormatError(path, fmt::format("unknown model kind '{}' (this build does not know it)", m.kind));
    const auto n_users = count_field(meta, "n_users", path);
    const auto n_items = count_field(meta, "n_items", path);
    const auto factors = count_field(meta, "factors", path);
    const auto user_stride = count_field(meta, "user_stride", path);
    const auto item_stride = count_field(meta, "item_stride", path);
    if (user_stride != Matrix::padded(factors) ||
        item_stride != Matrix::padded(factors))
        throw FormatError(path, fmt::format("factor shape is inconsistent (factors {}, strides {} and {})", factors,
                                            user_stride, item_stride));
    m.regularization = field<float>(meta, "regularization", path);
    if (auto it = meta.find("info"); it != meta.end()) m.info = *it;

    const auto wj = field<nlohmann::json>(meta, "weighting", path);
    if (!wj.is_object()) throw FormatError(path, "metadata field 'weighting' is not an object");
    try {
        m.weighting.options.kind = parse_weighting(field<std::string>(wj, "kind", path));
    } catch (const OptionError&) {
        throw FormatError(path, "unknown weighting kind in metadata");
    }
    m.weighting.options.K1 = field<float>(wj, "K1", path);
    m.weighting.options.B = field<float>(wj, "B", path);
    m.weighting.options.alpha = field<float>(wj, "alpha", path);
    m.weighting.options.eps = field<float>(wj, "eps", path);
    m.weighting.n_items = n_items;

    if (factors > 0) {
        m.user_factors = load_factors(r, "user_factors", n_users, factors, user_stride, verify);
        m.item_factors = load_factors(r, "item_factors", n_items, factors, item_stride, verify);
        m.item_factors_digest = {m.item_factors.data(), r.recorded_checksum("item_factors")};
    } else {
        // An item-item model (knn): no factors, but the shapes still carry the user and item counts.
        m.user_factors = Matrix(n_users, 0);
        m.item_factors = Matrix(n_items, 0);
        // Ids always checked: knn scoring indexes by them, and the matrix is small (K per item).
        m.item_neighbours = load_csr(r, "item_neighbours", n_items, n_items, /*verify=*/true);
        if (m.item_neighbours.nnz() != count_field(meta, "neighbour_nnz", path, std::numeric_limits<std::int64_t>::max()))
            throw FormatError(path, "the neighbour matrix does not match its recorded size");
    }
    m.users = StringTable::load(r, "users");
    m.items = StringTable::load(r, "items");
    m.item_names = StringTable::load(r, "names");
    if (static_cast<std::int64_t>(m.users.size()) != n_users)
        throw FormatError(path, fmt::format("{} user ids for {} users", m.users.size(), n_users));
    if (static_cast<std::int64_t>(m.items.size()) != n_items)
        throw FormatError(path, fmt::format("{} item ids for {} items", m.items.size(), n_items));
    if (!m.item_names.empty() && static_cast<std::int64_t>(m.item_names.size()) != n_items)
        throw FormatError(path, fmt::format("{} item names for {} items", m.item_names.size(), n_items));
    m.user_items = load_csr(r, "user_items", n_users, n_items, verify);
    if (m.user_items.nnz() != count_field(meta, "nnz", path, std::numeric_limits<std::int64_t>::max()))
        throw FormatError(path, "the user-item matrix does not match its recorded size");

    const bool bm25 = m.weighting.options.kind == WeightingKind::bm25;
    auto norms = r.array<float>("weighting.length_norm", bm25 ? static_cast<std::size_t>(n_items) : 0);
    m.weighting.item_length_norm.assign(norms.begin(), norms.end());
    try {
        weigh_row({}, {}, m.weighting);  // checks the parameters and statistics, weighs nothing
    } catch (const Error& e) {
        throw FormatError(path, fmt::format("bad weighting in metadata ({})", e.what()));
    }
    return m;
}

}  // namespace encore

#include "encore/data/dataset.hpp"

#include <cstring>
#include <fstream>

#include "encore/io/container.hpp"
#include "encore/util/json.hpp"

namespace encore {

namespace {
constexpr Magic kDatasetMagic = {'E', 'N', 'C', 'O', 'D', 'A', 'T', 'A'};
}

std::string_view Dataset::item_label(std::int64_t i) const {
    if (static_cast<std::size_t>(i) < item_names.size()) {
        auto n = item_names[static_cast<std::size_t>(i)];
        if (!n.empty()) return n;
    }
    return items[static_cast<std::size_t>(i)];
}

void save_csr(ContainerWriter& writer, const Csr& m, const std::string& prefix) {
    writer.add_array(prefix + ".indptr", m.indptr.span());
    writer.add_array(prefix + ".indices", m.indices.span());
    writer.add_array(prefix + ".values", m.values.span());
}

Csr load_csr(const ContainerReader& reader, const std::string& prefix, std::int64_t rows, std::int64_t cols,
             bool verify) {
    Csr m;
    m.rows = rows;
    m.cols = cols;
    auto indptr = reader.array<std::int64_t>(prefix + ".indptr", static_cast<std::size_t>(rows) + 1);
    std::int64_t nnz = indptr[static_cast<std::size_t>(rows)];
    if (indptr[0] != 0 || nnz < 0)
        throw FormatError(reader.path(), fmt::format("matrix '{}' has a bad row pointer", prefix));
    auto indices = reader.array<std::int32_t>(prefix + ".indices", static_cast<std::size_t>(nnz));
    auto values = reader.array<float>(prefix + ".values", static_cast<std::size_t>(nnz));
    // Structural checks, so later code can index without bounds checks even on a file that passed
    // its checksum but was written wrongly: row pointers monotone (one value per row, always), and
    // with verify every column index in range (one value per entry: a read of the whole section,
    // which an open that only maps the file skips, as it skips the checksums).
    for (std::int64_t r = 0; r < rows; ++r)
        if (indptr[r + 1] < indptr[r])
            throw FormatError(reader.path(), fmt::format("matrix '{}' row pointer decreases at row {}", prefix, r));
    if (verify)
        for (auto c : indices)
            if (c < 0 || c >= cols)
                throw FormatError(reader.path(), fmt::format("matrix '{}' has a column index out of range", prefix));
    m.indptr = Buffer<std::int64_t>::view(indptr, reader.file());
    m.indices = Buffer<std::int32_t>::view(indices, reader.file());
    m.values = Buffer<float>::view(values, reader.file());
    return m;
}

void save_dataset(const Dataset& data, const std::string& path) {
    ContainerWriter w(kDatasetMagic, kDatasetVersion);
    nlohmann::json meta = data.meta;
    meta["n_users"] = data.n_users();
    meta["n_items"] = data.n_items();
    meta["nnz"] = data.nnz();
    w.add_text("meta", json_text(meta));
    data.users.save(w, "users");
    data.items.save(w, "items");
    data.item_names.save(w, "names");
    save_csr(w, data.by_user, "by_user");
    save_csr(w, data.by_item, "by_item");
    w.write(path);
}

Dataset load_dataset(const std::string& path, bool verify) {
    auto r = ContainerReader::open(path, kDatasetMagic, kDatasetVersion, verify);
    Dataset d;
    try {
        d.meta = nlohmann::json::parse(r.text("meta"));
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, fmt::format("bad metadata: {}", e.what()));
    }
    auto n_users = d.meta.value("n_users", std::int64_t{-1});
    auto n_items = d.meta.value("n_items", std::int64_t{-1});
    d.users = StringTable::load(r, "users");
    d.items = StringTable::load(r, "items");
    d.item_names = StringTable::load(r, "names");
    if (n_users != static_cast<std::int64_t>(d.users.size()) || n_items != static_cast<std::int64_t>(d.items.size()))
        throw FormatError(path, "id tables do not match the matrix shape");
    if (!d.item_names.empty() && d.item_names.size() != d.items.size())
        throw FormatError(path, "item name table does not match the item table");
    d.by_user = load_csr(r, "by_user", n_users, n_items, verify);
    d.by_item = load_csr(r, "by_item", n_items, n_users, verify);
    if (d.by_user.nnz() != d.by_item.nnz()) throw FormatError(path, "the two matrix orientations disagree");
    return d;
}

bool is_dataset_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char m[8] = {};
    if (!in.read(m, 8)) return false;
    return std::memcmp(m, kDatasetMagic.data(), 8) == 0;
}

}  // namespace encore

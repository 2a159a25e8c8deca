#pragma once
// Dataset: what ingest produces and everything after it reads: the user and item id tables, item
// display names, and the play matrix both ways (by user and by item). Saved as a .encd container
// (docs/formats.md) and loaded by mapping it.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "encore/data/csr.hpp"
#include "encore/data/string_table.hpp"

namespace encore {

struct Dataset {
    StringTable users;       // external user ids, index = matrix row
    StringTable items;       // external item keys (e.g. artist mbid), index = matrix column
    StringTable item_names;  // display names, one per item ("" = none), or empty when there are none
    Csr by_user;             // users x items; values = summed raw values (plays, ratings)
    Csr by_item;             // items x users; its transpose
    nlohmann::json meta = nlohmann::json::object();  // sources, format, rows read/skipped, ...

    std::int64_t n_users() const { return by_user.rows; }
    std::int64_t n_items() const { return by_user.cols; }
    std::int64_t nnz() const { return by_user.nnz(); }
    // The name to show for item i: its display name, or its key when it has none.
    std::string_view item_label(std::int64_t i) const;
};

inline constexpr std::uint32_t kDatasetVersion = 1;

void save_dataset(const Dataset& data, const std::string& path);
// verify = check every section checksum and every stored index (reads the whole file once);
// without it the file is mapped and trusted to be one encore wrote (headers and shapes still checked).
Dataset load_dataset(const std::string& path, bool verify = true);
// True when the file starts with the dataset magic (lets commands take a .encd or raw logs).
bool is_dataset_file(const std::string& path);

// Helpers shared by the dataset and model files for Csr sections PREFIX.indptr/.indices/.values.
class ContainerWriter;
class ContainerReader;
void save_csr(ContainerWriter& writer, const Csr& m, const std::string& prefix);
Csr load_csr(const ContainerReader& reader, const std::string& prefix, std::int64_t rows, std::int64_t cols,
             bool verify);

}  // namespace encore

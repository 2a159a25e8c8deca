// encore info: what a .encd dataset or .encm model holds.
#include <memory>

#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"

namespace encore::cli {

namespace {
struct Args {
    std::string file;
    bool json = false;
};
}  // namespace

Command add_info(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "Describe a dataset (.encd) or model (.encm) file");
    auto a = std::make_shared<Args>();
    cmd->add_option("file", a->file, "File")->required();
    cmd->add_flag("--json", a->json, "JSON output");
    return {cmd, [a] {
                nlohmann::json out;
                if (is_dataset_file(a->file)) {
                    auto d = load_dataset(a->file);
                    out = {{"type", "dataset"}, {"users", d.n_users()}, {"items", d.n_items()}, {"nnz", d.nnz()},
                           {"meta", d.meta}};
                } else {
                    auto m = load_model(a->file);
                    out = {{"type", "model"}, {"kind", m.kind}, {"users", m.n_users()}, {"items", m.n_items()},
                           {"factors", m.factors()}, {"nnz", m.user_items.nnz()}, {"info", m.info}};
                }
                if (a->json) {
                    std::cout << out.dump(2) << "\n";
                } else {
                    std::cout << fmt::format("{}: {} with {} users, {} items, {} non-zeros\n", a->file,
                                             out["type"].get<std::string>(), out["users"].get<std::int64_t>(),
                                             out["items"].get<std::int64_t>(), out["nnz"].get<std::int64_t>());
                    std::cout << out.dump(2) << "\n";
                }
                return 0;
            }};
}

}  // namespace encore::cli

#include "encore/kinds/family.hpp"

#include <chrono>

#include <fmt/format.h>

#include "encore/kinds/registry.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

KindOptionsRef ModelType::options(ModelOptions&) const { return {}; }

ModelKind parse_model_kind(std::string_view name) { return &model_type(name); }

std::string_view model_kind_name(ModelKind kind) { return kind ? kind->name() : "?"; }

ModelKind default_model_kind() { return model_types().front(); }

ModelOptions default_model_options(ModelKind kind) {
    ModelOptions o;
    o.kind = kind;
    kind->apply_defaults(o);
    return o;
}

nlohmann::json model_options_json(const ModelOptions& o) {
    const auto& w = o.weighting;
    nlohmann::json j = {{"model", model_kind_name(o.kind)},
                        {"threads", resolve_threads(o.threads)},
                        {"weighting", weighting_name(w.kind)},
                        {"K1", w.K1},
                        {"B", w.B},
                        {"alpha", w.alpha.value_or(default_alpha(w.kind))},
                        {"eps", w.eps}};
    o.kind->options_json(o, j);
    return j;
}

Model train_model(const Dataset& data, const ModelOptions& o, const std::string& source, TrainReport* report) {
    if (data.n_users() == 0 || data.n_items() == 0) throw Error("the dataset has no users or no items");
    if (!o.kind) throw OptionError("no model kind given");
    auto t0 = std::chrono::steady_clock::now();
    Model m;
    m.kind = std::string(o.kind->name());
    m.weighting = fit_weighting(data.by_user, o.weighting);
    m.user_items = apply_weighting(data.by_user, m.weighting, o.threads);
    KindTraining trained = o.kind->train(data, o, m);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.users = data.users;
    m.items = data.items;
    m.item_names = data.item_names;
    m.info["options"] = model_options_json(o);
    m.info["data"] = data.meta;
    m.info["data"]["source"] = source;
    trained.training["seconds"] = secs;
    m.info["training"] = trained.training;
    encore::report(o.reporter, fmt::format("trained {} on {} users x {} items in {:.2f} s", trained.summary,
                                           data.n_users(), data.n_items(), secs));
    if (report) {
        report->seconds = secs;
        report->training = trained.training;
    }
    return m;
}

}  // namespace encore

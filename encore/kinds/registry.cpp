#include "encore/kinds/registry.hpp"

#include <fmt/format.h>

#include "encore/util/error.hpp"

namespace encore {

#define ENCORE_DECLARE_KIND(name) const ModelType& name##_model_type();
ENCORE_MODEL_KINDS(ENCORE_DECLARE_KIND)
#undef ENCORE_DECLARE_KIND

namespace {

std::string known_kinds() {
    std::string s;
    for (const ModelType* t : model_types()) s += (s.empty() ? "" : ", ") + std::string(t->name());
    return s;
}

}  // namespace

std::span<const ModelType* const> model_types() {
#define ENCORE_KIND_ENTRY(name) &name##_model_type(),
    static const ModelType* const types[] = {ENCORE_MODEL_KINDS(ENCORE_KIND_ENTRY)};
#undef ENCORE_KIND_ENTRY
    return types;
}

const ModelType* find_model_type(std::string_view name) {
    for (const ModelType* t : model_types())
        if (t->name() == name) return t;
    return nullptr;
}

const ModelType& model_type(std::string_view name) {
    if (const ModelType* t = find_model_type(name)) return *t;
    throw OptionError(fmt::format("unknown model '{}' (known: {})", name, known_kinds()));
}

std::unique_ptr<Scorer> open_scorer(const Model& model, int threads) {
    const ModelType* t = find_model_type(model.kind);
    if (!t) fail("unknown model kind '{}' (this build knows: {})", model.kind, known_kinds());
    return t->open(model, threads);
}

// models/model.hpp declares it: the file format accepts the kinds this registry knows.
bool is_model_kind(std::string_view kind) { return find_model_type(kind) != nullptr; }

}  // namespace encore

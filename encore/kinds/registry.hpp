#pragma once
// The registry: model kinds by name. Every kind is one file in encore/kinds/ defining
// `const ModelType& NAME_model_type()`, and one line in ENCORE_MODEL_KINDS below.
#include <memory>
#include <span>
#include <string_view>

#include "encore/kinds/model_type.hpp"

// The kinds this build knows, in listing order (als first: the default).
#define ENCORE_MODEL_KINDS(X) X(als) X(lsa) X(bpr) X(lmf) X(knn) X(popular)

namespace encore {

std::span<const ModelType* const> model_types();
// The kind called name, or null.
const ModelType* find_model_type(std::string_view name);
// The kind called name; OptionError naming the known kinds otherwise.
const ModelType& model_type(std::string_view name);
// The model's kind, prepared for queries (Error for a kind this build does not know).
std::unique_ptr<Scorer> open_scorer(const Model& model, int threads = 0);

}  // namespace encore

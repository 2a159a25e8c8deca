// The lsa kind: truncated SVD of the weighted matrix (encore/models/lsa.hpp). A new user is projected
// as training projected every user; explanations split that projection exactly.
#include <fmt/format.h>

#include "encore/kinds/factor_scorer.hpp"
#include "encore/kinds/family.hpp"

namespace encore {

namespace {

class LsaType final : public ModelType {
public:
    std::string_view name() const override { return "lsa"; }
    std::string_view description() const override { return "latent semantic analysis: truncated SVD of the weighted matrix"; }
    KindOptionsRef options(ModelOptions& o) const override { return {&o.lsa}; }

    KindTraining train(const Dataset&, const ModelOptions& o, Model& m) const override {
        LsaOptions a = o.lsa;
        a.threads = o.threads;
        a.reporter = o.reporter;
        LsaReport r;
        train_lsa(m.user_items, m.user_items.transpose(o.threads), a, m.user_factors, m.item_factors, &r);
        KindTraining t;
        t.training["singular_values"] = r.singular_values;
        t.summary = fmt::format("LSA ({} factors, {} power iterations)", a.factors, a.power_iterations);
        return t;
    }

    void options_json(const ModelOptions& o, nlohmann::json& j) const override {
        j.update({{"factors", o.lsa.factors}, {"oversample", o.lsa.oversample},
                  {"power_iterations", o.lsa.power_iterations}, {"seed", o.lsa.seed}});
    }

    std::unique_ptr<Scorer> open(const Model& model, int threads) const override {
        return std::make_unique<FactorScorer>(
            model, FactorRules{FactorRules::FoldIn::projection, FactorRules::Explain::gram}, threads);
    }
};

}  // namespace

const ModelType& lsa_model_type() {
    static const LsaType type;
    return type;
}

}  // namespace encore

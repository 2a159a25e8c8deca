// The als kind: implicit ALS (Hu, Koren, Volinsky 2008; encore/models/als.hpp). New users are solved
// exactly; explanations are implicit's exact split of the score over the played items.
#include <fmt/format.h>

#include "encore/kinds/factor_scorer.hpp"
#include "encore/kinds/family.hpp"

namespace encore {

namespace {

class AlsType final : public ModelType {
public:
    std::string_view name() const override { return "als"; }
    std::string_view description() const override { return "implicit ALS (Hu, Koren, Volinsky 2008), CG or Cholesky"; }
    KindOptionsRef options(ModelOptions& o) const override { return {&o.als}; }

    KindTraining train(const Dataset&, const ModelOptions& o, Model& m) const override {
        AlsOptions a = o.als;
        a.threads = o.threads;
        a.reporter = o.reporter;
        AlsReport r;
        train_als(m.user_items, m.user_items.transpose(o.threads), a, m.user_factors, m.item_factors, &r);
        m.regularization = a.regularization;
        KindTraining t;
        t.training["loss"] = r.loss;
        t.training["als_seconds"] = r.seconds;
        t.training["seconds_per_iteration"] = a.iterations > 0 ? r.seconds / a.iterations : 0.0;
        t.summary = fmt::format("ALS ({} factors, {} iterations, {})", a.factors, a.iterations, als_solver_name(a.solver));
        return t;
    }

    void options_json(const ModelOptions& o, nlohmann::json& j) const override {
        j.update({{"factors", o.als.factors}, {"regularization", o.als.regularization},
                  {"iterations", o.als.iterations}, {"solver", als_solver_name(o.als.solver)},
                  {"cg_steps", o.als.cg_steps}, {"cg_gather", o.als.half_gather ? "half" : "float"},
                  {"cg_basis", o.als.eigenbasis ? "eigen" : "original"},
                  {"cg_precondition", o.als.eigenbasis && o.als.cg_precondition},
                  {"seed", o.als.seed}});
    }

    std::unique_ptr<Scorer> open(const Model& model, int threads) const override {
        return std::make_unique<FactorScorer>(
            model, FactorRules{FactorRules::FoldIn::least_squares, FactorRules::Explain::weighted_gram}, threads);
    }
};

}  // namespace

const ModelType& als_model_type() {
    static const AlsType type;
    return type;
}

}  // namespace encore

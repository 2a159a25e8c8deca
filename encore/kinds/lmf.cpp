// The lmf kind: logistic matrix factorisation (Johnson 2014; encore/models/lmf.hpp). New users and
// explanations as for bpr (no closed form for a new user).
#include <fmt/format.h>

#include "encore/kinds/factor_scorer.hpp"
#include "encore/kinds/family.hpp"

namespace encore {

namespace {

class LmfType final : public ModelType {
public:
    std::string_view name() const override { return "lmf"; }
    std::string_view description() const override { return "logistic matrix factorisation (Johnson 2014), AdaGrad"; }
    KindOptionsRef options(ModelOptions& o) const override { return {&o.lmf}; }

    void apply_defaults(ModelOptions& o) const override {
        // Johnson's confidence: raw play counts (thousands) would swamp the negatives.
        o.weighting.kind = WeightingKind::log;
        o.weighting.alpha = 1.0f;
    }

    KindTraining train(const Dataset&, const ModelOptions& o, Model& m) const override {
        LmfOptions a = o.lmf;
        a.threads = o.threads;
        a.reporter = o.reporter;
        LmfReport r;
        train_lmf(m.user_items, m.user_items.transpose(o.threads), a, m.user_factors, m.item_factors, &r);
        m.regularization = a.regularization;
        KindTraining t;
        t.training["log_likelihood"] = r.log_likelihood;
        t.summary = fmt::format("LMF ({} factors, {} iterations)", a.factors, a.iterations);
        return t;
    }

    void options_json(const ModelOptions& o, nlohmann::json& j) const override {
        j.update({{"factors", o.lmf.factors}, {"learning_rate", o.lmf.learning_rate},
                  {"regularization", o.lmf.regularization}, {"iterations", o.lmf.iterations},
                  {"negative_samples", o.lmf.negative_samples}, {"seed", o.lmf.seed}});
    }

    std::unique_ptr<Scorer> open(const Model& model, int threads) const override {
        return std::make_unique<FactorScorer>(
            model, FactorRules{FactorRules::FoldIn::least_squares, FactorRules::Explain::similarity}, threads);
    }
};

}  // namespace

const ModelType& lmf_model_type() {
    static const LmfType type;
    return type;
}

}  // namespace encore

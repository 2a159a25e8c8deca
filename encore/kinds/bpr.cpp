// The bpr kind: Bayesian Personalized Ranking (encore/models/bpr.hpp). BPR has no closed form for a new
// user, so ALS's least-squares fit against its item factors stands in; explanations name the played
// items most like the result.
#include <fmt/format.h>

#include "encore/kinds/factor_scorer.hpp"
#include "encore/kinds/family.hpp"

namespace encore {

namespace {

class BprType final : public ModelType {
public:
    std::string_view name() const override { return "bpr"; }
    std::string_view description() const override { return "Bayesian Personalized Ranking (Rendle et al. 2009), Hogwild SGD"; }
    KindOptionsRef options(ModelOptions& o) const override { return {&o.bpr}; }

    void apply_defaults(ModelOptions& o) const override {
        o.weighting.kind = WeightingKind::none;  // only which cells are played matters
    }

    KindTraining train(const Dataset&, const ModelOptions& o, Model& m) const override {
        BprOptions a = o.bpr;
        a.threads = o.threads;
        a.reporter = o.reporter;
        BprReport r;
        train_bpr(m.user_items, a, m.user_factors, m.item_factors, &r);
        // Fold-in of new users solves least squares against the item factors with this lambda.
        m.regularization = a.regularization;
        KindTraining t;
        t.training["accuracy"] = r.accuracy;
        t.training["skipped"] = r.skipped;
        t.summary = fmt::format("BPR ({} factors, {} epochs, final training accuracy {:.4f})", a.factors, a.iterations,
                                r.accuracy.empty() ? 0.0 : r.accuracy.back());
        return t;
    }

    void options_json(const ModelOptions& o, nlohmann::json& j) const override {
        j.update({{"factors", o.bpr.factors}, {"learning_rate", o.bpr.learning_rate},
                  {"regularization", o.bpr.regularization}, {"iterations", o.bpr.iterations},
                  {"verify_negatives", o.bpr.verify_negatives}, {"redraw_negatives", o.bpr.redraw_negatives},
                  {"negatives", o.bpr.popular_negatives ? "popular" : "uniform"}, {"seed", o.bpr.seed}});
    }

    std::unique_ptr<Scorer> open(const Model& model, int threads) const override {
        return std::make_unique<FactorScorer>(
            model, FactorRules{FactorRules::FoldIn::least_squares, FactorRules::Explain::similarity}, threads);
    }
};

}  // namespace

const ModelType& bpr_model_type() {
    static const BprType type;
    return type;
}

}  // namespace encore

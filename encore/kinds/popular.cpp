// The popular kind: items by their number of listeners (a baseline). One factor: users all 1, items
// their listener count scaled to the largest, so recommendations are the factor path's dot product;
// related items are the same global order for every item (the item itself left out).
#include <algorithm>

#include "encore/kinds/factor_scorer.hpp"
#include "encore/kinds/family.hpp"

namespace encore {

namespace {

class PopularScorer final : public FactorScorer {
public:
    PopularScorer(const Model& model, int threads)
        : FactorScorer(model, FactorRules{FactorRules::FoldIn::constant, FactorRules::Explain::none}, threads),
          order_(static_cast<std::size_t>(model.n_items())) {
        // Ties: lower index first, as top-k ranks them.
        for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::int32_t>(i);
        std::stable_sort(order_.begin(), order_.end(), [&](std::int32_t a, std::int32_t b) {
            return model.item_factors.row(a)[0] > model.item_factors.row(b)[0];
        });
    }

    std::vector<ScoredItem> related(std::int32_t item, std::span<const std::uint8_t> allowed, int n) const override {
        std::vector<ScoredItem> out;
        for (auto j : order_) {
            if (static_cast<int>(out.size()) >= n) break;
            if (j == item || (!allowed.empty() && !allowed[j])) continue;
            out.push_back({j, model().item_factors.row(j)[0]});
        }
        return out;
    }

    // The global order per item (Scorer's per-item batch), not the factor path's cosine scan.
    std::vector<std::vector<ScoredItem>> related_all(std::span<const std::uint8_t> allowed,
                                                     const TopKOptions& options) const override {
        return Scorer::related_all(allowed, options);
    }
    std::vector<std::vector<ScoredItem>> related_for(std::span<const std::int32_t> items, int n,
                                                     int threads) const override {
        return Scorer::related_for(items, n, threads);
    }

    double similarity(std::int32_t, std::int32_t other) const override { return model().item_factors.row(other)[0]; }

private:
    std::vector<std::int32_t> order_;
};

class PopularType final : public ModelType {
public:
    std::string_view name() const override { return "popular"; }
    std::string_view description() const override { return "items by number of listeners (a baseline)"; }

    void apply_defaults(ModelOptions& o) const override { o.weighting.kind = WeightingKind::none; }

    KindTraining train(const Dataset& data, const ModelOptions&, Model& m) const override {
        const Csr& c = m.user_items;
        std::vector<double> count(static_cast<std::size_t>(data.n_items()), 0.0);
        for (std::int64_t k = 0; k < c.nnz(); ++k)
            if (c.values[k] > 0) count[c.indices[k]] += 1;
        double top = 1;
        for (double x : count) top = std::max(top, x);
        m.user_factors = Matrix(data.n_users(), 1);
        m.item_factors = Matrix(data.n_items(), 1);
        for (std::int64_t u = 0; u < data.n_users(); ++u) m.user_factors.row(u)[0] = 1.0f;
        for (std::int64_t i = 0; i < data.n_items(); ++i)
            m.item_factors.row(i)[0] = static_cast<float>(count[static_cast<std::size_t>(i)] / top);
        KindTraining t;
        t.summary = "popularity baseline";
        return t;
    }

    void options_json(const ModelOptions&, nlohmann::json&) const override {}

    std::unique_ptr<Scorer> open(const Model& model, int threads) const override {
        return std::make_unique<PopularScorer>(model, threads);
    }
};

}  // namespace

const ModelType& popular_model_type() {
    static const PopularType type;
    return type;
}

}  // namespace encore

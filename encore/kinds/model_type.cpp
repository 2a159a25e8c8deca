#include "encore/kinds/model_type.hpp"

#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

std::vector<std::vector<ScoredItem>> Scorer::related_all(std::span<const std::uint8_t> allowed,
                                                        const TopKOptions& options) const {
    const auto rows = query_rows(options, model().n_items());
    std::vector<std::vector<ScoredItem>> out(static_cast<std::size_t>(rows.size()));
    const int threads = resolve_threads(options.threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
    for (std::int64_t q = 0; q < rows.size(); ++q) {
        if (options.cancel && options.cancel->load(std::memory_order_relaxed)) continue;
        out[static_cast<std::size_t>(q)] = related(static_cast<std::int32_t>(rows.first + q), allowed, options.k);
        if (options.progress) options.progress->add(1);
    }
    return out;
}

std::vector<std::vector<ScoredItem>> Scorer::related_for(std::span<const std::int32_t> items, int n, int) const {
    std::vector<std::vector<ScoredItem>> out;
    for (auto i : items) out.push_back(related(i, {}, n));
    return out;
}

std::vector<ScoredItem> Scorer::similar_users(std::int32_t, int) const {
    fail("similar users need a factor model (this one is {})", model().kind);
}

std::vector<float> Scorer::user_vector(const UserProfile&) const {
    fail("a {} model has no user vectors (query it without an index)", model().kind);
}

}  // namespace encore

#pragma once
// Item-item nearest neighbours. Every item is a vector over users; the similarity of two items is the
// dot product of their vectors after one of three weightings of the plays:
//   cosine  the values as given (the model's confidences), each item vector scaled to unit length
//   tfidf   sqrt(x) * idf_u (as the tfidf weighting), then unit length
//   bm25    the bm25 weighting with K1, B, not normalised (popular items keep larger similarities)
// Each item keeps its K most similar other items (ties: lower index first). The products are computed
// sparse (for item i: over its users u, over u's items j), one item per task, so the result does not
// depend on the thread count. Recommending sums, over the user's played items j, c_uj * s_ji.
#include <cstdint>
#include <string_view>

#include "encore/data/csr.hpp"

namespace encore {

class Reporter;  // encore/util/progress.hpp

enum class KnnSimilarity { cosine, tfidf, bm25 };
KnnSimilarity parse_knn_similarity(std::string_view name);  // throws OptionError
std::string_view knn_similarity_name(KnnSimilarity s);

struct KnnOptions {
    KnnSimilarity similarity = KnnSimilarity::cosine;
    int K = 20;            // neighbours kept per item
    float K1 = 1.2f;       // bm25 only (implicit's BM25Recommender defaults)
    float B = 0.75f;       // bm25 only
    int threads = 0;       // 0 = all cores
    Reporter* reporter = nullptr;  // progress; null = silent
};

// values_by_user: users x items, the values the similarity is computed from (for cosine the
// confidences, for tfidf/bm25 the raw plays). Returns items x items: row i = i's top-K neighbours j != i
// with s_ij > 0, indices ascending. Throws OptionError on bad options.
Csr train_knn(const Csr& values_by_user, const KnnOptions& options);

// The item vectors train_knn compares (items x users, weighted and normalised as the similarity says);
// the similarity of i and j is the dot product of their rows. Exposed for tests and explanations.
Csr knn_item_vectors(const Csr& values_by_user, const KnnOptions& options);

}  // namespace encore

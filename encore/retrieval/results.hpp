#pragma once
// What a query answers with: ranked items, each with the played items that explain it.
#include <cstdint>
#include <vector>

namespace encore {

// One played item's share of a score ("because you played X").
struct Contribution {
    std::int32_t item;
    float score;
};

struct Recommendation {
    std::int32_t id;
    float score;
    std::vector<Contribution> because;  // filled when explanations are asked for
};

}  // namespace encore

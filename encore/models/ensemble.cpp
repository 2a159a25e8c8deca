#include "encore/models/ensemble.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>
#include <xxhash.h>

#include "encore/io/container.hpp"
#include "encore/util/json.hpp"
#include "encore/util/error.hpp"

namespace encore {

namespace {

constexpr Magic kEnsembleMagic = {'E', 'N', 'C', 'O', 'E', 'N', 'S', 'M'};

nlohmann::json weights_json(const EnsembleWeights& w) { return {{"weights", w.weights}, {"bias", w.bias}}; }

EnsembleWeights weights_from_json(const nlohmann::json& j, std::size_t members, const std::string& path,
                                  const char* name) {
    EnsembleWeights w;
    try {
        w.weights = j.at("weights").get<std::vector<double>>();
        w.bias = j.at("bias").get<double>();
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, fmt::format("ensemble section: bad '{}' weights: {}", name, e.what()));
    }
    if (w.weights.size() != members)
        throw FormatError(path, fmt::format("ensemble section: '{}' has {} weights for {} members", name,
                                            w.weights.size(), members));
    for (double v : w.weights)
        if (!std::isfinite(v)) throw FormatError(path, fmt::format("ensemble section: '{}' weight not finite", name));
    if (!std::isfinite(w.bias)) throw FormatError(path, fmt::format("ensemble section: '{}' bias not finite", name));
    return w;
}

double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

}  // namespace

std::uint64_t items_fingerprint(const StringTable& items) {
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto s = items[i];
        const std::uint64_t len = s.size();  // the length keeps ("ab","c") apart from ("a","bc")
        XXH3_64bits_update(state, &len, sizeof len);
        XXH3_64bits_update(state, s.data(), s.size());
    }
    const auto h = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    return h;
}

void check_same_items(std::span<const Model* const> models) {
    if (models.empty()) fail("ensemble: no models given");
    const Model& first = *models[0];
    const auto fp = items_fingerprint(first.items);
    for (std::size_t m = 1; m < models.size(); ++m) {
        const Model& o = *models[m];
        if (o.n_items() != first.n_items() || o.items.size() != first.items.size())
            fail("ensemble: model {} ({}) has {} items, model 1 ({}) has {}: the models must be trained on the same data",
                 m + 1, o.kind, o.n_items(), first.kind, first.n_items());
        if (items_fingerprint(o.items) != fp) {
            std::size_t i = 0;
            while (i < first.items.size() && first.items[i] == o.items[i]) ++i;
            fail("ensemble: model {} ({}) has different items than model 1 ({}): item {} is '{}' there, '{}' here",
                 m + 1, o.kind, first.kind, i, o.items[i], first.items[i]);
        }
        if (o.users.size() != first.users.size() || o.user_items.rows != first.user_items.rows)
            fail("ensemble: model {} ({}) has {} users, model 1 ({}) has {}: the models must be trained on the same data",
                 m + 1, o.kind, o.users.size(), first.kind, first.users.size());
    }
}

void check_ensemble_models(const Ensemble& e, std::span<const Model* const> models) {
    check_same_items(models);
    if (e.members.size() != models.size())
        fail("ensemble file has {} members, {} models given (give the models in the order they were fitted)",
             e.members.size(), models.size());
    for (std::size_t m = 0; m < models.size(); ++m) {
        if (e.members[m].kind != models[m]->kind)
            fail("ensemble member {} is a {} model, model {} given is {} (give the models in the order they were fitted)",
                 m + 1, e.members[m].kind, m + 1, models[m]->kind);
        if (e.members[m].items_fingerprint != items_fingerprint(models[m]->items) || e.n_items != models[m]->n_items())
            fail("ensemble member {} ({}) was fitted on other items than the model given", m + 1, e.members[m].kind);
    }
}

Ensemble equal_weight_ensemble(std::span<const Model* const> models, int candidates) {
    check_same_items(models);
    if (candidates < 1) throw OptionError(fmt::format("ensemble: candidates must be at least 1, got {}", candidates));
    Ensemble e;
    e.n_items = models[0]->n_items();
    e.candidates = candidates;
    for (const Model* m : models) e.members.push_back({m->kind, items_fingerprint(m->items)});
    e.related.weights.assign(models.size(), 1.0);
    e.recommend.weights.assign(models.size(), 1.0);
    e.info = {{"fit", "equal weights"}};
    return e;
}

void save_ensemble(const Ensemble& e, const std::string& path) {
    if (e.candidates < 1) throw OptionError(fmt::format("ensemble: candidates must be at least 1, got {}", e.candidates));
    if (e.related.weights.size() != e.members.size() || e.recommend.weights.size() != e.members.size())
        fail("ensemble: {} members but {}/{} weights", e.members.size(), e.related.weights.size(),
             e.recommend.weights.size());
    nlohmann::json j;
    j["members"] = nlohmann::json::array();
    for (const auto& m : e.members)
        j["members"].push_back({{"kind", m.kind}, {"items_fingerprint", fmt::format("{:016x}", m.items_fingerprint)}});
    j["n_items"] = e.n_items;
    j["candidates"] = e.candidates;
    j["normalisation"] = "zscore";
    j["related"] = weights_json(e.related);
    j["recommend"] = weights_json(e.recommend);
    j["info"] = e.info;
    ContainerWriter w(kEnsembleMagic, kEnsembleVersion);
    w.add_text("ensemble", json_text(j, 2));
    w.write(path);
}

Ensemble load_ensemble(const std::string& path) {
    auto r = ContainerReader::open(path, kEnsembleMagic, kEnsembleVersion, true);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(r.text("ensemble"));
    } catch (const nlohmann::json::exception& ex) {
        throw FormatError(path, fmt::format("ensemble section is not JSON: {}", ex.what()));
    }
    Ensemble e;
    try {
        for (const auto& m : j.at("members")) {
            EnsembleMember mem;
            mem.kind = m.at("kind").get<std::string>();
            const auto fp = m.at("items_fingerprint").get<std::string>();
            std::size_t used = 0;
            mem.items_fingerprint = std::stoull(fp, &used, 16);
            if (used != fp.size()) throw FormatError(path, fmt::format("bad items_fingerprint '{}'", fp));
            if (!is_model_kind(mem.kind)) throw FormatError(path, fmt::format("unknown member kind '{}'", mem.kind));
            e.members.push_back(mem);
        }
        e.n_items = j.at("n_items").get<std::int64_t>();
        e.candidates = j.at("candidates").get<int>();
        const auto norm = j.at("normalisation").get<std::string>();
        if (norm != "zscore") throw FormatError(path, fmt::format("unknown normalisation '{}'", norm));
        if (j.contains("info")) e.info = j["info"];
    } catch (const nlohmann::json::exception& ex) {
        throw FormatError(path, fmt::format("ensemble section: {}", ex.what()));
    } catch (const std::logic_error&) {  // stoull on a non-hex string
        throw FormatError(path, "ensemble section: bad items_fingerprint");
    }
    if (e.members.empty()) throw FormatError(path, "ensemble has no members");
    if (e.candidates < 1) throw FormatError(path, fmt::format("ensemble candidates {} < 1", e.candidates));
    e.related = weights_from_json(j["related"], e.members.size(), path, "related");
    e.recommend = weights_from_json(j["recommend"], e.members.size(), path, "recommend");
    return e;
}

LogisticFit fit_logistic(std::span<const double> x, std::span<const std::uint8_t> y, int d, const LogisticOptions& o) {
    if (d < 1) fail("logistic regression: {} features", d);
    const auto n = static_cast<std::int64_t>(y.size());
    if (n == 0) fail("logistic regression: no examples");
    if (x.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(d))
        fail("logistic regression: {} feature values for {} rows of {}", x.size(), n, d);
    std::int64_t pos = 0;
    for (auto v : y) pos += v ? 1 : 0;
    if (pos == 0 || pos == n) fail("logistic regression: every example is {}; need both classes", pos ? "positive" : "negative");

    // Parameters: [bias, w_1..w_d]. Newton on the mean log-likelihood minus l2/2 |w|^2.
    const int p = d + 1;
    Eigen::VectorXd beta = Eigen::VectorXd::Zero(p);
    beta[0] = std::log(double(pos) / double(n - pos));  // the intercept-only optimum: a safe start
    LogisticFit fit;
    Eigen::VectorXd row(p);
    for (int it = 0; it < o.max_iterations; ++it) {
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(p, p);
        Eigen::VectorXd g = Eigen::VectorXd::Zero(p);
        for (std::int64_t r = 0; r < n; ++r) {
            row[0] = 1;
            for (int k = 0; k < d; ++k) row[k + 1] = x[static_cast<std::size_t>(r * d + k)];
            const double pr = sigmoid(row.dot(beta));
            g.noalias() += (double(y[r] != 0) - pr) * row;
            H.selfadjointView<Eigen::Lower>().rankUpdate(row, std::max(pr * (1 - pr), 1e-12));
        }
        H = H.selfadjointView<Eigen::Lower>();
        g /= double(n);
        H /= double(n);
        for (int k = 1; k < p; ++k) {
            g[k] -= o.l2 * beta[k];
            H(k, k) += o.l2;
        }
        H.diagonal().array() += 1e-12;  // a constant feature column leaves H singular without it
        const Eigen::VectorXd step = H.ldlt().solve(g);
        beta += step;
        fit.iterations = it + 1;
        if (step.cwiseAbs().maxCoeff() < o.tolerance) break;
    }
    double loss = 0;
    for (std::int64_t r = 0; r < n; ++r) {
        double z = beta[0];
        for (int k = 0; k < d; ++k) z += beta[k + 1] * x[static_cast<std::size_t>(r * d + k)];
        // -log sigmoid(z) = log1p(exp(-z)), computed stably on both sides.
        const double s = y[r] ? -z : z;
        loss += s > 0 ? s + std::log1p(std::exp(-s)) : std::log1p(std::exp(s));
    }
    fit.log_loss = loss / double(n);
    fit.weights.bias = beta[0];
    fit.weights.weights.assign(beta.data() + 1, beta.data() + p);
    return fit;
}

}  // namespace encore

// The option registry: defaults agree with the library's, every range and choice is enforced with a
// message naming the option, typed and text values agree, and the JSON has every field.
#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "encore/models/model.hpp"
#include "encore/options/registry.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const OptionError& e) {
        return e.what();
    }
    return "";
}

bool is_model(const OptionSpec& s) { return s.group == OptionGroup::weighting || s.group == OptionGroup::model; }

TEST(Options, DefaultsAreTheLibrarysAndInRange) {
    for (const auto& kind : model_kind_names()) {
        const ModelOptions d = default_model_options(parse_model_kind(kind));
        EXPECT_NO_THROW(check_model_options(d)) << kind;
        const auto recorded = model_options_json(d);
        for (const auto& s : option_registry()) {
            if (!is_model(s)) continue;
            auto v = option_default(s, kind);
            EXPECT_EQ(v.has_value(), s.applies_to(kind)) << s.name << " " << kind;
            EXPECT_EQ(get_model_option(d, s.name).has_value(), s.applies_to(kind)) << s.name << " " << kind;
            if (!v) continue;
            // The same value through the record info["options"] keeps (names with '_').
            std::string key = s.name;
            std::replace(key.begin(), key.end(), '-', '_');
            if (kind == "knn" && (key == "K1" || key == "B")) key = "knn_" + key;
            if (key == "neighbours" || key == "loss") continue;
            if (recorded.contains(key)) {
                const auto want = option_value_json(*v);
                if (want.is_number_float())  // the record keeps the float32 the struct holds
                    EXPECT_EQ(recorded[key].get<float>(), want.get<float>()) << s.name << " " << kind;
                else
                    EXPECT_EQ(recorded[key], want) << s.name << " " << kind;
            }
        }
    }
    EXPECT_EQ(option_value_text(*option_default(find_option("iterations", {OptionGroup::model}), "bpr")), "100");
    EXPECT_EQ(option_value_text(*option_default(find_option("weighting", {OptionGroup::weighting}), "lmf")), "log");
}

TEST(Options, RangesChoicesAndTypesAreEnforcedNamingTheOption) {
    EXPECT_EQ(error_of([] { model_options_from("als", {{"factors", "0"}}); }), "factors must be in [1, 4096], got 0");
    EXPECT_EQ(error_of([] { model_options_from("als", {{"factors", "1.5"}}); }), "factors must be an integer, got '1.5'");
    EXPECT_EQ(error_of([] { model_options_from("als", {{"solver", "x"}}); }), "solver must be one of cg, cholesky, got 'x'");
    EXPECT_EQ(error_of([] { model_options_from("bpr", {{"factors", std::int64_t{1}}}); }),
              "factors must be in [2, 4096] for bpr, got 1");
    EXPECT_EQ(error_of([] { model_options_from("als", {{"alpha", 0.0}}); }), "alpha must be > 0, got 0");
    EXPECT_EQ(error_of([] { model_options_from("als", {{"neighbours", "5"}}); }), "neighbours does not apply to als (only to knn)");
    EXPECT_NE(error_of([] { model_options_from("als", {{"factor", "5"}}); }).find("did you mean: factors"), std::string::npos);
    for (const auto& s : option_registry()) {
        if (s.type != OptionType::integer && s.type != OptionType::number) continue;
        EXPECT_FALSE(std::isinf(s.range.hi) && s.type == OptionType::integer) << s.name;
        const double below = s.range.lo_open ? s.range.lo : s.range.lo - 1;
        EXPECT_NE(error_of([&] { check_option(s, below); }).find(s.name + " must be"), std::string::npos) << s.name;
        const double top = std::isinf(s.range.hi) ? 1e6 : s.range.hi;  // non-finite values are refused
        EXPECT_NO_THROW(check_option(s, fmt::format("{}", top))) << s.name;
    }
}

TEST(Options, TypedAndTextAgree) {
    auto a = model_options_from("bpr", {{"factors", "32"}, {"learning-rate", "0.01"}, {"verify-negatives", "false"}});
    auto b = model_options_from("bpr", {{"factors", std::int64_t{32}}, {"learning-rate", 0.01}, {"verify-negatives", false}});
    EXPECT_EQ(model_options_json(a), model_options_json(b));
    EXPECT_EQ(a.bpr.factors, 32);
    EXPECT_FALSE(a.bpr.verify_negatives);
}

TEST(Options, JsonHasEveryField) {
    auto j = options_json();
    ASSERT_FALSE(j["options"].empty());
    for (const auto& o : j["options"])
        for (auto key : {"name", "group", "type", "help", "kinds", "choices", "range", "range_min_exclusive",
                         "range_by_kind", "default", "defaults", "default_rule"})
            EXPECT_TRUE(o.contains(key)) << o["name"] << " " << key;
    EXPECT_THROW(options_json("svd"), OptionError);
}

TEST(OptionsCli, JsonHelpAndErrors) {
    auto r = testing::run_cli("options --json");
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    bool found = false;
    for (const auto& o : j["options"])
        if (o["name"] == "factors") found = o["range"] == nlohmann::json::array({1, 4096});
    EXPECT_TRUE(found);
    auto bad = testing::run_cli("train x.tsv -o x.encm --factors 0");
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("--factors: factors must be in [1, 4096], got 0"), std::string::npos) << bad.output;
    auto help = testing::run_cli("train --help");
    for (const auto& s : option_registry())
        if (is_model(s) && s.type != OptionType::choice) {
            EXPECT_EQ(help.output.find("--" + s.name + " TEXT"), std::string::npos) << s.name;
        }
}

}  // namespace
}  // namespace encore

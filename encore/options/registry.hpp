#pragma once
// The option registry: every weighting, training, index and query option declared once, with its
// name, group, type, help, the kinds it applies to, its allowed range or choices, and its default per
// kind. Every front end builds on it: the CLI makes its flags and --help from it, `encore options
// --json` prints it, the HTTP server and the Python bindings set options through it. Its checks are
// the ones enforced, and their messages name the option ("factors must be in [1, 4096], got 0"); a
// front end may add its own spelling ("--factors: ...").
//
//   ModelOptions o = model_options_from("bpr", {{"factors", "32"}, {"learning-rate", 0.01}});
//   set_model_option(o, "iterations", std::int64_t{50});      // typed (Python) or text (argv, URLs)
//   nlohmann::json j = options_json("als");                    // what `encore options --kind als --json` prints
//
// Defaults are not restated here: they are read from the library's own structs (default_model_options,
// IndexBuildOptions{}, QuerySettings{}), so what the registry reports is what an unset option gives.
// Where a default depends on another option (alpha on the weighting, search-k on trees), the spec
// carries a rule in words and the value computed for the kind's defaults.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/kinds/family.hpp"
#include "encore/retrieval/ann.hpp"

namespace encore {

enum class OptionGroup { weighting, model, index, query };
std::string_view option_group_name(OptionGroup group);

// int, float, bool, enum (one of `choices`), uint64 (seeds).
enum class OptionType { integer, number, boolean, choice, uint64 };
std::string_view option_type_name(OptionType type);

// A value as a front end hands it over: typed (Python, JSON) or text (argv, query strings; parsed by
// the option's type). check_option returns it in the option's own type: int64 for int, double for
// float, bool, std::string for enum, uint64 for uint64.
using OptionValue = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;
using OptionValues = std::map<std::string, OptionValue, std::less<>>;
std::string option_value_text(const OptionValue& value);  // 64, 0.01, true, cg
nlohmann::json option_value_json(const OptionValue& value);

// Allowed values of a number: [lo, hi], or (lo, hi] with lo_open; hi may be infinite.
struct OptionRange {
    double lo = 0;
    double hi = std::numeric_limits<double>::infinity();
    bool lo_open = false;
    bool contains(double x) const { return (lo_open ? x > lo : x >= lo) && x <= hi; }
};

// Query-time settings every query front end takes; defaults from the library's QueryOptions and
// Ensemble.
struct QuerySettings {
    int n;                 // results per query
    int explain;           // played items listed per result as its explanation; 0 = none
    bool include_played;   // recommend: keep items the user played
    int candidates;        // ensemble: each model's top-N that forms the candidates
    int search = 0;        // ANN query effort (ef or search-k); 0 = the index's own default
    QuerySettings();
};

struct OptionSpec {
    std::string name{};  // as in `--name`, `name=` and Python's name (with '_' for '-')
    OptionGroup group = OptionGroup::model;
    OptionType type = OptionType::integer;
    std::string help{};  // one line
    std::vector<std::string> choices{};  // enum: the allowed values
    OptionRange range{};                 // int, float, uint64 (uint64: [0, 2^64 - 1] whatever this says)
    // A narrower range for some kinds (bpr's factors include the item bias, so at least 2).
    std::vector<std::pair<std::string, OptionRange>> kind_ranges{};
    // weighting/model: the model kinds it applies to; index/query: the index kinds (forest, graph);
    // empty = every kind.
    std::vector<std::string> kinds{};
    // When the default depends on another option or is decided elsewhere, in words; else empty.
    std::string default_rule{};

    bool applies_to(std::string_view kind) const;
    const OptionRange& range_for(std::string_view kind) const;  // kind may be empty
};

// Every option, in help order (weighting, model, index, query).
const std::vector<OptionSpec>& option_registry();
// The kinds the registry knows: model kinds (as parse_model_kind takes them) and index kinds.
const std::vector<std::string>& model_kind_names();
const std::vector<std::string>& index_kind_names();

// The option called name among the groups given (names are unique within weighting + model, within
// index and within query). Unknown -> OptionError "unknown option 'factor'; did you mean: factors?".
const OptionSpec& find_option(std::string_view name, std::initializer_list<OptionGroup> groups);

// Checks a value (typed, or text parsed by the option's type) against the option's type and its range
// or choices for kind (the widest range when kind is empty); returns it in the option's type.
// OptionError: "factors must be in [1, 4096], got 0", "factors must be an integer, got '1.5'",
// "solver must be one of cg, cholesky, got 'x'", "factors must be in [2, 4096] for bpr, got 1".
OptionValue check_option(const OptionSpec& spec, const OptionValue& value, std::string_view kind = {});

// The default of an option for a kind (a model kind for weighting/model options, ignored otherwise);
// nullopt where it does not apply or is decided elsewhere (see default_rule).
std::optional<OptionValue> option_default(const OptionSpec& spec, std::string_view kind = {});

// Weighting + model options. set_model_option checks the value for options.kind; an option that does
// not apply to that kind is an OptionError naming the kinds it applies to.
void set_model_option(ModelOptions& options, std::string_view name, const OptionValue& value);
// nullopt when the option does not apply to options.kind.
std::optional<OptionValue> get_model_option(const ModelOptions& options, std::string_view name);
// default_model_options(kind) with the values set (kind as parse_model_kind takes it).
ModelOptions model_options_from(std::string_view kind, const OptionValues& values);
// Checks every option that applies to options.kind against the registry (for structs filled in code).
void check_model_options(const ModelOptions& options);

// Index build options (IndexBuildOptions); an option of the other index kind is an OptionError.
void set_index_option(IndexBuildOptions& options, std::string_view name, const OptionValue& value);
std::optional<OptionValue> get_index_option(const IndexBuildOptions& options, std::string_view name);
IndexBuildOptions index_options_from(const OptionValues& values);

// Query options.
void set_query_option(QuerySettings& settings, std::string_view name, const OptionValue& value);
std::optional<OptionValue> get_query_option(const QuerySettings& settings, std::string_view name);
QuerySettings query_settings_from(const OptionValues& values);

// The registry as JSON: {"kind": K or null, "options": [{name, group, type, help, kinds, choices,
// range: [lo, hi] (null: unbounded or not a number), range_min_exclusive, range_by_kind, default,
// defaults: {kind: value} (weighting/model options), default_rule}, ...]}. With a kind (a model kind:
// the weighting and model options that apply to it; an index kind: the index and query options that
// apply to it), defaults and ranges are that kind's. Unknown kind -> OptionError.
nlohmann::json options_json(std::optional<std::string_view> kind = std::nullopt);

// The defaults of an option as one line for help texts: "64", "als 15, bpr 100, lmf 30", or the rule.
std::string option_default_text(const OptionSpec& spec, std::string_view kind = {});
// "[1, 4096]", "> 0", ">= 0", "cg|cholesky", "" for bool.
std::string option_range_text(const OptionSpec& spec, std::string_view kind = {});

}  // namespace encore

#pragma once
// What an encore file holds, for `encore info` and any other front end: the container magic picks the
// kind (.encd dataset, .encm model, .enci ANN index, .ence ensemble), then the kind's own loader reads
// it (sections mapped; checksums checked for datasets, models and ensembles).
#include <string>

#include <nlohmann/json.hpp>

namespace encore {

// {"type": "dataset" | "model" | "index" | "ensemble", "path": ..., then the kind's shape and
// provenance}. A file that is not an encore container -> Error "FILE: not an encore file (...)";
// a damaged one -> the loader's FormatError. Lists of dropped ids in the metadata are cut to their
// first 10 entries ("ids_shown" says so).
nlohmann::json describe_file(const std::string& path);

// One line summarising describe_file's answer, e.g. "model.encm: als model with 400 users, 300 items,
// 16 factors, 9876 non-zeros".
std::string describe_line(const nlohmann::json& description);

}  // namespace encore

#pragma once
// JSON text that is always valid: nlohmann's dump() throws on a string holding bytes that are not
// UTF-8 (old files ingested before encoding checks could hold them); every JSON encore writes goes
// through here, and such bytes become U+FFFD instead.
#include <string>

#include <nlohmann/json.hpp>

namespace encore {

// indent < 0: compact, one line.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace encore

#pragma once
// The web page encore serve answers at / (HTML, CSS and JavaScript compiled into the binary; no CDN,
// no third-party code), and the OpenAPI description of the API.
#include <string_view>
#include <tuple>
#include <vector>

namespace encore {

// (URL path, content, content type) of every file of the page.
const std::vector<std::tuple<std::string_view, std::string_view, std::string_view>>& page_files();
// The OpenAPI 3.0 document served at /openapi.json.
std::string_view openapi_json();

}  // namespace encore

#include "encore/util/json_writer.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace encore {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms, surrogates and
// code points past U+10FFFF are invalid, as for nlohmann).
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    std::size_t n;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

}  // namespace

JsonWriter& JsonWriter::number(double x) {
    if (!std::isfinite(x)) return raw("null");
    char buf[64];
    const char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, x);
    out_.append(buf, static_cast<std::size_t>(end - buf));
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view s) {
    const auto start = out_.size();
    out_.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const auto n = utf8_length(s, i);
            if (n == 0) {
                // Rare: the whole string as nlohmann writes it, invalid bytes replaced as dump() does.
                out_.resize(start);
                out_.append(nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
                return *this;
            }
            out_.append(s.substr(i, n));
            i += n;
            continue;
        }
        switch (c) {
            case '"': out_.append("\\\""); break;
            case '\\': out_.append("\\\\"); break;
            case '\b': out_.append("\\b"); break;
            case '\f': out_.append("\\f"); break;
            case '\n': out_.append("\\n"); break;
            case '\r': out_.append("\\r"); break;
            case '\t': out_.append("\\t"); break;
            default:
                if (c < 0x20)
                    fmt::format_to(std::back_inserter(out_), "\\u{:04x}", c);
                else
                    out_.push_back(static_cast<char>(c));
        }
        ++i;
    }
    out_.push_back('"');
    return *this;
}

}  // namespace encore

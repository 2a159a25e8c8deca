#pragma once
// Writing JSON text straight into a string, for responses built many thousand times a second (the
// server's lookups), where building an nlohmann::json tree first costs more than the lookup. Output
// matches nlohmann's dump() for the same values: the caller writes object keys in sorted order, strings
// are escaped the same way (invalid UTF-8 replaced by U+FFFD), numbers in the shortest form that
// reads back to the same double.
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace encore {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}
    JsonWriter& raw(std::string_view s) {
        out_.append(s);
        return *this;
    }
    // "key":
    JsonWriter& key(std::string_view k) {
        string(k);
        out_.push_back(':');
        return *this;
    }
    JsonWriter& string(std::string_view s);
    // nlohmann's own float formatting (its grisu2 and layout rules; non-finite values as null).
    JsonWriter& number(double x);
    JsonWriter& integer(std::int64_t x) {
        fmt::format_to(std::back_inserter(out_), "{}", x);
        return *this;
    }

private:
    std::string& out_;
};

}  // namespace encore

// JsonWriter writes what nlohmann's dump() writes for the same strings and numbers.
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "encore/util/json_writer.hpp"

namespace encore {
namespace {

std::string dumped(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

TEST(JsonWriter, StringsAsNlohmannWritesThem) {
    for (std::string s : {std::string(""), std::string("plain"), std::string("quote \" and \\ backslash"),
                          std::string("tab\tnew\nline\rcr\bbs\fff"), std::string("\x01\x1f control"),
                          std::string("Björk Guðmundsdóttir"), std::string("日本語 🎵"), std::string("bad \xf6 byte"),
                          std::string("truncated \xe6\x97"), std::string("overlong \xc0\xaf"), std::string("surrogate \xed\xa0\x80"),
                          std::string("\xf4\x90\x80\x80 past U+10FFFF"), std::string("nul \0 inside", 13)}) {
        std::string out;
        JsonWriter(out).string(s);
        EXPECT_EQ(out, dumped(nlohmann::json(s))) << s;
    }
}

TEST(JsonWriter, NumbersAsNlohmannWritesThem) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::vector<double> values = {0.0, 1.0, -1.0, 2.5, 0.1, 1e-5, 3.0e-7, 123456.0, 4.372392177581787,
                                  static_cast<double>(0.9f), std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::quiet_NaN()};
    for (int k = 0; k < 20000; ++k) values.push_back(static_cast<double>(unit(rng) * std::pow(10.0f, static_cast<float>(k % 9 - 4))));
    for (double x : values) {
        std::string out;
        JsonWriter(out).number(x);
        EXPECT_EQ(out, dumped(nlohmann::json(x))) << x;
    }
}

}  // namespace
}  // namespace encore

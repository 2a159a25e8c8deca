#include "encore/serve/render.hpp"

#include <algorithm>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "encore/util/json.hpp"

namespace encore {

namespace {

bool needs_escape(std::string_view s) {
    for (char c : s)
        if (c == '\t' || c == '\n' || c == '\r' || c == '\\') return true;
    return false;
}

void append_tsv_field(fmt::memory_buffer& buf, std::string_view s) {
    if (!needs_escape(s)) {
        buf.append(s);
        return;
    }
    for (char c : s) {
        switch (c) {
            case '\t': buf.append(std::string_view("\\t")); break;
            case '\n': buf.append(std::string_view("\\n")); break;
            case '\r': buf.append(std::string_view("\\r")); break;
            case '\\': buf.append(std::string_view("\\\\")); break;
            default: buf.push_back(c);
        }
    }
}

}  // namespace

std::string escape_tsv_field(std::string_view s) {
    fmt::memory_buffer buf;
    append_tsv_field(buf, s);
    return fmt::to_string(buf);
}

nlohmann::json item_json(const Model& m, std::int32_t item) {
    return {{"id", std::string(m.items[static_cast<std::size_t>(item)])}, {"name", std::string(m.item_label(item))}};
}

nlohmann::json results_json(const Model& m, const nlohmann::json& query, const std::vector<Recommendation>& results) {
    nlohmann::json out = {{"query", query}, {"results", nlohmann::json::array()}};
    for (const auto& r : results) {
        auto j = item_json(m, r.id);
        j["score"] = r.score;
        j["because"] = nlohmann::json::array();
        for (const auto& c : r.because) {
            auto b = item_json(m, c.item);
            b["score"] = c.score;
            j["because"].push_back(b);
        }
        out["results"].push_back(j);
    }
    return out;
}

std::string format_results(const Model& m, const std::string& title, const std::vector<Recommendation>& results,
                           bool json, const nlohmann::json& query_json) {
    if (json) return json_text(results_json(m, query_json, results), 2) + "\n";
    fmt::memory_buffer out;
    auto to = std::back_inserter(out);
    fmt::format_to(to, "{}\n", title);
    if (results.empty()) fmt::format_to(to, "  (no results)\n");
    std::size_t width = 0;
    for (const auto& r : results) width = std::max(width, m.item_label(r.id).size());
    width = std::min<std::size_t>(width, 48);
    int rank = 0;
    for (const auto& r : results) {
        fmt::format_to(to, "{:>4}. {:<{}}  {:.4f}\n", ++rank, m.item_label(r.id), width, r.score);
        if (!r.because.empty()) {
            std::string because;
            for (const auto& c : r.because) {
                if (!because.empty()) because += ", ";
                because += fmt::format("{} ({:.3f})", m.item_label(c.item), c.score);
            }
            fmt::format_to(to, "        because you played {}\n", because);
        }
    }
    return fmt::to_string(out);
}

void print_results(std::ostream& out, const Model& m, const std::string& title,
                   const std::vector<Recommendation>& results, bool json, const nlohmann::json& query_json) {
    out << format_results(m, title, results, json, query_json);
}

BatchWriter::BatchWriter(const std::string& path, const BatchOutputOptions& options) : options_(options) {
    if (!path.empty() && path != "-") file_.emplace(path);
}

void BatchWriter::write(const Model& m, const StringTable& queries, const std::vector<std::vector<Recommendation>>& results) {
    // Blocks of queries are formatted in parallel, a round of kRound blocks at a time, and written in
    // order. The round's buffers are reused: the text (about half a gigabyte for every item's 20
    // related items) never sits in memory at once, and memory touched for the first time is slow.
    const std::int64_t n = static_cast<std::int64_t>(results.size());
    constexpr std::int64_t kBlock = 1024, kRound = 16;
    std::vector<fmt::memory_buffer> text(static_cast<std::size_t>(kRound));
    const bool names = options_.names;
    const bool item_queries = &queries == &m.items;
    auto label = [&](std::int32_t item) { return names ? m.item_label(item) : m.items[static_cast<std::size_t>(item)]; };
    auto emit = [&](const char* data, std::size_t size) {
        if (file_)
            file_->write(data, size);
        else
            std::fwrite(data, 1, size, stdout);
    };
    if (options_.format == BatchFormat::tsv && options_.header) {
        static constexpr std::string_view kHeader = "query\trank\tresult\tscore\n";
        emit(kHeader.data(), kHeader.size());
    }
    for (std::int64_t first = 0; first < n; first += kBlock * kRound) {
        const std::int64_t blocks = std::min(kRound, (n - first + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(dynamic, 1)
        for (std::int64_t b = 0; b < blocks; ++b) {
            auto& buf = text[static_cast<std::size_t>(b)];
            buf.clear();
            const std::int64_t begin = first + b * kBlock, end = std::min(n, begin + kBlock);
            for (std::int64_t q = begin; q < end; ++q) {
                const auto& res = results[static_cast<std::size_t>(q)];
                if (options_.format == BatchFormat::jsonl) {
                    nlohmann::json query = item_queries ? item_json(m, static_cast<std::int32_t>(q))
                                                        : nlohmann::json{{"id", std::string(queries[static_cast<std::size_t>(q)])},
                                                                         {"name", std::string(queries[static_cast<std::size_t>(q)])}};
                    buf.append(json_text(results_json(m, query, res)));
                    buf.push_back('\n');
                    continue;
                }
                auto qname = (names && item_queries) ? m.item_label(q) : queries[static_cast<std::size_t>(q)];
                int rank = 0;
                for (const auto& r : res) {
                    append_tsv_field(buf, qname);
                    fmt::format_to(std::back_inserter(buf), "\t{}\t", ++rank);
                    append_tsv_field(buf, label(r.id));
                    fmt::format_to(std::back_inserter(buf), "\t{:.6g}\n", r.score);
                }
            }
        }
        for (std::int64_t b = 0; b < blocks; ++b) {
            const auto& buf = text[static_cast<std::size_t>(b)];
            emit(buf.data(), buf.size());
        }
    }
    if (file_)
        file_->commit();
    else
        std::fflush(stdout);
}

}  // namespace encore

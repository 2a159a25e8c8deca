#pragma once
// Small text-scanning helpers for ingest: field splitting (plain and RFC 4180 CSV), number parsing
// without allocation, and Latin-1 -> UTF-8 repair. Header-only so the per-row hot loop inlines them.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

namespace encore::text {

// memchr over [p, end), safe for an empty range (memchr must not see a null pointer, even for 0 bytes).
inline const char* find_char(const char* p, const char* end, char c) {
    return p < end ? static_cast<const char*>(std::memchr(p, c, static_cast<std::size_t>(end - p))) : nullptr;
}

// Splits line on sep. The first out.size() fields are stored in out; returns the total number of
// fields (which may exceed out.size(): the rest are only counted).
inline std::size_t split_plain(std::string_view line, char sep, std::span<std::string_view> out) {
    const char* p = line.data();
    const char* end = p + line.size();
    std::size_t n = 0;
    for (;;) {
        const char* hit = find_char(p, end, sep);
        const char* q = hit ? hit : end;
        if (n < out.size()) out[n] = std::string_view(p, static_cast<std::size_t>(q - p));
        ++n;
        if (!hit) return n;
        p = q + 1;
    }
}

// The line starting at p ends at the next '\n' or at end (line_end is set to it); splits it on sep
// like split_plain and, when quote is given, tells whether the line contains a '"'. One pass over
// the line: with AVX-512 a 64-byte block yields the separator, newline and quote positions as bit
// masks at once, where separate memchr calls per field cost more than the scanning (lines are short).
inline std::size_t split_line(const char* p, const char* end, char sep, std::span<std::string_view> out,
                              const char*& line_end, bool* quote = nullptr) {
#if defined(__AVX512BW__)
    const __m512i vsep = _mm512_set1_epi8(sep), vnl = _mm512_set1_epi8('\n'), vq = _mm512_set1_epi8('"');
    std::size_t n = 0;
    const char* start = p;  // of the current field
    bool quoted = false;
    for (const char* b = p;; b += 64) {
        const std::ptrdiff_t left = end - b;
        if (left <= 0) {
            line_end = end;
            break;
        }
        // A masked load reads nothing past end (masked-out bytes cannot fault).
        const __mmask64 live = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
        const __m512i v = _mm512_maskz_loadu_epi8(live, b);
        const std::uint64_t nl = _mm512_mask_cmpeq_epi8_mask(live, v, vnl);
        std::uint64_t sp = _mm512_mask_cmpeq_epi8_mask(live, v, vsep);
        std::uint64_t qm = quote ? static_cast<std::uint64_t>(_mm512_mask_cmpeq_epi8_mask(live, v, vq)) : 0;
        if (nl) {
            const std::uint64_t before = (nl & (0 - nl)) - 1;  // the bytes before the first newline
            sp &= before;
            qm &= before;
        }
        quoted |= qm != 0;
        for (; sp; sp &= sp - 1) {
            const char* s = b + __builtin_ctzll(sp);
            if (n < out.size()) out[n] = std::string_view(start, static_cast<std::size_t>(s - start));
            ++n;
            start = s + 1;
        }
        if (nl) {
            line_end = b + __builtin_ctzll(nl);
            break;
        }
        if (left <= 64) {
            line_end = end;
            break;
        }
    }
    if (n < out.size()) out[n] = std::string_view(start, static_cast<std::size_t>(line_end - start));
    if (quote) *quote = quoted;
    return n + 1;
#else
    const char* nl = find_char(p, end, '\n');
    line_end = nl ? nl : end;
    const std::string_view line(p, static_cast<std::size_t>(line_end - p));
    if (quote) *quote = find_char(p, line_end, '"') != nullptr;
    return split_plain(line, sep, out);
#endif
}

enum class CsvStatus { ok, unclosed_quote, text_after_quote };

// RFC 4180 split of one physical line. A field that starts with '"' is quoted: it runs to the next
// lone '"', and "" inside it stands for one '"'. Quoted fields without escapes are views into line;
// fields with escapes are unescaped into scratch (the caller reserves line.size() bytes so views
// stay valid until the next call). A '"' inside an unquoted field is kept as a literal character.
// unclosed_quote: the line ended inside quotes (a quoted line break, which ingest does not support).
inline CsvStatus split_csv(std::string_view line, char sep, std::span<std::string_view> out, std::size_t& count,
                           std::string& scratch) {
    scratch.clear();
    const char* p = line.data();
    const char* end = p + line.size();
    std::size_t n = 0;
    for (;;) {
        std::string_view field;
        const char* next;  // position of the separator after the field, or end
        if (p < end && *p == '"') {
            const char* s = p + 1;
            const char* q = s;
            bool escaped = false;
            for (;;) {
                const char* hit = find_char(q, end, '"');
                if (!hit) {
                    count = n + 1;
                    return CsvStatus::unclosed_quote;
                }
                q = hit;
                if (q + 1 < end && q[1] == '"') {
                    escaped = true;
                    q += 2;
                    continue;
                }
                break;
            }
            if (escaped) {
                std::size_t start = scratch.size();
                for (const char* c = s; c < q; ++c) {
                    scratch.push_back(*c);
                    if (*c == '"') ++c;  // skip the second quote of ""
                }
                field = std::string_view(scratch.data() + start, scratch.size() - start);
            } else {
                field = std::string_view(s, static_cast<std::size_t>(q - s));
            }
            next = q + 1;
            if (next < end && *next != sep) {
                count = n + 1;
                return CsvStatus::text_after_quote;
            }
        } else {
            const char* hit = find_char(p, end, sep);
            next = hit ? hit : end;
            field = std::string_view(p, static_cast<std::size_t>(next - p));
        }
        if (n < out.size()) out[n] = field;
        ++n;
        if (next >= end) {
            count = n;
            return CsvStatus::ok;
        }
        p = next + 1;
    }
}

inline std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

enum class ValueStatus { ok, empty, not_number, nan, infinite, out_of_range };

// Parses a decimal number (surrounding blanks allowed, optional sign, integer fast path). Rejects
// NaN and infinities, and finite values beyond float range (the matrix stores float32).
inline ValueStatus parse_value(std::string_view s, double& out) {
    s = trim_spaces(s);
    if (s.empty()) return ValueStatus::empty;
    // Fast path: up to 15 plain digits convert exactly.
    if (s.size() <= 15) {
        std::uint64_t v = 0;
        std::size_t i = 0;
        for (; i < s.size(); ++i) {
            unsigned d = static_cast<unsigned char>(s[i]) - '0';
            if (d > 9) break;
            v = v * 10 + d;
        }
        if (i == s.size()) {
            out = static_cast<double>(v);
            return ValueStatus::ok;
        }
    }
    std::string_view body = s;
    bool plus = body.front() == '+';
    if (plus) body.remove_prefix(1);
    if (body.empty() || (plus && body.front() == '-')) return ValueStatus::not_number;
    double v = 0;
    auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
    if (ptr != body.data() + body.size()) return ValueStatus::not_number;
    if (ec == std::errc::result_out_of_range) return ValueStatus::out_of_range;
    if (ec != std::errc()) return ValueStatus::not_number;
    if (std::isnan(v)) return ValueStatus::nan;
    if (std::isinf(v)) return ValueStatus::infinite;
    if (std::fabs(v) > 3.4028234663852886e38) return ValueStatus::out_of_range;
    out = v;
    return ValueStatus::ok;
}

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF count as invalid).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned c = b(i);
    if (c < 0x80) return 1;
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < len; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return len;
}

// Returns s with every byte that is not part of a valid UTF-8 sequence read as Latin-1 and
// re-encoded as UTF-8 (old MovieLens files are Latin-1; valid UTF-8 passes through unchanged).
inline std::string repair_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = utf8_sequence_length(s, i);
        if (len > 0) {
            out.append(s.data() + i, len);
            i += len;
        } else {
            unsigned c = static_cast<unsigned char>(s[i]);
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
            ++i;
        }
    }
    return out;
}

// Position of the first byte that does not start a valid UTF-8 sequence, or npos when s is valid.
// ASCII runs are skipped eight bytes at a time (keys are almost always ASCII).
inline std::size_t first_invalid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        if (i + 8 <= s.size()) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = utf8_sequence_length(s, i);
        if (len == 0) return i;
        i += len;
    }
    return std::string_view::npos;
}

// Every byte read as Latin-1 (ISO-8859-1) and encoded as UTF-8.
inline std::string latin1_to_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (char ch : s) {
        unsigned c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            out.push_back(ch);
        } else {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

// Valid UTF-8 sequences kept, every invalid byte replaced by U+FFFD (the replacement character).
inline std::string replace_invalid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = utf8_sequence_length(s, i);
        if (len > 0) {
            out.append(s.data() + i, len);
            i += len;
        } else {
            out.append("\xEF\xBF\xBD");
            ++i;
        }
    }
    return out;
}

inline bool is_valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = utf8_sequence_length(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

}  // namespace encore::text

// Text helpers for the CDS Hooks cards: UTF-8 aware truncation and Markdown escaping.
// Header-only; no state.
#pragma once

#include <string>
#include <string_view>

namespace ppmg::cds {

// Number of Unicode code points in valid UTF-8 (continuation bytes are not counted).
inline size_t utf8Length(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

// At most maxChars code points; when cut, the last one is an ellipsis.
inline std::string truncateUtf8(std::string_view s, size_t maxChars) {
    if (utf8Length(s) <= maxChars) return std::string(s);
    if (maxChars == 0) return {};
    size_t keep = maxChars - 1, seen = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (seen == keep) break;
            ++seen;
        }
    }
    std::string out(s.substr(0, i));
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS
}

// Escapes text for GitHub-Flavored Markdown in running text or a table cell: the characters that
// could start emphasis, code, a link or image, a table cell break, an entity or HTML get a
// backslash, and line breaks become spaces.
inline std::string markdownEscape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (char c : s) {
        if (c == '\n' || c == '\r' || c == '\t') {
            out.push_back(' ');
        } else if (std::string_view("\\`*_[]!|<>&~#").find(c) != std::string_view::npos) {
            out.push_back('\\');
            out.push_back(c);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace ppmg::cds

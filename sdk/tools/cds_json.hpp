// Small helpers shared by the CDS Hooks service (`ppmg serve`): a JSON writer, UTF-8 aware
// truncation and Markdown escaping. Header-only; no state.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace ppmg::cds {

// Appends s as a JSON string literal (quotes included). Control characters are escaped; so are
// '<', '>' and '&', so that a response can never be read as markup by a careless consumer.
inline void appendJsonString(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char ch : s) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '<': out += "\\u003c"; break;
            case '>': out += "\\u003e"; break;
            case '&': out += "\\u0026"; break;
            default:
                if (ch < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(ch));
                }
        }
    }
    out.push_back('"');
}

// A streaming JSON writer: commas are placed automatically.
class JsonWriter {
public:
    std::string out;

    JsonWriter& key(std::string_view k) {
        comma();
        appendJsonString(out, k);
        out.push_back(':');
        fresh_ = true;
        return *this;
    }
    JsonWriter& str(std::string_view s) { comma(); appendJsonString(out, s); return *this; }
    JsonWriter& raw(std::string_view s) { comma(); out += s; return *this; }
    JsonWriter& num(long long v) { return raw(std::to_string(v)); }
    JsonWriter& boolean(bool b) { return raw(b ? "true" : "false"); }
    JsonWriter& null() { return raw("null"); }
    JsonWriter& open(char c) { comma(); out.push_back(c); fresh_ = true; return *this; }
    JsonWriter& close(char c) { out.push_back(c); fresh_ = false; return *this; }
    JsonWriter& field(std::string_view k, std::string_view v) { return key(k).str(v); }

private:
    void comma() {
        if (!fresh_ && !out.empty()) out.push_back(',');
        fresh_ = false;
    }
    bool fresh_ = true;
};

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

// JSON writing for every host program (the command line, the services, the benchmark): the one
// place JSON strings are escaped on the host side. Header-only; no state.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace ppmg::tools {

// The length of the well-formed UTF-8 sequence starting s[i] (2 to 4 bytes; no overlong form, no
// surrogate, nothing past U+10FFFF), or 0 when the bytes there are not one.
inline size_t utf8SequenceLength(std::string_view s, size_t i) {
    const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = at(i);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if (c == 0xED)
        n = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF)
        n = 3;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else
        return 0;
    if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    return n;
}

// Appends s as a JSON string literal (quotes included). Control characters are escaped; so are
// '<', '>' and '&', so that a response can never be read as markup by a careless consumer. Bytes
// that are not well-formed UTF-8 (a client's percent-decoded query, say, echoed in a message)
// become U+FFFD, so the result is always JSON.
inline void appendJsonString(std::string& out, std::string_view s) {
    out.push_back('"');
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char ch = static_cast<unsigned char>(s[i]);
        if (ch >= 0x80) {
            const size_t n = utf8SequenceLength(s, i);
            if (n == 0) {
                out += "\\ufffd";
            } else {
                out.append(s.data() + i, n);
                i += n - 1;
            }
            continue;
        }
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
    JsonWriter& str(std::string_view s) {
        comma();
        appendJsonString(out, s);
        return *this;
    }
    JsonWriter& raw(std::string_view s) {
        comma();
        out += s;
        return *this;
    }
    JsonWriter& num(long long v) { return raw(std::to_string(v)); }
    JsonWriter& boolean(bool b) { return raw(b ? "true" : "false"); }
    JsonWriter& null() { return raw("null"); }
    JsonWriter& open(char c) {
        comma();
        out.push_back(c);
        fresh_ = true;
        return *this;
    }
    JsonWriter& close(char c) {
        out.push_back(c);
        fresh_ = false;
        return *this;
    }
    JsonWriter& field(std::string_view k, std::string_view v) { return key(k).str(v); }

private:
    void comma() {
        if (!fresh_ && !out.empty()) out.push_back(',');
        fresh_ = false;
    }
    bool fresh_ = true;
};

}  // namespace ppmg::tools

// JSON writing for every host program (the command line, the services, the benchmark): the one
// place JSON strings are escaped on the host side. Header-only; no state.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace ppmg::tools {

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

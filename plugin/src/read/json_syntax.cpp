// Where a JSON text first breaks the grammar of RFC 8259, for error messages only: simdjson says
// that a document is not well-formed, but not where. Runs only after simdjson has refused the
// input, so its speed does not matter; it is linear and iterative (no recursion on nesting).
#include <string>
#include <string_view>
#include <vector>

namespace ppmg::core {

// The byte offset of the first error and what it is, or npos when the grammar holds (simdjson
// then refused something finer, such as a number out of range).
size_t jsonSyntaxErrorAt(std::string_view s, std::string& what) {
    const size_t n = s.size();
    size_t i = 0;
    std::vector<char> open;  // '{' or '[' per level
    auto ws = [&] {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    };
    auto fail = [&](const char* why) {
        what = i >= n ? "the input ends too early: " + std::string(why) : why;
        return i;
    };
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    // A string at s[i] == '"'; false (with i at the fault) when it is broken.
    auto string = [&]() -> const char* {
        for (++i; i < n; ++i) {
            const unsigned char c = static_cast<unsigned char>(s[i]);
            if (c == '"') {
                ++i;
                return nullptr;
            }
            if (c < 0x20) return "a control character inside a string (escape it)";
            if (c != '\\') continue;
            if (++i >= n) break;
            if (s[i] == 'u') {
                for (int k = 0; k < 4; ++k)
                    if (++i >= n || !hex(s[i])) return "a \\u escape needs four hex digits";
            } else if (std::string_view("\"\\/bfnrt").find(s[i]) == std::string_view::npos) {
                return "an unknown escape in a string";
            }
        }
        return "a string is not closed";
    };
    auto number = [&]() -> const char* {
        if (s[i] == '-') ++i;
        if (i >= n || !digit(s[i])) return "a number needs a digit";
        if (s[i] == '0')
            ++i;
        else
            while (i < n && digit(s[i])) ++i;
        if (i < n && s[i] == '.') {
            if (++i >= n || !digit(s[i])) return "a number needs a digit after the point";
            while (i < n && digit(s[i])) ++i;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            ++i;
            if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
            if (i >= n || !digit(s[i])) return "a number needs a digit in its exponent";
            while (i < n && digit(s[i])) ++i;
        }
        return nullptr;
    };

    enum State { kValue, kValueOrClose, kKey, kKeyOrClose, kAfterValue } state = kValue;
    for (;;) {
        ws();
        switch (state) {
            case kKeyOrClose:
                if (i < n && s[i] == '}') {
                    ++i;
                    open.pop_back();
                    state = kAfterValue;
                    break;
                }
                [[fallthrough]];
            case kKey:
                if (i >= n || s[i] != '"') return fail("expected a member name in double quotes");
                if (const char* why = string()) return fail(why);
                ws();
                if (i >= n || s[i] != ':') return fail("expected ':' after a member name");
                ++i;
                state = kValue;
                break;
            case kValueOrClose:
                if (i < n && s[i] == ']') {
                    ++i;
                    open.pop_back();
                    state = kAfterValue;
                    break;
                }
                [[fallthrough]];
            case kValue: {
                if (i >= n) return fail("expected a value");
                const char c = s[i];
                if (c == '{' || c == '[') {
                    open.push_back(c);
                    ++i;
                    state = c == '{' ? kKeyOrClose : kValueOrClose;
                    break;
                }
                state = kAfterValue;
                if (c == '"') {
                    if (const char* why = string()) return fail(why);
                } else if (c == '-' || digit(c)) {
                    if (const char* why = number()) return fail(why);
                } else {
                    bool literal = false;
                    for (std::string_view word : {"true", "false", "null"})
                        if (s.substr(i, word.size()) == word) {
                            i += word.size();
                            literal = true;
                            break;
                        }
                    if (!literal)
                        return fail("expected a value (an object, array, string, number, true, false or null)");
                }
                break;
            }
            case kAfterValue:
                if (open.empty()) {
                    if (i < n) return fail("more text after the end of the JSON document");
                    return std::string_view::npos;
                }
                if (i < n && s[i] == ',') {
                    ++i;
                    state = open.back() == '{' ? kKey : kValue;
                } else if (i < n && s[i] == (open.back() == '{' ? '}' : ']')) {
                    ++i;
                    open.pop_back();
                } else {
                    return fail(open.back() == '{' ? "expected ',' or '}' after a member"
                                                   : "expected ',' or ']' after an element");
                }
                break;
        }
    }
}

// The JSON text with ".0" after every integer of 20 digits or more (outside strings), so that a
// parser that stops at 64-bit integers reads it as a double; the text itself when there is none.
std::string widenBigIntegers(std::string_view s) {
    std::string out;
    size_t copied = 0;
    bool inString = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) continue;
        size_t end = i + (c == '-');
        while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        const bool integer = end == s.size() || (s[end] != '.' && s[end] != 'e' && s[end] != 'E');
        if (integer && end - i - (c == '-') >= 20) {
            out.append(s.substr(copied, end - copied)).append(".0");
            copied = end;
        }
        i = end - 1;
        while (i + 1 < s.size() && (s[i + 1] == '.' || s[i + 1] == 'e' || s[i + 1] == 'E' || s[i + 1] == '+' ||
                                    s[i + 1] == '-' || (s[i + 1] >= '0' && s[i + 1] <= '9')))
            ++i;  // the rest of a number token
    }
    if (copied == 0) return std::string(s);
    out.append(s.substr(copied));
    return out;
}

}  // namespace ppmg::core

#include "write/xml_stream.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ppmg::core {
namespace {

// Bytes written as they are in both text and attribute values, whatever the mode: printable
// ASCII other than < > & ". Everything else goes through the careful path.
constexpr std::array<bool, 256> plainTable() {
    std::array<bool, 256> t{};
    for (unsigned c = 0x20; c < 0x80; ++c) t[c] = c != '<' && c != '>' && c != '&' && c != '"';
    return t;
}
constexpr std::array<bool, 256> kPlain = plainTable();

// The index of the first byte at or after i that is not plain, or n.
size_t skipPlain(const unsigned char* p, size_t i, size_t n) {
#if defined(__SSE2__)
    const __m128i lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), amp = _mm_set1_epi8('&'), quot = _mm_set1_epi8('"'),
                  space = _mm_set1_epi8(0x20);
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt)),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, amp), _mm_cmpeq_epi8(v, quot)));
        special = _mm_or_si128(special, _mm_cmplt_epi8(v, space));  // signed: controls and bytes >= 0x80
        if (const int mask = _mm_movemask_epi8(special)) return i + static_cast<size_t>(__builtin_ctz(mask));
    }
#endif
    while (i < n && kPlain[p[i]]) ++i;
    return i;
}

// "&#x" uppercase hex ";", as libxml2's xmlSerializeHexCharRef.
void appendHexReference(XmlStream::Buffer& out, uint32_t v) {
    char digits[8];
    int n = 0;
    do {
        digits[n++] = "0123456789ABCDEF"[v & 0xF];
        v >>= 4;
    } while (v != 0);
    out.append("&#x");
    while (n > 0) out.push_back(digits[--n]);
    out.push_back(';');
}

// Both escapers: plain runs are copied whole; each other character is escaped, kept, or (repair)
// replaced by U+FFFD when it is not an XML character.
template <bool Attribute>
void appendEscaped(XmlStream::Buffer& out, std::string_view s, bool repair) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t from = 0;
    for (size_t i = skipPlain(p, 0, n); i < n; i = skipPlain(p, i, n)) {
        out.append(s.substr(from, i - from));
        const unsigned char c = p[i];
        switch (c) {
            case '<': out.append("&lt;"); break;
            case '>': out.append("&gt;"); break;
            case '&': out.append("&amp;"); break;
            case '"': out.append("&quot;"); break;
            case '\r': out.append("&#13;"); break;
            case '\n': out.append(Attribute ? "&#10;" : "\n"); break;
            case '\t': out.append(Attribute ? "&#9;" : "\t"); break;
            default:
                if (c < 0x80) {  // another control character
                    if (repair)
                        out.append(Attribute ? "&#xFFFD;" : "\xEF\xBF\xBD");
                    else
                        out.push_back(static_cast<char>(c));
                    break;
                }
                size_t len = repair ? XmlStream::xmlCharLength(p + i, p + n)
                                    : (c >= 0xF0   ? 4
                                       : c >= 0xE0 ? 3
                                       : c >= 0xC0 ? 2
                                                   : 1);
                if (len == 0) {
                    out.append(Attribute ? "&#xFFFD;" : "\xEF\xBF\xBD");
                    len = 1;
                } else if (i + len > n) {
                    len = 1;
                    if (Attribute)
                        appendHexReference(out, c);
                    else
                        out.push_back(static_cast<char>(c));
                } else if (Attribute) {
                    // A UTF-8 sequence becomes one character reference; a stray byte, a reference to itself.
                    uint32_t v = len == 1 ? c : c & (0x7Fu >> len);
                    for (size_t k = 1; k < len; ++k) v = (v << 6) | (p[i + k] & 0x3Fu);
                    appendHexReference(out, v);
                } else {
                    out.append(s.substr(i, len));
                }
                i += len - 1;
        }
        from = ++i;
    }
    out.append(s.substr(from));
}

}  // namespace

size_t XmlStream::xmlCharLength(const unsigned char* p, const unsigned char* end) {
    const unsigned c = p[0];
    if (c < 0x80) return c >= 0x20 || c == 0x9 || c == 0xA || c == 0xD ? 1 : 0;
    auto cont = [&](ptrdiff_t i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
    if (c < 0xC2) return 0;
    if (c < 0xE0) return cont(1) ? 2 : 0;
    if (c < 0xF0) {
        if (!cont(1) || !cont(2)) return 0;
        const unsigned cp = ((c & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        const unsigned cp = ((c & 0x07) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
        return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0;
    }
    return 0;
}

void XmlStream::escape(std::string_view s, bool attribute, bool repair) {
    if (attribute)
        appendEscaped<true>(out_, s, repair);
    else
        appendEscaped<false>(out_, s, repair);
}

}  // namespace ppmg::core

// The compact XML tree: the strict fast scanner and the conversion of libxml2's tree
// (read/xml_tree.hpp).
#include "read/xml_tree.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstring>

#include <libxml/uri.h>

#include "base/errors.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ppmg::core::xml {

// ---- The tree's storage: blocks reused by the thread ----------------------------------------

namespace {

constexpr size_t kBlock = 64 * 1024;
constexpr size_t kSpareBlocks = 32;  // kept per thread between documents: 2 MiB at most

std::vector<std::unique_ptr<char[]>>& spareBlocks() {
    thread_local std::vector<std::unique_ptr<char[]>> spare;
    return spare;
}

constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";

}  // namespace

Tree::Tree() = default;

Tree::~Tree() {
    auto& spare = spareBlocks();
    for (auto& b : blocks_)
        if (b && spare.size() < kSpareBlocks) spare.push_back(std::move(b));
}

Tree::Tree(Tree&&) noexcept = default;
Tree& Tree::operator=(Tree&&) noexcept = default;

void* Tree::refill(size_t bytes, size_t align) {
    if (bytes + align > kBlock) {  // a large string: a block of its own
        blocks_.emplace_back(new char[bytes + align]);
        char* p = blocks_.back().get();
        return p + (static_cast<size_t>(-reinterpret_cast<uintptr_t>(p)) & (align - 1));
    }
    auto& spare = spareBlocks();
    if (!spare.empty()) {
        blocks_.push_back(std::move(spare.back()));
        spare.pop_back();
    } else {
        blocks_.emplace_back(new char[kBlock]);
    }
    next_ = blocks_.back().get();
    left_ = kBlock;
    return allocate(bytes, align);
}

long Tree::line(const Node* n) const {
    if (!n) return 0;
    if (!fast_) return static_cast<long>(n->position);
    const size_t end = std::min<size_t>(n->position, input_.size());
    return 1 + static_cast<long>(std::count(input_.begin(), input_.begin() + static_cast<long>(end), '\n'));
}

class Builder {
public:
    explicit Builder(Tree& t) : t_(t) {}

    Node* node() {
        void* p = t_.allocate(sizeof(Node), alignof(Node));
        return new (p) Node();
    }
    Attribute* attributes(size_t n) {
        if (n == 0) return nullptr;
        auto* p = static_cast<Attribute*>(t_.allocate(n * sizeof(Attribute), alignof(Attribute)));
        for (size_t i = 0; i < n; ++i) new (p + i) Attribute();
        return p;
    }
    char* chars(size_t n) { return static_cast<char*>(t_.allocate(n == 0 ? 1 : n, 1)); }

    // Appends child to parent (last tracked by the caller).
    static void link(Node* parent, Node*& last, Node* child) {
        child->parent = parent;
        if (last)
            last->next = child;
        else
            parent->first = child;
        last = child;
    }

    void setRoot(const Node* root) { t_.root_ = root; }
    void setInput(std::string_view input, bool fast) {
        t_.input_ = input;
        t_.fast_ = fast;
    }
    void setDoc(DocPtr doc) { t_.doc_ = std::move(doc); }

private:
    Tree& t_;
};

// ---- The fast path -------------------------------------------------------------------------

namespace {

bool isSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Byte classes for names (ASCII only: anything else is left to libxml2): 1 a name character, 2 a
// name's first character, 4 the colon.
const std::array<uint8_t, 256>& nameTable() {
    static const std::array<uint8_t, 256> t = [] {
        std::array<uint8_t, 256> a{};
        for (int c = 'a'; c <= 'z'; ++c) a[c] = 3;
        for (int c = 'A'; c <= 'Z'; ++c) a[c] = 3;
        a['_'] = 3;
        for (int c = '0'; c <= '9'; ++c) a[c] = 1;
        a['-'] = 1;
        a['.'] = 1;
        a[':'] = 5;
        return a;
    }();
    return t;
}

// Bytes a scan of text or of an attribute value stops at: controls (tab, LF and CR among them),
// '&', '<', ']', '"', '\'' and 0xEF (the lead byte of U+FFFE and U+FFFF).
const std::array<uint8_t, 256>& stopTable() {
    static const std::array<uint8_t, 256> t = [] {
        std::array<uint8_t, 256> a{};
        for (int c = 0; c < 0x20; ++c) a[c] = 1;
        for (int c : {int('&'), int('<'), int(']'), int('"'), int('\''), 0xEF}) a[c] = 1;
        return a;
    }();
    return t;
}

bool blankText(std::string_view s) {
    for (char c : s)
        if (!isSpace(static_cast<unsigned char>(c))) return false;
    return true;
}

bool xmlChar(uint32_t c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

void appendUtf8(std::string& out, uint32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

// The first byte at or after p (before end) that a scan must look at: a control character ('\t'
// and '\n' too when `values`: they become spaces in attribute values), '&', '<', ']', a quote, or
// 0xEF. Sixteen bytes at a time with SSE2; the table decides the rest.
const char* nextStop(const char* p, const char* end, bool values) {
    const auto& t = stopTable();
    // Most runs between tags are empty or a little white space: those bytes one at a time first.
    if (!values)
        for (const char* scalar = std::min(end, p + 16); p < scalar; ++p) {
            const unsigned char c = static_cast<unsigned char>(*p);
            if (t[c] && c != '\t' && c != '\n') return p;
        }
#if defined(__SSE2__)
    const __m128i low = _mm_set1_epi8(0x1F), amp = _mm_set1_epi8('&'), lt = _mm_set1_epi8('<'),
                  bracket = _mm_set1_epi8(']'), dq = _mm_set1_epi8('"'), sq = _mm_set1_epi8('\''),
                  ef = _mm_set1_epi8(static_cast<char>(0xEF)), tab = _mm_set1_epi8('\t'), lf = _mm_set1_epi8('\n');
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);  // v <= 0x1F
        if (!values) control = _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, lf)), control);
        const __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_or_si128(control, _mm_cmpeq_epi8(v, amp)),
                         _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, bracket))),
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, sq)), _mm_cmpeq_epi8(v, ef)));
        const int mask = _mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#endif
    while (p < end) {
        const unsigned char c = static_cast<unsigned char>(*p);
        if (t[c] && (values || (c != '\t' && c != '\n'))) return p;
        ++p;
    }
    return end;
}

class Scanner {
public:
    Scanner(std::string_view d, const ReadLimits& limits, Tree& tree) : d_(d), limits_(limits), b_(tree) {}

    bool run() {
        if (d_.size() > static_cast<size_t>(INT_MAX) || d_.size() > limits_.maxInputBytes) return false;
        if (!simdjson::validate_utf8(d_.data(), d_.size())) return false;
        if (d_.substr(0, 5) == "<?xml" && d_.size() > 5 && isSpace(static_cast<unsigned char>(d_[5]))) {
            if (!declaration()) return false;
        }
        if (!misc()) return false;
        if (i_ >= d_.size() || d_[i_] != '<') return false;
        bool closed = false;
        if (!startTag(closed)) return false;
        while (!open_.empty()) {
            const size_t from = i_;
            bool plain = true;
            if (!scanText(plain)) return false;  // to the next '<'
            if (i_ > from && !blankText(d_.substr(from, i_ - from)) && !text(from, i_, plain)) return false;
            if (i_ + 1 >= d_.size()) return false;
            const char c = d_[i_ + 1];
            if (c == '/') {
                if (!endTag()) return false;
            } else if (c == '!') {
                if (d_.substr(i_, 4) != "<!--" || !comment()) return false;  // CDATA, DOCTYPE: libxml2's
            } else if (c == '?') {
                if (!pi()) return false;
            } else {
                if (!startTag(closed)) return false;
            }
        }
        if (!misc()) return false;
        return i_ == d_.size();
    }

private:
    struct Open {
        Node* node;
        Node* last;  // its last child so far
        std::string_view qname;
        size_t nsMark;
    };
    struct Namespace {
        std::string_view prefix;
        std::string_view uri;
    };
    struct RawAttribute {
        std::string_view qname;
        std::string_view prefix;  // "" when none
        std::string_view local;
        std::string_view value;  // raw, between the quotes
        bool plain;              // no reference, no white space to normalise
        bool declaration;        // xmlns or xmlns:prefix
    };

    std::string_view d_;
    const ReadLimits& limits_;
    Builder b_;
    size_t i_ = 0;
    Node* root_ = nullptr;
    std::vector<Open> open_;
    std::vector<Namespace> ns_;
    std::vector<RawAttribute> raw_;
    std::string scratch_;
    size_t colon_ = std::string_view::npos;  // the colon's place in the last name read

    void skipSpace() {
        while (i_ < d_.size() && isSpace(static_cast<unsigned char>(d_[i_]))) ++i_;
    }

    std::string_view name() {
        const auto& t = nameTable();
        const char* const begin = d_.data();
        const char* const end = begin + d_.size();
        const char* const from = begin + i_;
        if (from >= end || (t[static_cast<unsigned char>(*from)] & 2) == 0) return {};
        const char* p = from + 1;
        unsigned colons = 0;
        while (p < end && (t[static_cast<unsigned char>(*p)] & 1)) colons += t[static_cast<unsigned char>(*p++)] >> 2;
        i_ = static_cast<size_t>(p - begin);
        const std::string_view n(from, static_cast<size_t>(p - from));
        colon_ = std::string_view::npos;
        if (colons) {
            if (colons > 1) return {};
            colon_ = n.find(':');
            if (colon_ + 1 == n.size() || (t[static_cast<unsigned char>(n[colon_ + 1])] & 2) == 0) return {};
        }
        if (p < end && static_cast<unsigned char>(*p) >= 0x80) return {};  // a name libxml2 reads
        return n;
    }

    // Scans text to the next '<' (i_ ends there), checking its characters: no control but tab, LF
    // and CR, no U+FFFE/FFFF, no "]]>". plain: nothing to decode (no reference, no CR).
    bool scanText(bool& plain) {
        const char* p = d_.data() + i_;
        const char* const end = d_.data() + d_.size();
        for (;;) {
            p = nextStop(p, end, false);
            if (p == end) return false;  // no '<': the document does not end
            const unsigned char c = static_cast<unsigned char>(*p);
            if (c == '<') break;
            if (c == '\r' || c == '&') {
                plain = false;
            } else if (c == ']') {
                if (end - p >= 3 && p[1] == ']' && p[2] == '>') return false;
            } else if (c == 0xEF) {
                if (end - p >= 3 && static_cast<unsigned char>(p[1]) == 0xBF &&
                    (static_cast<unsigned char>(p[2]) == 0xBE || static_cast<unsigned char>(p[2]) == 0xBF))
                    return false;
            } else if (c != '\n' && c != '\t' && c != '"' && c != '\'') {
                return false;  // a control character
            }
            ++p;
        }
        i_ = static_cast<size_t>(p - d_.data());
        return true;
    }

    // Scans an attribute value to its closing quote q (i_ ends after it), checking its characters
    // as scanText does, and '<' is not allowed. plain: nothing to decode or normalise.
    bool scanValue(char q, std::string_view& value, bool& plain) {
        const char* p = d_.data() + i_;
        const char* const start = p;
        const char* const end = d_.data() + d_.size();
        for (;;) {
            p = nextStop(p, end, true);
            if (p == end) return false;
            const unsigned char c = static_cast<unsigned char>(*p);
            if (c == static_cast<unsigned char>(q)) break;
            if (c == '\n' || c == '\t' || c == '\r' || c == '&') {
                plain = false;
            } else if (c == '<') {
                return false;
            } else if (c == 0xEF) {
                if (end - p >= 3 && static_cast<unsigned char>(p[1]) == 0xBF &&
                    (static_cast<unsigned char>(p[2]) == 0xBE || static_cast<unsigned char>(p[2]) == 0xBF))
                    return false;
            } else if (c != ']' && c != '"' && c != '\'') {
                return false;  // a control character
            }
            ++p;
        }
        value = std::string_view(start, static_cast<size_t>(p - start));
        i_ = static_cast<size_t>(p + 1 - d_.data());
        return true;
    }

    // Characters of a comment or a processing instruction: no control but tab, LF, CR; no
    // U+FFFE/FFFF.
    static bool validChars(std::string_view s) {
        for (size_t k = 0; k < s.size(); ++k) {
            const unsigned char c = static_cast<unsigned char>(s[k]);
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
            if (c == 0xEF && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0xBF &&
                (static_cast<unsigned char>(s[k + 2]) == 0xBE || static_cast<unsigned char>(s[k + 2]) == 0xBF))
                return false;
        }
        return true;
    }

    // The decoded text: references replaced, line ends normalised (and, in values, white space
    // made spaces). False on a reference it does not know.
    bool decode(std::string_view s, bool attribute, std::string& out) {
        out.clear();
        for (size_t k = 0; k < s.size(); ++k) {
            const char c = s[k];
            if (c == '\r') {
                if (k + 1 < s.size() && s[k + 1] == '\n') ++k;
                out.push_back(attribute ? ' ' : '\n');
            } else if (attribute && (c == '\n' || c == '\t')) {
                out.push_back(' ');
            } else if (c == '&') {
                const size_t semi = s.find(';', k);
                if (semi == std::string_view::npos) return false;
                const std::string_view ref = s.substr(k + 1, semi - k - 1);
                if (ref == "lt") {
                    out.push_back('<');
                } else if (ref == "gt") {
                    out.push_back('>');
                } else if (ref == "amp") {
                    out.push_back('&');
                } else if (ref == "apos") {
                    out.push_back('\'');
                } else if (ref == "quot") {
                    out.push_back('"');
                } else if (ref.size() >= 2 && ref[0] == '#') {
                    uint32_t v = 0;
                    const bool hex = ref[1] == 'x';
                    const std::string_view digits = ref.substr(hex ? 2 : 1);
                    if (digits.empty() || digits.size() > 8) return false;
                    for (char h : digits) {
                        uint32_t dv;
                        if (h >= '0' && h <= '9')
                            dv = static_cast<uint32_t>(h - '0');
                        else if (hex && h >= 'a' && h <= 'f')
                            dv = static_cast<uint32_t>(h - 'a' + 10);
                        else if (hex && h >= 'A' && h <= 'F')
                            dv = static_cast<uint32_t>(h - 'A' + 10);
                        else
                            return false;
                        v = v * (hex ? 16 : 10) + dv;
                    }
                    if (!xmlChar(v)) return false;
                    appendUtf8(out, v);
                } else {
                    return false;  // any other entity: libxml2 refuses it
                }
                k = semi;
            } else {
                out.push_back(c);
            }
        }
        return true;
    }

    std::string_view keep(const std::string& s) {
        char* p = b_.chars(s.size());
        std::memcpy(p, s.data(), s.size());
        return std::string_view(p, s.size());
    }

    bool declaration() {
        // <?xml version="1.0" (encoding="NAME")? (standalone="yes|no")? ?>
        i_ = 5;
        auto pseudo = [&](std::string_view key, std::string_view& value) {
            const size_t save = i_;
            skipSpace();
            if (i_ == save || d_.substr(i_, key.size()) != key) {
                i_ = save;
                return false;
            }
            i_ += key.size();
            skipSpace();
            if (i_ >= d_.size() || d_[i_] != '=') return false;
            ++i_;
            skipSpace();
            if (i_ >= d_.size() || (d_[i_] != '"' && d_[i_] != '\'')) return false;
            const char q = d_[i_++];
            const size_t close = d_.find(q, i_);
            if (close == std::string_view::npos) return false;
            value = d_.substr(i_, close - i_);
            i_ = close + 1;
            return true;
        };
        std::string_view version, encoding, standalone;
        if (!pseudo("version", version) || version != "1.0") return false;
        if (pseudo("encoding", encoding)) {
            if (encoding.empty() || !std::isalpha(static_cast<unsigned char>(encoding[0]))) return false;
            for (char c : encoding)
                if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
        }
        if (pseudo("standalone", standalone) && standalone != "yes" && standalone != "no") return false;
        skipSpace();
        if (d_.substr(i_, 2) != "?>") return false;
        i_ += 2;
        return true;
    }

    // White space, comments and processing instructions (before and after the root).
    bool misc() {
        for (;;) {
            skipSpace();
            if (d_.substr(i_, 4) == "<!--") {
                if (!comment()) return false;
            } else if (d_.substr(i_, 2) == "<?") {
                if (!pi()) return false;
            } else {
                return true;
            }
        }
    }

    bool comment() {
        const size_t from = i_ + 4;
        const size_t dashes = d_.find("--", from);
        if (dashes == std::string_view::npos || dashes + 2 >= d_.size() || d_[dashes + 2] != '>') return false;
        // libxml2's walk (xml_document.cpp) limits a comment's length as it does a text node's.
        if (dashes - from > limits_.maxStringBytes) return false;
        if (!validChars(d_.substr(from, dashes - from))) return false;
        i_ = dashes + 3;
        return true;
    }

    bool pi() {
        i_ += 2;
        const std::string_view target = name();
        if (target.empty() || target.find(':') != std::string_view::npos) return false;
        if (target.size() == 3 && std::tolower(static_cast<unsigned char>(target[0])) == 'x' &&
            std::tolower(static_cast<unsigned char>(target[1])) == 'm' &&
            std::tolower(static_cast<unsigned char>(target[2])) == 'l')
            return false;
        if (d_.substr(i_, 2) == "?>") {
            i_ += 2;
            return true;
        }
        if (i_ >= d_.size() || !isSpace(static_cast<unsigned char>(d_[i_]))) return false;
        const size_t close = d_.find("?>", i_);
        if (close == std::string_view::npos) return false;
        if (close - i_ > limits_.maxStringBytes) return false;  // as libxml2's walk limits a PI's content
        if (!validChars(d_.substr(i_, close - i_))) return false;
        i_ = close + 2;
        return true;
    }

    bool text(size_t from, size_t to, bool plain) {
        const std::string_view raw = d_.substr(from, to - from);
        if (raw.size() > limits_.maxStringBytes) return false;
        Node* n = b_.node();
        n->kind = Node::Kind::Text;
        n->position = from;
        if (plain) {
            n->text = raw;
        } else {
            if (!decode(raw, false, scratch_)) return false;
            n->text = keep(scratch_);
        }
        Builder::link(open_.back().node, open_.back().last, n);
        return true;
    }

    std::string_view lookup(std::string_view prefix, bool& found) const {
        found = true;
        if (prefix == "xml") return kXmlNs;
        for (auto it = ns_.rbegin(); it != ns_.rend(); ++it)
            if (it->prefix == prefix) return it->uri;
        found = prefix.empty();  // no default namespace declared: none
        return {};
    }

    bool startTag(bool& closed) {
        const size_t at = i_;
        ++i_;
        const std::string_view qname = name();
        if (qname.empty()) return false;
        const size_t colon = colon_;
        raw_.clear();
        closed = false;
        size_t declarations = 0;
        for (;;) {
            const size_t before = i_;
            skipSpace();
            if (i_ >= d_.size()) return false;
            if (d_[i_] == '>') {
                ++i_;
                break;
            }
            if (d_[i_] == '/') {
                if (d_.substr(i_, 2) != "/>") return false;
                i_ += 2;
                closed = true;
                break;
            }
            if (i_ == before) return false;  // attributes are apart
            const std::string_view aname = name();
            if (aname.empty()) return false;
            RawAttribute a;
            a.qname = aname;
            if (colon_ == std::string_view::npos) {
                a.local = aname;
            } else {
                a.prefix = aname.substr(0, colon_);
                a.local = aname.substr(colon_ + 1);
            }
            a.declaration = aname == "xmlns" || a.prefix == "xmlns";
            declarations += a.declaration;
            skipSpace();
            if (i_ >= d_.size() || d_[i_] != '=') return false;
            ++i_;
            skipSpace();
            if (i_ >= d_.size() || (d_[i_] != '"' && d_[i_] != '\'')) return false;
            const char q = d_[i_++];
            a.plain = true;
            if (!scanValue(q, a.value, a.plain)) return false;
            if (a.value.size() > limits_.maxStringBytes) return false;
            raw_.push_back(a);
            if (raw_.size() > 256) return false;
        }
        if (open_.size() + 1 > limits_.maxDepth) return false;
        // Namespace declarations first: they apply to the element and its attributes.
        const size_t mark = ns_.size();
        if (declarations)
            for (size_t r = 0; r < raw_.size(); ++r) {
                const RawAttribute& a = raw_[r];
                if (!a.declaration) continue;
                if (!a.plain) return false;  // a namespace name with a reference or white space: libxml2's
                const std::string_view prefix = a.prefix.empty() ? std::string_view() : a.local;
                if (prefix == "xml" || prefix == "xmlns") return false;
                if (!prefix.empty() && a.value.empty()) return false;
                if (a.value == kXmlNs || a.value == "http://www.w3.org/2000/xmlns/") return false;
                if (!a.value.empty()) {  // libxml2 refuses a namespace name its URI parser refuses (default too)
                    scratch_.assign(a.value);
                    xmlURIPtr uri = xmlParseURI(scratch_.c_str());
                    if (!uri) return false;
                    xmlFreeURI(uri);
                }
                for (size_t s = r + 1; s < raw_.size(); ++s)
                    if (raw_[s].qname == a.qname) return false;  // declared twice
                ns_.push_back({prefix, a.value});
            }
        const std::string_view prefix = colon == std::string_view::npos ? std::string_view() : qname.substr(0, colon);
        if (prefix == "xmlns") return false;
        bool found;
        const std::string_view uri = lookup(prefix, found);
        if (!found) return false;  // an undeclared prefix
        Node* n = b_.node();
        n->name = colon == std::string_view::npos ? qname : qname.substr(colon + 1);
        n->ns = uri;
        n->position = at;
        const size_t count = raw_.size() - declarations;
        Attribute* attrs = b_.attributes(count);
        size_t k = 0;
        for (const RawAttribute& a : raw_) {
            if (a.declaration) continue;
            std::string_view ans;
            if (!a.prefix.empty()) {
                bool ok;
                ans = lookup(a.prefix, ok);
                if (!ok || ans.empty()) return false;
            }
            Attribute& out = attrs[k++];
            out.name = a.local;
            out.ns = ans;
            if (a.plain) {
                out.value = a.value;
            } else {
                if (!decode(a.value, true, scratch_)) return false;
                out.value = keep(scratch_);
            }
            for (size_t s = 0; s + 1 < k; ++s)
                if (attrs[s].name == out.name && attrs[s].ns == out.ns) return false;  // twice
        }
        n->attributes = attrs;
        n->attributeCount = static_cast<uint32_t>(count);
        if (open_.empty()) {
            if (root_) return false;  // a second root
            root_ = n;
            b_.setRoot(n);
        } else {
            Builder::link(open_.back().node, open_.back().last, n);
        }
        if (closed)
            ns_.resize(mark);
        else
            open_.push_back({n, nullptr, qname, mark});
        return true;
    }

    bool endTag() {
        if (open_.empty()) return false;
        const std::string_view qname = open_.back().qname;
        i_ += 2;
        if (d_.compare(i_, qname.size(), qname) != 0) return false;
        i_ += qname.size();
        if (i_ < d_.size() && nameTable()[static_cast<unsigned char>(d_[i_])]) return false;  // a longer name
        skipSpace();
        if (i_ >= d_.size() || d_[i_] != '>') return false;
        ++i_;
        ns_.resize(open_.back().nsMark);
        open_.pop_back();
        return true;
    }
};

// ---- libxml2's tree in the same form ----------------------------------------------------------

void convert(Builder& b, const xmlNode* from, Node* to) {
    // Iterative depth-first copy; adjacent text nodes are one, white-space-only text is left out.
    struct Frame {
        const xmlNode* next;
        Node* node;
        Node* last;
    };
    std::vector<Frame> stack;
    stack.push_back({from->children, to, nullptr});
    std::string text;
    while (!stack.empty()) {
        Frame& f = stack.back();
        const xmlNode* c = f.next;
        if (!c) {
            stack.pop_back();
            continue;
        }
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            text.clear();
            const xmlNode* t = c;
            while (t && (t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE)) {
                text.append(sv(t->content));
                t = t->next;
            }
            f.next = t;
            if (!blankText(text)) {
                Node* n = b.node();
                n->kind = Node::Kind::Text;
                n->position = static_cast<uint64_t>(lineOf(c));
                char* p = b.chars(text.size());
                std::memcpy(p, text.data(), text.size());
                n->text = std::string_view(p, text.size());
                Builder::link(f.node, f.last, n);
            }
            continue;
        }
        f.next = c->next;
        if (c->type != XML_ELEMENT_NODE) continue;
        Node* n = b.node();
        n->name = sv(c->name);
        n->ns = c->ns ? sv(c->ns->href) : std::string_view();
        n->position = static_cast<uint64_t>(lineOf(c));
        size_t count = 0;
        for (const xmlAttr* a = c->properties; a; a = a->next) ++count;
        Attribute* attrs = b.attributes(count);
        size_t k = 0;
        for (const xmlAttr* a = c->properties; a; a = a->next) {
            Attribute& out = attrs[k++];
            out.name = sv(a->name);
            out.ns = a->ns ? sv(a->ns->href) : std::string_view();
            if (a->children && !a->children->next) {
                out.value = sv(a->children->content);
            } else {
                text.clear();
                for (const xmlNode* t = a->children; t; t = t->next) text.append(sv(t->content));
                char* p = b.chars(text.size());
                std::memcpy(p, text.data(), text.size());
                out.value = std::string_view(p, text.size());
            }
        }
        n->attributes = attrs;
        n->attributeCount = static_cast<uint32_t>(count);
        Builder::link(f.node, f.last, n);
        stack.push_back({c->children, n, nullptr});
    }
}

void describe(const Node* n, std::string& out) {
    if (n->kind == Node::Kind::Text) {
        out.append("\"").append(n->text).append("\"");
        return;
    }
    out.append("<{").append(n->ns).append("}").append(n->name);
    for (uint32_t k = 0; k < n->attributeCount; ++k) {
        const Attribute& a = n->attributes[k];
        out.append(" {").append(a.ns).append("}").append(a.name).append("=\"").append(a.value).append("\"");
    }
    out.append(">");
    for (const Node* c = n->first; c; c = c->next) describe(c, out);
    out.append("</>");
}

}  // namespace

bool parseFast(std::string_view data, const ReadLimits& limits, Tree& out) {
    Tree tree;
    Scanner scanner(data, limits, tree);
    if (!scanner.run() || !tree.root()) return false;
    Builder(tree).setInput(data, true);
    out = std::move(tree);
    return true;
}

Tree parseWithLibxml(std::string_view data, const ReadLimits& limits, const std::string& file, const char* format,
                     bool strictNamespaces) {
    DocPtr doc = parseDocument(data, limits, file, format, strictNamespaces);
    const xmlNode* root = checkedRoot(doc.get(), limits, file, format);
    Tree tree;
    Builder b(tree);
    Node* top = b.node();
    top->name = sv(root->name);
    top->ns = root->ns ? sv(root->ns->href) : std::string_view();
    top->position = static_cast<uint64_t>(lineOf(root));
    size_t count = 0;
    for (const xmlAttr* a = root->properties; a; a = a->next) ++count;
    Attribute* attrs = b.attributes(count);
    size_t k = 0;
    for (const xmlAttr* a = root->properties; a; a = a->next) {
        attrs[k].name = sv(a->name);
        attrs[k].ns = a->ns ? sv(a->ns->href) : std::string_view();
        attrs[k].value = attributeText(a);
        ++k;
    }
    top->attributes = attrs;
    top->attributeCount = static_cast<uint32_t>(count);
    convert(b, root, top);
    b.setRoot(top);
    b.setInput(data, false);
    b.setDoc(std::move(doc));
    return tree;
}

Tree parseTree(std::string_view data, const ReadLimits& limits, const std::string& file, const char* format,
               bool strictNamespaces) {
    Tree tree;
    if (parseFast(data, limits, tree)) return tree;
    return parseWithLibxml(data, limits, file, format, strictNamespaces);
}

std::string describeTree(const Tree& tree) {
    std::string out;
    if (tree.root()) describe(tree.root(), out);
    return out;
}

}  // namespace ppmg::core::xml

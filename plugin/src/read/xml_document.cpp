// The hardened XML parse shared by the XML readers (read/xml_document.hpp).
#include "read/xml_document.hpp"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>

#include "base/errors.hpp"

namespace ppmg::core::xml {

bool xmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && xmlSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && xmlSpace(s.back())) s.remove_suffix(1);
    return s;
}

long lineOf(const xmlNode* n) {
    if (!n) return 0;
    const long line = xmlGetLineNo(n);
    return line < 0 ? 0 : line;
}

std::optional<double> parseDecimal(std::string_view text) {
    std::string_view s = trim(text);
    size_t i = 0;
    auto digitsFrom = [&](size_t& p) {
        size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
        return p > start;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (!digitsFrom(i)) return std::nullopt;
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (!digitsFrom(i)) return std::nullopt;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digitsFrom(i)) return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

namespace {

std::string noDtd(const char* format) {
    return std::string("DTDs and entities are not allowed in ") + format + " (the document has a DOCTYPE)";
}
std::string noEntity(const char* format) {
    return std::string("DTDs and entities are not allowed in ") + format + " (the document uses an entity)";
}

struct ParseState {
    uint32_t maxDepth = 0;
    uint32_t depth = 0;
    startElementNsSAX2Func startElement = nullptr;  // libxml2's own tree builders
    endElementNsSAX2Func endElement = nullptr;
    bool tooDeep = false;
    bool sawDtd = false;
    bool sawEntity = false;
    bool haveError = false;
    bool strictNamespaces = true;
    std::string message;
    long line = 0;
};

ParseState* stateOf(void* ctx) {
    auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
    return static_cast<ParseState*>(ctxt->_private);
}

long inputLine(void* ctx) {
    auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
    return ctxt->input ? ctxt->input->line : 0;
}

void onDoctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    stateOf(ctx)->sawDtd = true;
    stateOf(ctx)->line = inputLine(ctx);
    xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
}

void onEntityDecl(void* ctx, const xmlChar*, int, const xmlChar*, const xmlChar*, xmlChar*) {
    stateOf(ctx)->sawEntity = true;
    stateOf(ctx)->line = inputLine(ctx);
    xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
}

void onReference(void* ctx, const xmlChar*) {
    stateOf(ctx)->sawEntity = true;
    stateOf(ctx)->line = inputLine(ctx);
    xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
}

// Depth is counted while parsing, so a deeply nested document is refused before its tree is built.
void onStartElement(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri, int nbNamespaces,
                    const xmlChar** namespaces, int nbAttributes, int nbDefaulted, const xmlChar** attributes) {
    ParseState* st = stateOf(ctx);
    if (++st->depth > st->maxDepth) {
        st->tooDeep = true;
        st->line = inputLine(ctx);
        xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
        return;
    }
    st->startElement(ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, nbDefaulted, attributes);
}

void onEndElement(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri) {
    ParseState* st = stateOf(ctx);
    if (st->depth > 0) --st->depth;
    st->endElement(ctx, localname, prefix, uri);
}

// libxml2's message as one line for a person: its newlines (it may add a line of context) as
// spaces, trimmed, and at most 200 bytes (cut on a UTF-8 character boundary).
std::string oneLine(const char* text) {
    std::string msg = text ? text : "malformed XML";
    for (char& c : msg)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (msg.size() > 200) {
        size_t cut = 200;
        while (cut > 0 && (static_cast<unsigned char>(msg[cut]) & 0xC0) == 0x80) --cut;
        msg.resize(cut);
        msg += "...";
    }
    while (!msg.empty() && msg.back() == ' ') msg.pop_back();
    return msg;
}

// Per-context structured error handler: keeps the first error, prints nothing.
void onError(void* ctx, xmlErrorPtr err) {
    if (!err || err->level < XML_ERR_ERROR) return;
    // The structured handler receives ctxt->userData, which is the context itself.
    ParseState* st = stateOf(ctx);
    if (!st || st->haveError) return;
    if (err->domain == XML_FROM_NAMESPACE && !st->strictNamespaces) return;  // well-formed XML all the same
    st->haveError = true;
    st->message = oneLine(err->message);
    st->line = err->line;
}

struct CtxtDeleter {
    void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

// libxml2 (2.9) checks each attribute of a start tag against every earlier one, so a tag with
// 200,000 attributes (2 MB) parses for minutes. FHIR elements have one or two attributes, CDA
// elements a few, XHTML narrative a handful; a tag with more than this is refused before libxml2
// sees it.
constexpr size_t kMaxAttributesPerTag = 256;

// One linear pass over the raw bytes: the first start tag with more attributes (counted as '='
// outside quotes) than the cap, or npos. Comments, CDATA and processing instructions are skipped;
// at a DOCTYPE the pass stops, since the parser refuses it at once. Quoted values are skipped with
// memchr, so the pass costs a few percent of the parse.
size_t crowdedTagAt(std::string_view d) {
    static const auto kSpecial = [] {
        std::array<bool, 256> t{};
        for (unsigned char c : {'"', '\'', '=', '>', '<'}) t[c] = true;
        return t;
    }();
    const char* const begin = d.data();
    const char* const end = begin + d.size();
    auto skipPast = [&](const char* from, std::string_view close) {
        size_t at = d.find(close, static_cast<size_t>(from - begin));
        return at == std::string_view::npos ? end : begin + at + close.size();
    };
    const char* p = begin;
    while (p < end) {
        const char* lt = static_cast<const char*>(std::memchr(p, '<', static_cast<size_t>(end - p)));
        if (lt == nullptr) break;
        const std::string_view rest(lt, static_cast<size_t>(end - lt));
        if (rest.substr(0, 4) == "<!--") {
            p = skipPast(lt + 4, "-->");
            continue;
        }
        if (rest.substr(0, 9) == "<![CDATA[") {
            p = skipPast(lt + 9, "]]>");
            continue;
        }
        if (rest.substr(0, 2) == "<?") {
            p = skipPast(lt + 2, "?>");
            continue;
        }
        if (rest.substr(0, 2) == "<!") return std::string_view::npos;
        size_t count = 0;
        const char* q = lt + 1;
        while (q < end) {
            while (q < end && !kSpecial[static_cast<unsigned char>(*q)]) ++q;
            if (q == end) break;
            const char c = *q;
            if (c == '"' || c == '\'') {
                const void* close = std::memchr(q + 1, c, static_cast<size_t>(end - q - 1));
                q = close ? static_cast<const char*>(close) + 1 : end;
            } else if (c == '=') {
                if (++count > kMaxAttributesPerTag) return static_cast<size_t>(lt - begin);
                ++q;
            } else {
                break;  // '>' ends the tag; '<' is malformed, and starts the next one
            }
        }
        p = q;
    }
    return std::string_view::npos;
}

}  // namespace

DocPtr parseDocument(std::string_view data, const ReadLimits& limits, const std::string& file, const char* format,
                     bool strictNamespaces) {
    static const bool initialised = (xmlInitParser(), true);  // once, thread-safe
    (void)initialised;

    if (data.size() > static_cast<size_t>(INT_MAX))
        throw Error(PPMG_E_LIMIT, "the XML input is too large for the parser", Location{file, "", "", 0});
    if (trim(data).empty()) throw Error(PPMG_E_PARSE, "the XML input is empty", Location{file, "", "", 0});

    if (size_t at = crowdedTagAt(data); at != std::string_view::npos) {
        const long line = 1 + static_cast<long>(std::count(data.begin(), data.begin() + static_cast<long>(at), '\n'));
        throw Error(PPMG_E_LIMIT, "an XML tag has more than " + std::to_string(kMaxAttributesPerTag) + " attributes",
                    Location{file, "", "", line});
    }

    std::unique_ptr<xmlParserCtxt, CtxtDeleter> ctxt(
        xmlCreateMemoryParserCtxt(data.data(), static_cast<int>(data.size())));
    if (!ctxt) throw Error(PPMG_E_NO_MEMORY, "cannot create an XML parser", Location{file, "", "", 0});

    // No NOENT (entities stay unsubstituted), no DTDLOAD/DTDATTR/DTDVALID, no HUGE (libxml2's
    // own depth and text caps stay on). The input was checked as UTF-8; ignore declared encodings.
    xmlCtxtUseOptions(ctxt.get(), XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC |
                                      XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
    ParseState st;
    st.maxDepth = limits.maxDepth;
    st.strictNamespaces = strictNamespaces;
    ctxt->_private = &st;
    xmlSAXHandler* sax = ctxt->sax;  // owned by this context
    if (!sax || sax->initialized != XML_SAX2_MAGIC || !sax->startElementNs || !sax->endElementNs)
        throw Error(PPMG_E_INTERNAL, "the XML parser is not in SAX2 mode", Location{file, "", "", 0});
    st.startElement = sax->startElementNs;
    st.endElement = sax->endElementNs;
    sax->startElementNs = onStartElement;
    sax->endElementNs = onEndElement;
    sax->internalSubset = onDoctype;
    sax->externalSubset = onDoctype;
    sax->entityDecl = onEntityDecl;
    sax->reference = onReference;
    sax->serror = onError;
    ctxt->loadsubset = 0;
    ctxt->replaceEntities = 0;
    ctxt->validate = 0;

    xmlParseDocument(ctxt.get());
    DocPtr doc(ctxt->myDoc);
    ctxt->myDoc = nullptr;

    if (st.sawDtd) throw Error(PPMG_E_NOT_FHIR, noDtd(format), Location{file, "", "", st.line});
    if (st.sawEntity) throw Error(PPMG_E_NOT_FHIR, noEntity(format), Location{file, "", "", st.line});
    if (st.tooDeep)
        throw Error(PPMG_E_LIMIT,
                    "the XML nests deeper than the limit of " + std::to_string(limits.maxDepth) + " levels",
                    Location{file, "", "", st.line});
    if (!ctxt->wellFormed || !doc || st.haveError) {
        long line = st.line;
        std::string msg = st.message;
        if (msg.empty()) {
            const xmlError* last = xmlCtxtGetLastError(ctxt.get());
            if (last && last->message) {
                msg = oneLine(last->message);
                line = last->line;
            } else {
                msg = "malformed XML";
            }
        }
        // libxml2's own caps (256 levels, 10 MB text nodes) are limits, not syntax errors.
        const bool cap =
            msg.find("Excessive depth") != std::string::npos || msg.find("XML_PARSE_HUGE") != std::string::npos;
        if (cap) throw Error(PPMG_E_LIMIT, "the XML is over a parser limit: " + msg, Location{file, "", "", line});
        throw Error(PPMG_E_PARSE, "the XML is not well-formed: " + msg, Location{file, "", "", line});
    }
    return doc;
}

const xmlNode* checkedRoot(const xmlDoc* doc, const ReadLimits& limits, const std::string& file, const char* format) {
    auto at = [&](const xmlNode* n) { return Location{file, "", "", lineOf(n)}; };
    for (const xmlNode* n = doc->children; n; n = n->next) {
        if (n->type == XML_DTD_NODE || n->type == XML_ENTITY_DECL || n->type == XML_ENTITY_REF_NODE)
            throw Error(PPMG_E_NOT_FHIR, noDtd(format), at(n));
    }
    if (doc->intSubset || doc->extSubset) throw Error(PPMG_E_NOT_FHIR, noDtd(format), Location{file, "", "", 1});
    const xmlNode* root = xmlDocGetRootElement(const_cast<xmlDoc*>(doc));
    if (!root) throw Error(PPMG_E_PARSE, "the XML document has no root element", Location{file, "", "", 0});

    // One linear walk over every node: depth, string lengths, no entities.
    const uint64_t maxString = limits.maxStringBytes;
    auto tooLong = [&](const xmlNode* n, size_t len, const char* what) {
        throw Error(PPMG_E_LIMIT,
                    std::string(what) + " of " + std::to_string(len) + " bytes, over the limit of " +
                        std::to_string(maxString) + " bytes",
                    at(n));
    };
    const xmlNode* n = root;
    uint32_t depth = 1;
    for (;;) {
        switch (n->type) {
            case XML_ELEMENT_NODE:
                if (depth > limits.maxDepth)
                    throw Error(PPMG_E_LIMIT,
                                "the XML nests deeper than the limit of " + std::to_string(limits.maxDepth) + " levels",
                                at(n));
                for (const xmlAttr* a = n->properties; a; a = a->next) {
                    size_t len = 0;
                    for (const xmlNode* t = a->children; t; t = t->next) {
                        if (t->type != XML_TEXT_NODE) throw Error(PPMG_E_NOT_FHIR, noEntity(format), at(n));
                        len += sv(t->content).size();
                    }
                    if (len > maxString) tooLong(n, len, "an attribute value");
                }
                break;
            case XML_TEXT_NODE:
            case XML_CDATA_SECTION_NODE:
            case XML_COMMENT_NODE:
            case XML_PI_NODE: {
                size_t len = sv(n->content).size();
                if (len > maxString) tooLong(n, len, "a text node");
                break;
            }
            case XML_ENTITY_REF_NODE:
            case XML_ENTITY_NODE:
            case XML_ENTITY_DECL:
            case XML_DTD_NODE: throw Error(PPMG_E_NOT_FHIR, noEntity(format), at(n));
            default: break;
        }
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            ++depth;
            continue;
        }
        for (;;) {
            if (n == root) return root;
            if (n->next) {
                n = n->next;
                break;
            }
            n = n->parent;
            --depth;
        }
    }
}

}  // namespace ppmg::core::xml

// FHIR R4 XML reader (libxml2). See read/record_reader.hpp for the contract; this file must give
// the same RawRecord as the JSON reader for the same record.
//
// Safety: the document is parsed with its own parser context (no global handlers, so many
// threads may parse at once), with network access off, entities never substituted and no DTD
// ever loaded. A DOCTYPE stops the parser at once (before its internal subset is read), so an
// entity-expansion bomb or an external entity is refused without being expanded or fetched.
// After parsing, one linear walk over every node enforces the depth and string limits and
// refuses entity nodes; the extraction then visits only the FHIR elements it needs.
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clinical_date.hpp"
#include "base/errors.hpp"
#include "read/patient_record.hpp"
#include "read/record_reader.hpp"

namespace ppmg::core {
namespace {

constexpr std::string_view kFhirNs = "http://hl7.org/fhir";

std::string_view sv(const xmlChar* s) {
    return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

bool isElement(const xmlNode* n) { return n && n->type == XML_ELEMENT_NODE; }
bool inFhirNs(const xmlNode* n) { return n->ns && sv(n->ns->href) == kFhirNs; }
bool isFhir(const xmlNode* n, std::string_view name) { return isElement(n) && inFhirNs(n) && sv(n->name) == name; }

// The first FHIR child element with this name, or null.
const xmlNode* child(const xmlNode* parent, std::string_view name) {
    if (!parent) return nullptr;
    for (const xmlNode* c = parent->children; c; c = c->next)
        if (isFhir(c, name)) return c;
    return nullptr;
}

template <class F>
void forEachChild(const xmlNode* parent, std::string_view name, F&& f) {
    if (!parent) return;
    for (const xmlNode* c = parent->children; c; c = c->next)
        if (isFhir(c, name)) f(c);
}

// The first element child (of any namespace), or null.
const xmlNode* firstElementChild(const xmlNode* parent) {
    for (const xmlNode* c = parent->children; c; c = c->next)
        if (isElement(c)) return c;
    return nullptr;
}

const xmlAttr* valueAttr(const xmlNode* n) {
    if (!n) return nullptr;
    for (const xmlAttr* a = n->properties; a; a = a->next)
        if (!a->ns && sv(a->name) == "value") return a;
    return nullptr;
}

// The text of an attribute. Without entity substitution or DTD an attribute holds one text
// node (or none when empty); anything else was refused by the limits walk.
std::string attrText(const xmlAttr* a) {
    if (!a) return {};
    std::string out;
    for (const xmlNode* t = a->children; t; t = t->next)
        if (t->type == XML_TEXT_NODE) out.append(sv(t->content));
    return out;
}

// A FHIR primitive: the value attribute of the named child; "" when absent.
std::string primitive(const xmlNode* parent, std::string_view name) { return attrText(valueAttr(child(parent, name))); }

bool xmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && xmlSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && xmlSpace(s.back())) s.remove_suffix(1);
    return s;
}

// FHIR decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (leading zeros tolerated).
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

// ---------------------------------------------------------------------------------------------
// Parsing

struct ParseState {
    uint32_t maxDepth = 0;
    uint32_t depth = 0;
    startElementNsSAX2Func startElement = nullptr;  // libxml2's own tree builders
    endElementNsSAX2Func endElement = nullptr;
    bool tooDeep = false;
    bool sawDtd = false;
    bool sawEntity = false;
    bool haveError = false;
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
    st->haveError = true;
    st->message = oneLine(err->message);
    st->line = err->line;
}

struct CtxtDeleter {
    void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};
struct DocDeleter {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocDeleter>;

// libxml2 (2.9) checks each attribute of a start tag against every earlier one, so a tag with
// 200,000 attributes (2 MB) parses for minutes. FHIR elements have one or two attributes, XHTML
// narrative a handful; a tag with more than this is refused before libxml2 sees it.
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

const char* const kNoDtd = "DTDs and entities are not allowed in FHIR XML (the document has a DOCTYPE)";
const char* const kNoEntity = "DTDs and entities are not allowed in FHIR XML (the document uses an entity)";

DocPtr parseDocument(std::string_view data, const ReadLimits& limits, const std::string& file) {
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

    if (st.sawDtd) throw Error(PPMG_E_NOT_FHIR, kNoDtd, Location{file, "", "", st.line});
    if (st.sawEntity) throw Error(PPMG_E_NOT_FHIR, kNoEntity, Location{file, "", "", st.line});
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

// ---------------------------------------------------------------------------------------------
// Reading

struct Ctx {
    const std::string* type = nullptr;
    std::string id;    // resource id, else fullUrl
    std::string path;  // "Bundle.entry[3].resource"
};

class XmlReader {
public:
    XmlReader(const ReadLimits& limits, const std::string& file) : limits_(limits), file_(file) {}

    RawRecord read(const xmlDoc* doc) {
        for (const xmlNode* n = doc->children; n; n = n->next) {
            if (n->type == XML_DTD_NODE || n->type == XML_ENTITY_DECL || n->type == XML_ENTITY_REF_NODE)
                throw Error(PPMG_E_NOT_FHIR, kNoDtd, loc(n, nullptr));
        }
        if (doc->intSubset || doc->extSubset) throw Error(PPMG_E_NOT_FHIR, kNoDtd, Location{file_, "", "", 1});
        const xmlNode* root = xmlDocGetRootElement(const_cast<xmlDoc*>(doc));
        if (!root) throw Error(PPMG_E_PARSE, "the XML document has no root element", Location{file_, "", "", 0});
        checkLimits(root);

        if (!inFhirNs(root)) {
            std::string ns = root->ns ? std::string(sv(root->ns->href)) : std::string();
            throw Error(PPMG_E_NOT_FHIR,
                        "the root element <" + std::string(sv(root->name)) + "> is " +
                            (ns.empty() ? std::string("in no namespace") : "in the namespace " + ns) + ", not FHIR (" +
                            std::string(kFhirNs) + ")",
                        loc(root, nullptr));
        }
        std::string rootName(sv(root->name));
        if (rootName == "Bundle") {
            readBundle(root);
        } else {
            if (rootName.empty() || rootName[0] < 'A' || rootName[0] > 'Z')
                throw Error(PPMG_E_NOT_FHIR, "the root element <" + rootName + "> is not a FHIR resource",
                            loc(root, nullptr));
            rec_.resourceCount = 1;
            if (rootName != "Patient")
                throw Error(PPMG_E_NO_PATIENT,
                            "the record holds no Patient resource (it is a single " + rootName +
                                "); ppmg needs the patient's record",
                            loc(root, nullptr, rootName));
            readResource(root, rootName, std::string());
        }
        if (rec_.patients.empty())
            throw Error(PPMG_E_NO_PATIENT,
                        "the record holds no Patient resource (the Bundle holds " + std::to_string(rec_.resourceCount) +
                            " resource" + (rec_.resourceCount == 1 ? "" : "s") +
                            ", none of them a Patient); ppmg needs the patient's record",
                        loc(root, nullptr, "Bundle"));
        return std::move(rec_);
    }

private:
    const ReadLimits& limits_;
    const std::string& file_;
    RawRecord rec_;
    std::vector<const xmlNode*> containedMeds_;  // of the resource being read

    std::vector<Coding> codings_;  // scratch for a concept's codings before they go to the arena

    Text kept(const std::string& s) const { return rec_.text->keep(s); }

    Location loc(const xmlNode* n, const Ctx* ctx, std::string path = {}) const {
        Location l;
        l.file = file_;
        if (ctx) {
            l.fhirPath = path.empty() ? ctx->path : ctx->path + "." + path;
            l.resourceId = ctx->id;
        } else {
            l.fhirPath = std::move(path);
        }
        l.line = n ? xmlGetLineNo(n) : 0;
        if (l.line < 0) l.line = 0;
        return l;
    }

    [[noreturn]] void notFhir(const xmlNode* n, const Ctx& ctx, const std::string& field,
                              const std::string& why) const {
        Location l = loc(n, &ctx, field);
        throw Error(PPMG_E_NOT_FHIR, *ctx.type + "." + field + " " + why, std::move(l));
    }

    // One linear walk over every node: depth, string lengths, no entities.
    void checkLimits(const xmlNode* root) const {
        const uint64_t maxString = limits_.maxStringBytes;
        auto tooLong = [&](const xmlNode* n, size_t len, const char* what) {
            Location l = loc(n, nullptr);
            throw Error(PPMG_E_LIMIT,
                        std::string(what) + " of " + std::to_string(len) + " bytes, over the limit of " +
                            std::to_string(maxString) + " bytes",
                        std::move(l));
        };
        const xmlNode* n = root;
        uint32_t depth = 1;
        for (;;) {
            switch (n->type) {
                case XML_ELEMENT_NODE:
                    if (depth > limits_.maxDepth) {
                        Location l = loc(n, nullptr);
                        throw Error(
                            PPMG_E_LIMIT,
                            "the XML nests deeper than the limit of " + std::to_string(limits_.maxDepth) + " levels",
                            std::move(l));
                    }
                    for (const xmlAttr* a = n->properties; a; a = a->next) {
                        size_t len = 0;
                        for (const xmlNode* t = a->children; t; t = t->next) {
                            if (t->type != XML_TEXT_NODE) throw Error(PPMG_E_NOT_FHIR, kNoEntity, loc(n, nullptr));
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
                case XML_DTD_NODE: throw Error(PPMG_E_NOT_FHIR, kNoEntity, loc(n, nullptr));
                default: break;
            }
            if (n->type == XML_ELEMENT_NODE && n->children) {
                n = n->children;
                ++depth;
                continue;
            }
            for (;;) {
                if (n == root) return;
                if (n->next) {
                    n = n->next;
                    break;
                }
                n = n->parent;
                --depth;
            }
        }
    }

    void readBundle(const xmlNode* bundle) {
        rec_.bundleType = kept(primitive(bundle, "type"));
        // Count first, so an oversized bundle is refused before any work.
        size_t count = 0;
        forEachChild(bundle, "entry", [&](const xmlNode* e) {
            if (child(e, "resource")) ++count;
        });
        if (count > limits_.maxResources) {
            Location l = loc(bundle, nullptr, "Bundle");
            throw Error(PPMG_E_LIMIT,
                        "the Bundle holds " + std::to_string(count) + " resources, over the limit of " +
                            std::to_string(limits_.maxResources),
                        std::move(l));
        }
        rec_.resourceCount = count;
        size_t index = 0;
        forEachChild(bundle, "entry", [&](const xmlNode* entry) {
            const size_t i = index++;
            const xmlNode* resource = child(entry, "resource");
            if (!resource) return;  // e.g. a transaction-response entry
            std::string path = "Bundle.entry[" + std::to_string(i) + "].resource";
            const xmlNode* res = firstElementChild(resource);
            if (!res || !inFhirNs(res)) {
                Location l = loc(resource, nullptr, path);
                throw Error(PPMG_E_NOT_FHIR, "the entry's resource is not a FHIR resource", std::move(l));
            }
            readResource(res, std::move(path), primitive(entry, "fullUrl"));
        });
    }

    void readResource(const xmlNode* res, std::string path, std::string fullUrl) {
        const std::string type(sv(res->name));
        Ctx ctx;
        ctx.type = &type;
        ctx.id = primitive(res, "id");
        if (ctx.id.empty()) ctx.id = fullUrl;
        ctx.path = path.empty() ? type : std::move(path);
        Source src{kept(type), kept(ctx.id), kept(ctx.path)};

        if (type == "Patient") {
            readPatient(res, ctx, std::move(src), std::move(fullUrl));
        } else if (type == "Observation") {
            readObservation(res, ctx, std::move(src));
        } else if (type == "Condition") {
            readCondition(res, ctx, std::move(src));
        } else if (type == "Procedure") {
            readProcedure(res, ctx, std::move(src));
        } else if (type == "MedicationRequest" || type == "MedicationStatement") {
            readMedication(res, ctx, std::move(src));
        } else if (type == "Medication") {
            readMedicationDefinition(res, fullUrl, MedicationDefinition::kNotContained);
        } else if (type == "AllergyIntolerance") {
            readAllergy(res, ctx, std::move(src));
        } else if (type == "Encounter") {
            readEncounter(res, ctx, std::move(src));
        }
        // Every other resource is counted (resourceCount) and skipped.
    }

    // ---- data types

    Codings codes(const xmlNode* concept) {
        codings_.clear();
        appendCodes(concept, codings_);
        return inArena(codings_);
    }

    void appendCodes(const xmlNode* concept, std::vector<Coding>& out) {
        forEachChild(concept, "coding", [&](const xmlNode* c) {
            Coding& coding = out.emplace_back();
            coding.system = kept(primitive(c, "system"));
            coding.code = kept(primitive(c, "code"));
            coding.display = kept(primitive(c, "display"));
        });
    }

    Codings inArena(const std::vector<Coding>& list) {
        if (list.empty()) return {};
        Coding* out = rec_.text->make<Coding>(list.size());
        std::copy(list.begin(), list.end(), out);
        return Codings(out, list.size());
    }

    // A status CodeableConcept's codings; a plain code (value attribute, not R4) as one coding
    // without a system.
    Codings statusCodings(const xmlNode* concept) {
        if (const xmlAttr* a = valueAttr(concept)) {
            Coding* one = rec_.text->make<Coding>(1);
            one->code = kept(attrText(a));
            return Codings(one, 1);
        }
        return codes(concept);
    }

    static std::string reference(const xmlNode* ref) { return primitive(ref, "reference"); }

    // A dateTime/instant/date element's value; an element without a value (only extensions)
    // counts as absent, a value that is not a FHIR date-time is refused.
    std::optional<DateTime> dateTime(const xmlNode* el, const Ctx& ctx, const std::string& field) const {
        const xmlAttr* a = valueAttr(el);
        if (!a) return std::nullopt;
        const Text text = kept(attrText(a));
        if (text.empty()) return std::nullopt;
        auto dt = parseFhirDateTime(text);  // its text views the arena
        if (!dt) notFhir(el, ctx, field, "is not a FHIR date or dateTime: \"" + std::string(text) + "\"");
        return dt;
    }

    std::optional<DateTime> dateChild(const xmlNode* parent, const char* name, const Ctx& ctx) const {
        return dateTime(child(parent, name), ctx, name);
    }

    std::optional<DateTime> periodStart(const xmlNode* parent, const char* name, const Ctx& ctx) const {
        const xmlNode* period = child(parent, name);
        if (!period) return std::nullopt;
        return dateTime(child(period, "start"), ctx, std::string(name) + ".start");
    }

    Quantity quantity(const xmlNode* q, const Ctx& ctx, const std::string& field) const {
        Quantity out;
        if (!q) return out;
        const xmlNode* valueEl = child(q, "value");
        if (const xmlAttr* a = valueAttr(valueEl)) {
            std::string text = attrText(a);
            auto v = parseDecimal(text);
            if (!v) notFhir(valueEl, ctx, field + ".value", "is not a FHIR decimal: \"" + text + "\"");
            out.value = *v;
            out.present = true;
            out.unit = kept(primitive(q, "code"));
            if (out.unit.empty()) out.unit = kept(primitive(q, "unit"));
        }
        return out;
    }

    // ---- resources

    void readPatient(const xmlNode* res, const Ctx& ctx, Source src, std::string fullUrl) {
        Patient p;
        p.source = std::move(src);
        p.fullUrl = kept(fullUrl);
        forEachChild(res, "identifier", [&](const xmlNode* id) {
            Identifier ident;
            ident.system = kept(primitive(id, "system"));
            ident.value = kept(primitive(id, "value"));
            for (const Coding& c : codes(child(id, "type")))
                if (c.system == kIdentifierTypeSystem && ident.type.empty()) ident.type = c.code;
            if (!ident.value.empty()) p.identifiers.push_back(std::move(ident));
        });
        // The official name, else the first.
        const xmlNode* name = nullptr;
        forEachChild(res, "name", [&](const xmlNode* n) {
            if (!name)
                name = n;
            else if (primitive(n, "use") == "official" && primitive(name, "use") != "official")
                name = n;
        });
        if (name) {
            p.family = kept(primitive(name, "family"));
            forEachChild(name, "given", [&](const xmlNode* g) {
                std::string given = attrText(valueAttr(g));
                if (!given.empty()) p.given.push_back(kept(given));
            });
            p.nameText = kept(primitive(name, "text"));
        }
        p.gender = kept(primitive(res, "gender"));
        if (auto birth = dateChild(res, "birthDate", ctx)) p.birthDate = birth->date;
        rec_.patients.push_back(std::move(p));
    }

    void readObservation(const xmlNode* res, const Ctx& ctx, Source src) {
        Observation o;
        o.source = std::move(src);
        o.subject = kept(reference(child(res, "subject")));
        o.status = kept(primitive(res, "status"));
        o.codes = codes(child(res, "code"));
        o.effective = dateChild(res, "effectiveDateTime", ctx);
        if (!o.effective) o.effective = periodStart(res, "effectivePeriod", ctx);
        if (!o.effective) o.effective = dateChild(res, "effectiveInstant", ctx);
        o.issued = dateChild(res, "issued", ctx);
        o.quantity = quantity(child(res, "valueQuantity"), ctx, "valueQuantity");
        o.valueCodes = codes(child(res, "valueCodeableConcept"));
        o.valueDateTime = dateChild(res, "valueDateTime", ctx);
        o.valueText = kept(primitive(res, "valueString"));
        size_t index = 0;
        forEachChild(res, "component", [&](const xmlNode* c) {
            Observation::Component comp;
            comp.codes = codes(child(c, "code"));
            comp.quantity =
                quantity(child(c, "valueQuantity"), ctx, "component[" + std::to_string(index) + "].valueQuantity");
            ++index;
            o.components.push_back(std::move(comp));
        });
        rec_.observations.push_back(std::move(o));
    }

    void readCondition(const xmlNode* res, const Ctx& ctx, Source src) {
        Condition c;
        c.source = std::move(src);
        c.subject = kept(reference(child(res, "subject")));
        c.clinicalStatusCodings = statusCodings(child(res, "clinicalStatus"));
        c.verificationStatusCodings = statusCodings(child(res, "verificationStatus"));
        c.codes = codes(child(res, "code"));
        c.codeText = kept(primitive(child(res, "code"), "text"));
        c.onset = dateChild(res, "onsetDateTime", ctx);
        if (!c.onset) c.onset = periodStart(res, "onsetPeriod", ctx);
        c.recorded = dateChild(res, "recordedDate", ctx);
        c.abatement = dateChild(res, "abatementDateTime", ctx);
        if (const xmlNode* period = child(res, "abatementPeriod"); !c.abatement && period) {
            c.abatement = dateTime(child(period, "end"), ctx, "abatementPeriod.end");
            if (!c.abatement) c.abatement = dateTime(child(period, "start"), ctx, "abatementPeriod.start");
        }
        rec_.conditions.push_back(std::move(c));
    }

    void readProcedure(const xmlNode* res, const Ctx& ctx, Source src) {
        Procedure p;
        p.source = std::move(src);
        p.subject = kept(reference(child(res, "subject")));
        p.status = kept(primitive(res, "status"));
        p.codes = codes(child(res, "code"));
        p.performed = dateChild(res, "performedDateTime", ctx);
        if (!p.performed) p.performed = periodStart(res, "performedPeriod", ctx);
        rec_.procedures.push_back(std::move(p));
    }

    void readMedication(const xmlNode* res, const Ctx& ctx, Source src) {
        Medication m;
        m.source = std::move(src);
        m.subject = kept(reference(child(res, "subject")));
        m.status = kept(primitive(res, "status"));
        m.codes = codes(child(res, "medicationCodeableConcept"));
        m.medicationReference = kept(reference(child(res, "medicationReference")));
        const size_t index = rec_.medications.size();
        forEachChild(res, "contained", [&](const xmlNode* contained) {
            const xmlNode* med = firstElementChild(contained);
            if (med && isFhir(med, "Medication")) readMedicationDefinition(med, std::string(), index);
        });
        m.authoredOn = dateChild(res, "authoredOn", ctx);
        m.effective = dateChild(res, "effectiveDateTime", ctx);
        if (!m.effective) m.effective = periodStart(res, "effectivePeriod", ctx);
        m.dateAsserted = dateChild(res, "dateAsserted", ctx);
        rec_.medications.push_back(std::move(m));
    }

    // containedIn: the index of the medication fact that contains it, or kNotContained.
    void readMedicationDefinition(const xmlNode* res, const std::string& fullUrl, size_t containedIn) {
        MedicationDefinition def;
        def.id = kept(primitive(res, "id"));
        def.fullUrl = kept(fullUrl);
        def.codes = codes(child(res, "code"));
        def.containedIn = containedIn;
        rec_.medicationDefinitions.push_back(std::move(def));
    }

    void readAllergy(const xmlNode* res, const Ctx& ctx, Source src) {
        Allergy a;
        a.source = std::move(src);
        a.subject = kept(reference(child(res, "patient")));
        a.clinicalStatusCodings = statusCodings(child(res, "clinicalStatus"));
        a.verificationStatusCodings = statusCodings(child(res, "verificationStatus"));
        a.codes = codes(child(res, "code"));
        a.onset = dateChild(res, "onsetDateTime", ctx);
        if (!a.onset) a.onset = periodStart(res, "onsetPeriod", ctx);
        a.recorded = dateChild(res, "recordedDate", ctx);
        rec_.allergies.push_back(std::move(a));
    }

    void readEncounter(const xmlNode* res, const Ctx& ctx, Source src) {
        Encounter e;
        e.source = std::move(src);
        e.subject = kept(reference(child(res, "subject")));
        codings_.clear();
        forEachChild(res, "type", [&](const xmlNode* t) { appendCodes(t, codings_); });
        e.types = inArena(codings_);
        e.start = periodStart(res, "period", ctx);
        rec_.encounters.push_back(std::move(e));
    }
};

}  // namespace

RawRecord readFhirXml(std::string_view data, const ReadLimits& limits, const std::string& sourceName) {
    if (data.size() > limits.maxInputBytes)
        throw Error(PPMG_E_LIMIT,
                    "the input is " + std::to_string(data.size()) + " bytes, over the limit of " +
                        std::to_string(limits.maxInputBytes) + " bytes",
                    Location{sourceName, "", "", 0});
    DocPtr doc = parseDocument(data, limits, sourceName);
    XmlReader reader(limits, sourceName);
    return reader.read(doc.get());
}

}  // namespace ppmg::core

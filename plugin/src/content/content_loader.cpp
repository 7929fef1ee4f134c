// Loads the clinical content: reads ppmg-content.xml (no network, no entity expansion, no DTD),
// validates it against schema/ppmg-content.xsd, builds the model, then checks what the schema
// cannot: every id a rule, measure or massage type uses must exist.
#include "content/content.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <locale>
#include <sstream>
#include <unordered_set>

#include "base/errors.hpp"

namespace ppmg::core {

// ---------------------------------------------------------------- outcomes, Clause, Content

namespace {
const char* const kOutcomeCodes[] = {"escalate", "block", "defer", "review", "modify", "no-flag", "not-applicable"};
constexpr size_t kOutcomeCount = sizeof(kOutcomeCodes) / sizeof(kOutcomeCodes[0]);
}  // namespace

const char* outcomeCode(Outcome o) {
    auto i = static_cast<size_t>(o);
    return i < kOutcomeCount ? kOutcomeCodes[i] : "";
}

bool parseOutcome(const std::string& s, Outcome& out) {
    for (size_t i = 0; i < kOutcomeCount; ++i) {
        if (s == kOutcomeCodes[i]) {
            out = static_cast<Outcome>(i);
            return true;
        }
    }
    return false;
}

Clause::Clause()
    : atLeast(std::numeric_limits<double>::quiet_NaN()),
      above(std::numeric_limits<double>::quiet_NaN()),
      below(std::numeric_limits<double>::quiet_NaN()),
      atMost(std::numeric_limits<double>::quiet_NaN()) {}

const Reference* Content::findReference(const std::string& id) const {
    for (const auto& r : references)
        if (r.id == id) return &r;
    return nullptr;
}

const CodeSystem* Content::systemByUri(std::string_view uri) const {
    for (const auto& s : codeSystems)
        if (s.uri == uri) return &s;
    return nullptr;
}

const CodeSystem* Content::systemByName(std::string_view name) const {
    auto it = systemNames.find(name);
    return it == systemNames.end() ? nullptr : it->second;
}

const CodeSystem* Content::systemById(const std::string& id) const {
    for (const auto& s : codeSystems)
        if (s.id == id) return &s;
    return nullptr;
}

const std::string& Content::text(const std::string& id) const {
    static const std::string empty;
    auto it = texts.find(id);
    return it == texts.end() ? empty : it->second;
}

std::string Content::readableValue(std::string_view value) const {
    const size_t space = value.rfind(' ');
    if (space == std::string_view::npos) return std::string(value);
    auto it = unitLabels.find(std::string(value.substr(space + 1)));
    if (it == unitLabels.end()) return std::string(value);
    std::string out(value.substr(0, space));
    if (it->second.empty()) return out;
    if (it->second[0] != '/') out.push_back(' ');
    return out.append(it->second);
}

std::string Content::gapName(const std::string& id, const std::string& text) const {
    for (const auto& g : dataGaps)
        if (g.id == id && !g.name.empty()) return g.name;
    // A rule's gap is a name already; a longer text keeps what comes before its first colon.
    const size_t colon = text.find(": ");
    return colon == std::string::npos ? text : text.substr(0, colon);
}

const char* const kHandoutPhraseIds[] = {"title",
                                         "draft",
                                         "for",
                                         "labelled",
                                         "made-on",
                                         "birth-day",
                                         "no-birth",
                                         "intro",
                                         "heading-now",
                                         "heading-wait",
                                         "heading-how",
                                         "heading-help",
                                         "nothing-now",
                                         "nothing-to-wait",
                                         "partner",
                                         "changes",
                                         "changes-win",
                                         "steps",
                                         "take-care",
                                         "help-intro",
                                         "urgent",
                                         "questions",
                                         "outcome-no-flag",
                                         "outcome-modify",
                                         "outcome-defer",
                                         "outcome-review",
                                         "outcome-block",
                                         "outcome-escalate",
                                         "outcome-not-applicable",
                                         "date",
                                         "month-1",
                                         "month-2",
                                         "month-3",
                                         "month-4",
                                         "month-5",
                                         "month-6",
                                         "month-7",
                                         "month-8",
                                         "month-9",
                                         "month-10",
                                         "month-11",
                                         "month-12"};
const size_t kHandoutPhraseCount = sizeof(kHandoutPhraseIds) / sizeof(kHandoutPhraseIds[0]);

const std::string& Handout::phrase(const std::string& id, size_t lang) const {
    auto it = phrases.find(id);
    if (it == phrases.end() || lang >= it->second.size())
        throw Error(PPMG_E_INTERNAL, "the handout has no phrase '" + id + "' in this language");
    return it->second[lang];
}

const Translated* Handout::ruleText(const std::string& rule, Outcome outcome, size_t t) const {
    const Translated* general = nullptr;
    for (const auto& r : rules) {
        if (r.rule != rule || r.outcome != outcome) continue;
        if (r.types.empty()) {
            if (general == nullptr) general = &r.text;
        } else if (std::find(r.types.begin(), r.types.end(), t) != r.types.end()) {
            return &r.text;
        }
    }
    return general;
}

// ---------------------------------------------------------------- loading

namespace {

constexpr const char* kNamespace = PPMG_CONTENT_NAMESPACE;
constexpr const char* kContentFile = "ppmg-content.xml";
constexpr const char* kSchemaFile = "schema/ppmg-content.xsd";

[[noreturn]] void fail(const std::string& file, long line, const std::string& message) {
    Location where;
    where.file = file;
    where.line = line;
    throw Error(PPMG_E_CONTENT, file + ":" + std::to_string(line) + ": " + message, where);
}

std::string joinPath(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string trimmed(const std::string& s) {
    const char* ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Collapses runs of whitespace to one space: texts may be wrapped over lines in the file.
std::string collapsed(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    bool space = false;
    for (char ch : s) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            space = !out.empty();
        } else {
            if (space) out.push_back(' ');
            space = false;
            out.push_back(ch);
        }
    }
    return out;
}

std::vector<std::string> splitWords(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string word;
    while (in >> word) out.push_back(word);
    return out;
}

// ---- libxml2 errors, collected per context (no global handler is touched).

#if LIBXML_VERSION >= 21200
using XmlErrorArg = const xmlError*;
#else
using XmlErrorArg = xmlErrorPtr;
#endif

struct ErrorSink {
    std::string message;  // the first error
    std::string file;     // where libxml2 says it is ("" when it does not say)
    long line = 0;
    int count = 0;

    void add(XmlErrorArg e) {
        if (e == nullptr || e->level == XML_ERR_WARNING) return;
        if (count++ == 0) {
            message = trimmed(e->message ? e->message : "unknown libxml2 error");
            file = e->file ? e->file : "";
            line = e->line;
        }
    }
    std::string describe() const {
        std::string s = message.empty() ? "invalid document" : message;
        if (count > 1) s += " (and " + std::to_string(count - 1) + " more errors)";
        return s;
    }
};

void onSchemaError(void* data, XmlErrorArg error) { static_cast<ErrorSink*>(data)->add(error); }

// Parser errors reach the SAX structured handler with the parser context as data; the sink
// rides in the context's _private slot, which libxml2 leaves to the caller.
void onParseError(void* data, XmlErrorArg error) {
    auto* ctxt = static_cast<xmlParserCtxtPtr>(data);
    if (ctxt != nullptr && ctxt->_private != nullptr) static_cast<ErrorSink*>(ctxt->_private)->add(error);
}

struct DocFree {
    void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
};
struct ParserCtxtFree {
    void operator()(xmlParserCtxtPtr c) const { xmlFreeParserCtxt(c); }
};
struct SchemaParserCtxtFree {
    void operator()(xmlSchemaParserCtxtPtr c) const { xmlSchemaFreeParserCtxt(c); }
};
struct SchemaFree {
    void operator()(xmlSchemaPtr s) const { xmlSchemaFree(s); }
};
struct SchemaValidCtxtFree {
    void operator()(xmlSchemaValidCtxtPtr c) const { xmlSchemaFreeValidCtxt(c); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, 0, "cannot open the content file");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail(path, 0, "cannot read the content file");
    return bytes;
}

std::string sha256Hex(const std::string& bytes) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(bytes.data(), static_cast<unsigned>(bytes.size()));
    return Poco::DigestEngine::digestToHex(engine.digest());
}

DocPtr parseXml(const std::string& path, const std::string& bytes) {
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) fail(path, 0, "content file too large");
    std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
    if (!ctxt) fail(path, 0, "cannot create an XML parser");
    ErrorSink sink;
    ctxt->_private = &sink;
    ctxt->sax->serror = onParseError;
    // Network, entity substitution and DTD loading stay off; blanks between elements are dropped.
    DocPtr doc(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), path.c_str(), nullptr,
                                 XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_BIG_LINES));
    if (!doc || !ctxt->wellFormed) fail(path, sink.line, "not well-formed XML: " + sink.describe());
    if (doc->intSubset != nullptr || doc->extSubset != nullptr)
        fail(path, 1, "a DOCTYPE is not allowed in the content (no DTDs, no entities)");
    return doc;
}

void validate(const std::string& contentPath, const std::string& schemaPath, xmlDocPtr doc) {
    {
        std::ifstream probe(schemaPath, std::ios::binary);
        if (!probe) fail(schemaPath, 0, "cannot open the content schema");
    }
    ErrorSink parseSink;
    std::unique_ptr<xmlSchemaParserCtxt, SchemaParserCtxtFree> pctxt(xmlSchemaNewParserCtxt(schemaPath.c_str()));
    if (!pctxt) fail(schemaPath, 0, "cannot create a schema parser");
    xmlSchemaSetParserStructuredErrors(pctxt.get(), onSchemaError, &parseSink);
    std::unique_ptr<xmlSchema, SchemaFree> schema(xmlSchemaParse(pctxt.get()));
    if (!schema) fail(schemaPath, parseSink.line, "invalid content schema: " + parseSink.describe());

    ErrorSink sink;
    std::unique_ptr<xmlSchemaValidCtxt, SchemaValidCtxtFree> vctxt(xmlSchemaNewValidCtxt(schema.get()));
    if (!vctxt) fail(schemaPath, 0, "cannot create a schema validation context");
    xmlSchemaSetValidStructuredErrors(vctxt.get(), onSchemaError, &sink);
    int rc = xmlSchemaValidateDoc(vctxt.get(), doc);
    if (rc != 0) fail(contentPath, sink.line, "does not match the content schema: " + sink.describe());
}

// ---- DOM helpers. After validation the shape is known; helpers still fail cleanly.

bool isElement(const xmlNode* n, const char* name) {
    return n != nullptr && n->type == XML_ELEMENT_NODE && n->ns != nullptr &&
           xmlStrEqual(n->ns->href, BAD_CAST kNamespace) && (name == nullptr || xmlStrEqual(n->name, BAD_CAST name));
}

std::vector<xmlNodePtr> elements(const xmlNode* parent, const char* name = nullptr) {
    std::vector<xmlNodePtr> out;
    if (parent == nullptr) return out;
    for (xmlNodePtr c = parent->children; c != nullptr; c = c->next)
        if (isElement(c, name)) out.push_back(c);
    return out;
}

xmlNodePtr firstElement(const xmlNode* parent, const char* name) {
    auto all = elements(parent, name);
    return all.empty() ? nullptr : all.front();
}

std::string elementName(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

bool hasAttr(const xmlNode* n, const char* name) {
    return xmlHasProp(const_cast<xmlNodePtr>(n), BAD_CAST name) != nullptr;
}

std::string attr(const xmlNode* n, const char* name) {
    xmlChar* v = xmlGetProp(const_cast<xmlNodePtr>(n), BAD_CAST name);
    if (v == nullptr) return "";
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return s;
}

std::string textOf(const xmlNode* n) {
    if (n == nullptr) return "";
    xmlChar* v = xmlNodeGetContent(const_cast<xmlNodePtr>(n));
    if (v == nullptr) return "";
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return collapsed(s);
}

class Builder {
public:
    Builder(std::string file, Content& content) : file_(std::move(file)), c_(content) {}

    void build(const xmlNode* root) {
        if (!isElement(root, "content")) fail(file_, line(root), "the root element is not <content>");
        c_.version = attr(root, "version");
        c_.title = textOf(firstElement(root, "title"));
        c_.signOff = textOf(firstElement(root, "signOff"));
        c_.draft = attr(firstElement(root, "signOff"), "status") != "signed";

        // Targets of references first, so that uses can be checked as they are read.
        readCodeSystems(need(root, "codeSystems"));
        readReferences(need(root, "references"));
        readValueSets(need(root, "valueSets"));
        readMeasures(need(root, "measures"));
        readDelivery(need(root, "delivery"));
        readMassageTypes(need(root, "massageTypes"));
        readOutcomes(need(root, "outcomes"));
        readWarningSigns(need(root, "warningSigns"));
        if (const xmlNode* texts = firstElement(root, "texts"))
            for (xmlNodePtr t : elements(texts, "text")) c_.texts[attr(t, "id")] = textOf(t);
        if (const xmlNode* units = firstElement(root, "unitLabels"))
            for (xmlNodePtr u : elements(units, "unit")) c_.unitLabels[attr(u, "code")] = textOf(u);
        readRules(need(root, "rules"));
        if (const xmlNode* gaps = firstElement(root, "dataGaps")) readDataGaps(gaps);
        if (const xmlNode* handout = firstElement(root, "handout")) readHandout(handout);
    }

private:
    std::string file_;
    Content& c_;
    mutable bool readingRules_ = false;  // a rule's clauses (not a data gap's) are being read

    // The longest window a rule reads a measure over (Measure::ruleWindowDays; < 0: no limit).
    void noteWindow(const std::string& measure, int days) const {
        int& w = c_.measures.at(measure).ruleWindowDays;
        if (w == Measure::kNotRead || (w >= 0 && (days < 0 || days > w))) w = days;
    }
    std::unordered_set<std::string> referenceIds_;

    long line(const xmlNode* n) const { return n ? xmlGetLineNo(const_cast<xmlNodePtr>(n)) : 0; }

    [[noreturn]] void error(const xmlNode* n, const std::string& message) const { fail(file_, line(n), message); }

    const xmlNode* need(const xmlNode* parent, const char* name) const {
        const xmlNode* n = firstElement(parent, name);
        if (n == nullptr) error(parent, std::string("missing <") + name + ">");
        return n;
    }

    double number(const xmlNode* n, const char* name) const {
        std::istringstream in(attr(n, name));
        in.imbue(std::locale::classic());
        double v = 0;
        in >> v;
        if (in.fail() || !(in >> std::ws).eof() || !std::isfinite(v))
            error(n, std::string("attribute ") + name + " is not a number");
        return v;
    }

    int integer(const xmlNode* n, const char* name) const {
        double v = number(n, name);
        if (v < 0 || v > 100000 || v != std::floor(v))
            error(n, std::string("attribute ") + name + " is not a whole number of days");
        return static_cast<int>(v);
    }

    void checkReferences(const xmlNode* n, const std::vector<std::string>& ids, const std::string& who) const {
        if (ids.empty()) error(n, who + ": no reference ids");
        for (const auto& id : ids)
            if (!referenceIds_.count(id)) error(n, who + ": unknown reference id '" + id + "'");
    }

    void checkValueSet(const xmlNode* n, const std::string& id, const std::string& who) const {
        if (!c_.valueSets.count(id)) error(n, who + ": unknown value set '" + id + "'");
    }

    void checkMeasure(const xmlNode* n, const std::string& id, const std::string& who) const {
        if (!c_.measures.count(id)) error(n, who + ": unknown measure '" + id + "'");
    }

    void readCodeSystems(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "codeSystem")) {
            CodeSystem s;
            s.id = attr(n, "id");
            s.uri = attr(n, "uri");
            s.oid = attr(n, "oid");
            s.name = attr(n, "name");
            std::string prefix = attr(n, "prefix");
            s.prefixMatch = prefix == "true" || prefix == "1";
            std::istringstream names(attr(n, "aliases"));
            for (std::string a; names >> a;) s.aliases.push_back(a);
            if (c_.systemById(s.id)) error(n, "duplicate code system id '" + s.id + "'");
            if (c_.systemByUri(s.uri)) error(n, "duplicate code system uri '" + s.uri + "'");
            c_.codeSystems.push_back(std::move(s));
        }
        for (CodeSystem& s : c_.codeSystems) {  // the vector is complete: pointers stay valid
            s.oidUrn = "urn:oid:" + s.oid;
            std::vector<std::string_view> names = {s.uri, s.oid, s.oidUrn};
            names.insert(names.end(), s.aliases.begin(), s.aliases.end());
            for (std::string_view name : names) {
                auto [it, fresh] = c_.systemNames.emplace(name, &s);
                if (!fresh && it->second != &s)
                    error(section, "the name '" + std::string(name) + "' is given to two code systems, '" +
                                       it->second->id + "' and '" + s.id + "'");
            }
        }
    }

    void readReferences(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "reference")) {
            Reference r;
            r.id = attr(n, "id");
            r.url = attr(n, "url");
            r.citation = textOf(n);
            if (!referenceIds_.insert(r.id).second) error(n, "duplicate reference id '" + r.id + "'");
            c_.references.push_back(std::move(r));
        }
    }

    void readValueSets(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "valueSet")) {
            ValueSet vs;
            vs.id = attr(n, "id");
            vs.name = attr(n, "name");
            for (xmlNodePtr code : elements(n, "code")) {
                std::string systemId = attr(code, "system");
                const CodeSystem* system = c_.systemById(systemId);
                if (system == nullptr) error(code, "value set " + vs.id + ": unknown code system '" + systemId + "'");
                std::string value = trimmed(attr(code, "code"));
                if (system->prefixMatch) {
                    std::string prefix = withoutDots(value);
                    if (prefix.empty()) error(code, "value set " + vs.id + ": empty code");
                    vs.addPrefix(system->uri, prefix);
                } else {
                    vs.addCode(system->uri, value);
                }
            }
            std::string id = vs.id;
            if (!c_.valueSets.emplace(id, std::move(vs)).second) error(n, "duplicate value set id '" + id + "'");
        }
    }

    void readMeasures(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "measure")) {
            Measure m;
            m.id = attr(n, "id");
            m.display = attr(n, "display");
            m.unit = attr(n, "unit");
            m.valueSet = attr(n, "valueSet");
            checkValueSet(n, m.valueSet, "measure " + m.id);
            bool canonicalListed = false;
            for (xmlNodePtr u : elements(n, "unit")) {
                UnitConversion conv;
                conv.code = attr(u, "code");
                if (hasAttr(u, "offset")) conv.offset = number(u, "offset");
                if (hasAttr(u, "scale")) conv.scale = number(u, "scale");
                if (conv.scale == 0) error(u, "measure " + m.id + ": unit " + conv.code + " has scale 0");
                for (const auto& other : m.units)
                    if (other.code == conv.code) error(u, "measure " + m.id + ": duplicate unit '" + conv.code + "'");
                if (conv.code == m.unit) {
                    canonicalListed = true;
                    if (conv.offset != 0 || conv.scale != 1)
                        error(u, "measure " + m.id + ": the canonical unit must convert as itself");
                }
                m.units.push_back(std::move(conv));
            }
            if (!m.units.empty() && !canonicalListed)
                error(n, "measure " + m.id + ": the canonical unit '" + m.unit + "' is not among its units");
            std::string id = m.id;
            if (!c_.measures.emplace(id, std::move(m)).second) error(n, "duplicate measure id '" + id + "'");
        }
    }

    void readDelivery(const xmlNode* n) {
        DeliveryConfig& d = c_.delivery;
        d.caesareanValueSet = attr(n, "caesarean");
        d.vaginalValueSet = attr(n, "vaginal");
        d.unspecifiedValueSet = attr(n, "unspecified");
        d.dateObservationValueSet = attr(n, "dateObservation");
        d.obstetricAdmissionValueSet = attr(n, "obstetricAdmission");
        d.postnatalVisitValueSet = attr(n, "postnatalVisit");
        d.woundStatusValueSet = attr(n, "woundStatus");
        d.postnatalWindowDays = integer(n, "postnatalWindowDays");
        d.episodeWindowDays = integer(n, "episodeWindowDays");
        d.laterPregnancyDays = integer(n, "laterPregnancyDays");
        d.methodObservationValueSet = attr(n, "methodObservation");
        if (!d.methodObservationValueSet.empty()) checkValueSet(n, d.methodObservationValueSet, "delivery");
        d.woundStatusOrder = splitWords(attr(n, "woundStatusOrder"));
        if (std::find(d.woundStatusOrder.begin(), d.woundStatusOrder.end(), "missing") == d.woundStatusOrder.end())
            error(n, "delivery: woundStatusOrder must place \"missing\" among the wound status values");
        for (const std::string* id : {&d.caesareanValueSet, &d.vaginalValueSet, &d.dateObservationValueSet,
                                      &d.obstetricAdmissionValueSet, &d.postnatalVisitValueSet, &d.woundStatusValueSet})
            checkValueSet(n, *id, "delivery");
        if (!d.unspecifiedValueSet.empty()) checkValueSet(n, d.unspecifiedValueSet, "delivery");
    }

    std::vector<Benefit> readClaims(const xmlNode* section, const char* name, const std::string& who) {
        std::vector<Benefit> out;
        for (xmlNodePtr n : elements(section, name)) {
            Benefit b;
            b.text = textOf(n);
            b.grade = attr(n, "grade");
            b.references = splitWords(attr(n, "refs"));
            checkReferences(n, b.references, who);
            out.push_back(std::move(b));
        }
        return out;
    }

    void readMassageTypes(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "massageType")) {
            MassageType t;
            t.code = attr(n, "code");
            t.display = attr(n, "display");
            t.bodySiteCode = attr(n, "bodySite");
            t.bodySiteDisplay = attr(n, "bodySiteDisplay");
            for (const auto& other : c_.massageTypes)
                if (other.code == t.code) error(n, "duplicate massage type '" + t.code + "'");
            std::string who = "massage type " + t.code;
            t.timing = textOf(need(n, "timing"));
            for (xmlNodePtr s : elements(need(n, "technique"), "step")) t.technique.push_back(textOf(s));
            for (xmlNodePtr s : elements(need(n, "precautions"), "item")) t.precautions.push_back(textOf(s));
            t.benefits = readClaims(need(n, "benefits"), "benefit", who);
            t.notSupported = readClaims(need(n, "notSupported"), "claim", who);
            std::vector<std::string> refs;
            for (xmlNodePtr r : elements(need(n, "references"), "ref")) refs.push_back(attr(r, "id"));
            checkReferences(n, refs, who);
            t.references = std::move(refs);
            c_.massageTypes.push_back(std::move(t));
        }
        if (c_.massageTypes.empty()) error(section, "no massage types");
    }

    void readOutcomes(const xmlNode* section) {
        std::vector<bool> seen(c_.outcomeTexts.size(), false);
        for (xmlNodePtr n : elements(section, "outcome")) {
            Outcome o;
            std::string code = attr(n, "code");
            if (!parseOutcome(code, o)) error(n, "unknown outcome '" + code + "'");
            auto i = static_cast<size_t>(o);
            if (seen[i]) error(n, "duplicate outcome text '" + code + "'");
            seen[i] = true;
            c_.outcomeTexts[i].label = attr(n, "label");
            c_.outcomeTexts[i].text = textOf(n);
        }
        for (size_t i = 0; i < seen.size(); ++i)
            if (!seen[i] || c_.outcomeTexts[i].label.empty() || c_.outcomeTexts[i].text.empty())
                error(section, std::string("no text for outcome '") + kOutcomeCodes[i] + "'");
    }

    void readWarningSigns(const xmlNode* section) {
        c_.warningSignsIntro = attr(section, "intro");
        c_.urgentText = attr(section, "urgent");
        for (xmlNodePtr n : elements(section, "sign")) {
            WarningSign w;
            w.id = attr(n, "id");
            w.text = textOf(n);
            c_.warningSigns.push_back(std::move(w));
        }
        if (c_.warningSigns.empty()) error(section, "no warning signs");
    }

    std::vector<size_t> massageTypeIndexes(const xmlNode* n, const std::string& list, const std::string& who) const {
        std::vector<std::string> codes = splitWords(list);
        std::vector<size_t> out;
        if (codes.size() == 1 && codes[0] == "all") {
            for (size_t i = 0; i < c_.massageTypes.size(); ++i) out.push_back(i);
            return out;
        }
        if (codes.empty()) error(n, who + ": no massage types");
        for (const auto& code : codes) {
            if (code == "all") error(n, who + ": \"all\" cannot be combined with massage type codes");
            size_t i = 0;
            while (i < c_.massageTypes.size() && c_.massageTypes[i].code != code) ++i;
            if (i == c_.massageTypes.size()) error(n, who + ": unknown massage type '" + code + "'");
            if (std::find(out.begin(), out.end(), i) != out.end())
                error(n, who + ": massage type '" + code + "' listed twice");
            out.push_back(i);
        }
        return out;
    }

    void readBounds(const xmlNode* n, Clause& c, const std::string& who) const {
        bool any = false;
        if (hasAttr(n, "atLeast")) c.atLeast = number(n, "atLeast"), any = true;
        if (hasAttr(n, "above")) c.above = number(n, "above"), any = true;
        if (hasAttr(n, "below")) c.below = number(n, "below"), any = true;
        if (hasAttr(n, "atMost")) c.atMost = number(n, "atMost"), any = true;
        if (!any) error(n, who + ": <" + elementName(n) + "> needs at least one bound (atLeast, above, below, atMost)");
    }

    Clause readClause(const xmlNode* n, const std::string& who) const {
        Clause c;
        const std::string name = elementName(n);
        if (name == "allOf" || name == "anyOf" || name == "noneOf") {
            c.kind = name == "allOf"   ? Clause::Kind::AllOf
                     : name == "anyOf" ? Clause::Kind::AnyOf
                                       : Clause::Kind::NoneOf;
            c.children = readClauses(n, who);
        } else if (name == "condition" || name == "medication" || name == "allergy" || name == "episodeProcedure") {
            c.kind = name == "condition"    ? Clause::Kind::Condition
                     : name == "medication" ? Clause::Kind::Medication
                     : name == "allergy"    ? Clause::Kind::Allergy
                                            : Clause::Kind::EpisodeProcedure;
            c.valueSet = attr(n, "valueSet");
            checkValueSet(n, c.valueSet, who);
            c.valueSetRef = &c_.valueSets.at(c.valueSet);  // map nodes stay put
        } else if (name == "observation") {
            c.kind = Clause::Kind::Observation;
            c.measure = attr(n, "measure");
            checkMeasure(n, c.measure, who);
            c.withinDays = integer(n, "withinDays");
            readBounds(n, c, who);
            if (readingRules_) noteWindow(c.measure, c.withinDays);
        } else if (name == "noObservation") {
            c.kind = Clause::Kind::NoObservation;
            c.measure = attr(n, "measure");
            checkMeasure(n, c.measure, who);
            c.withinDays = integer(n, "withinDays");
            if (readingRules_) noteWindow(c.measure, c.withinDays);
        } else if (name == "noResource") {
            c.kind = Clause::Kind::NoResource;
            c.resourceTypes = splitWords(attr(n, "types"));
            if (c.resourceTypes.empty()) error(n, who + ": <noResource> names no resource type");
        } else if (name == "deliveryMode") {
            c.kind = Clause::Kind::DeliveryMode;
            c.values = splitWords(attr(n, "in"));
        } else if (name == "postpartumDay") {
            c.kind = Clause::Kind::PostpartumDay;
            readBounds(n, c, who);
        } else if (name == "woundStatus") {
            c.kind = Clause::Kind::WoundStatus;
            c.values = splitWords(attr(n, "in"));
            c.withinDays = integer(n, "withinDays");
            for (const auto& v : c.values)
                if (v != "missing") c_.woundStatusValues.insert(v);
        } else if (name == "noDelivery") {
            c.kind = Clause::Kind::NoDelivery;
        } else if (name == "futureDelivery") {
            c.kind = Clause::Kind::FutureDelivery;
        } else if (name == "lastDeliveryOlderThan") {
            c.kind = Clause::Kind::LastDeliveryOlderThan;
            c.days = integer(n, "days");
        } else if (name == "patientGender") {
            c.kind = Clause::Kind::PatientGender;
            c.values = splitWords(attr(n, "in"));
        } else if (name == "patientAge") {
            c.kind = Clause::Kind::PatientAge;
            readBounds(n, c, who);
        } else if (name == "unusableUnit") {
            c.kind = Clause::Kind::UnusableUnit;
        } else if (name == "laterPregnancy") {
            c.kind = Clause::Kind::LaterPregnancy;
        } else if (name == "undatedDelivery") {
            c.kind = Clause::Kind::UndatedDelivery;
        } else if (name == "caesareanWithin") {
            c.kind = Clause::Kind::CaesareanWithin;
            c.days = integer(n, "days");
        } else if (name == "uncodedCondition") {
            c.kind = Clause::Kind::UncodedCondition;
        } else if (name == "unknownSubject") {
            c.kind = Clause::Kind::UnknownSubject;
            c.values = {attr(n, "patients")};
        } else if (name == "unknownMedication") {
            c.kind = Clause::Kind::UnknownMedication;
        } else if (name == "unreadableStatus") {
            c.kind = Clause::Kind::UnreadableStatus;
        } else {
            error(n, who + ": unknown clause <" + name + ">");
        }
        if ((c.kind == Clause::Kind::DeliveryMode || c.kind == Clause::Kind::WoundStatus ||
             c.kind == Clause::Kind::PatientGender) &&
            c.values.empty())
            error(n, who + ": <" + name + "> lists no values");
        return c;
    }

    std::vector<Clause> readClauses(const xmlNode* parent, const std::string& who) const {
        std::vector<Clause> out;
        for (xmlNodePtr n : elements(parent)) out.push_back(readClause(n, who));
        if (out.empty()) error(parent, who + ": <" + elementName(parent) + "> holds no clause");
        return out;
    }

    Clause readWhen(const xmlNode* owner, const std::string& who) const {
        Clause when;  // the clauses of <when> must all hold
        when.kind = Clause::Kind::AllOf;
        when.children = readClauses(need(owner, "when"), who);
        return when;
    }

    void readRules(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "rule")) {
            Rule r;
            r.id = attr(n, "id");
            std::string who = "rule " + r.id;
            std::string outcome = attr(n, "outcome");
            if (!parseOutcome(outcome, r.outcome)) error(n, who + ": unknown outcome '" + outcome + "'");
            if (r.outcome == Outcome::NoFlag) error(n, who + ": a rule cannot have the outcome no-flag");
            r.types = massageTypeIndexes(n, attr(n, "types"), who);
            if (r.outcome == Outcome::Defer) {
                if (!hasAttr(n, "earliestDay")) error(n, who + ": a defer rule needs earliestDay");
                r.earliestDay = integer(n, "earliestDay");
            } else if (hasAttr(n, "earliestDay")) {
                error(n, who + ": earliestDay is only for defer rules");
            }
            r.title = textOf(need(n, "title"));
            r.reason = textOf(need(n, "reason"));
            r.action = textOf(need(n, "action"));
            for (xmlNodePtr t : elements(n, "typeAction")) {
                const std::vector<size_t> type = massageTypeIndexes(t, attr(t, "type"), who);
                if (std::find(r.types.begin(), r.types.end(), type.front()) == r.types.end())
                    error(t, who + ": a typeAction for '" + attr(t, "type") + "', a type the rule does not affect");
                for (const auto& other : r.typeActions)
                    if (other.first == type.front()) error(t, who + ": two typeActions for '" + attr(t, "type") + "'");
                r.typeActions.emplace_back(type.front(), textOf(t));
            }
            r.gap = textOf(firstElement(n, "gap"));
            r.references = splitWords(attr(n, "refs"));
            r.derivedFrom = attr(n, "derivedFrom");
            checkReferences(n, r.references, who);
            readingRules_ = true;
            r.when = readWhen(n, who);
            readingRules_ = false;
            c_.rules.push_back(std::move(r));
        }
        if (c_.rules.empty()) error(section, "no rules");
    }

    static bool namesData(const Clause& c) {
        using K = Clause::Kind;
        if (c.kind == K::UnknownSubject || c.kind == K::UndatedDelivery || c.kind == K::UnreadableStatus ||
            c.kind == K::UnknownMedication || c.kind == K::UncodedCondition)
            return true;
        if (c.kind == K::NoneOf) return false;
        return std::any_of(c.children.begin(), c.children.end(), [](const Clause& ch) { return namesData(ch); });
    }

    void readDataGaps(const xmlNode* section) {
        for (xmlNodePtr n : elements(section, "dataGap")) {
            DataGapDef g;
            g.id = attr(n, "id");
            for (const auto& other : c_.dataGaps)
                if (other.id == g.id) error(n, "duplicate data gap id '" + g.id + "'");
            g.name = textOf(firstElement(n, "name"));
            g.text = textOf(need(n, "text"));
            g.when = readWhen(n, "data gap " + g.id);
            g.namesData = namesData(g.when);
            c_.dataGaps.push_back(std::move(g));
        }
    }

    // ---- the patient handout: every text in every language, or the content does not load.

    Translated translated(const xmlNode* n, const std::string& who) const {
        Handout& h = c_.handout;
        Translated out(h.languages.size());
        for (xmlNodePtr t : elements(n, "t")) {
            const std::string lang = attr(t, "lang");
            const size_t i = h.language(lang);
            if (i == static_cast<size_t>(-1)) error(t, who + ": a text in '" + lang + "', not a handout language");
            if (!out[i].empty()) error(t, who + ": two texts in '" + lang + "'");
            out[i] = textOf(t);
        }
        for (size_t i = 0; i < out.size(); ++i)
            if (out[i].empty()) error(n, who + ": missing translation: no text in '" + h.languages[i].code + "'");
        return out;
    }

    void readHandout(const xmlNode* section) {
        Handout& h = c_.handout;
        for (xmlNodePtr n : elements(need(section, "languages"), "language")) {
            HandoutLanguage l;
            l.code = attr(n, "code");
            l.cdaCode = attr(n, "cda");
            l.name = attr(n, "name");
            l.draft = attr(n, "status") != "signed";
            l.signOff = textOf(n);
            h.languages.push_back(std::move(l));
        }
        if (h.languages.empty() || h.languages.front().code != "en")
            error(section, "handout: the first language must be \"en\" (the default)");
        for (xmlNodePtr n : elements(need(section, "phrases"), "phrase"))
            h.phrases[attr(n, "id")] = translated(n, "handout phrase " + attr(n, "id"));
        for (size_t i = 0; i < kHandoutPhraseCount; ++i)
            if (!h.phrases.count(kHandoutPhraseIds[i]))
                error(section, std::string("handout: no phrase '") + kHandoutPhraseIds[i] + "'");
        h.types.resize(c_.massageTypes.size());
        std::vector<bool> seen(c_.massageTypes.size(), false);
        for (xmlNodePtr n : elements(need(section, "massageTypes"), "massageType")) {
            const std::string who = "handout massage type " + attr(n, "code");
            const size_t t = massageTypeIndexes(n, attr(n, "code"), who).front();
            seen[t] = true;
            HandoutType& ht = h.types[t];
            ht.name = translated(need(n, "name"), who + " name");
            for (xmlNodePtr s : elements(n, "step")) ht.steps.push_back(translated(s, who + " step"));
            for (xmlNodePtr s : elements(n, "takeCare")) ht.takeCare.push_back(translated(s, who + " takeCare"));
        }
        for (size_t t = 0; t < seen.size(); ++t)
            if (!seen[t]) error(section, "handout: no texts for massage type '" + c_.massageTypes[t].code + "'");
        for (xmlNodePtr n : elements(need(section, "ruleTexts"), "ruleText")) {
            HandoutRuleText r;
            r.rule = attr(n, "rule");
            const std::string who = "handout text for rule " + r.rule;
            if (!parseOutcome(attr(n, "outcome"), r.outcome)) error(n, who + ": unknown outcome");
            const Rule* match = nullptr;
            for (const Rule& rule : c_.rules)
                if (rule.id == r.rule && rule.outcome == r.outcome) match = &rule;
            if (match == nullptr)
                error(n, who + ": no rule " + r.rule + " with the outcome " + attr(n, "outcome") + " in the content");
            if (hasAttr(n, "types")) {
                r.types = massageTypeIndexes(n, attr(n, "types"), who);
                for (size_t t : r.types)
                    if (std::find(match->types.begin(), match->types.end(), t) == match->types.end())
                        error(n,
                              who + ": written for '" + c_.massageTypes[t].code + "', a type the rule does not affect");
            }
            r.text = translated(n, who);
            h.rules.push_back(std::move(r));
        }
        std::vector<xmlNodePtr> signs = elements(need(section, "warningSigns"), "sign");
        for (const WarningSign& w : c_.warningSigns) {
            auto it = std::find_if(signs.begin(), signs.end(), [&](xmlNodePtr n) { return attr(n, "id") == w.id; });
            if (it == signs.end()) error(section, "handout: no text for the warning sign '" + w.id + "'");
            h.warningSigns.push_back(translated(*it, "handout warning sign " + w.id));
        }
        if (signs.size() != c_.warningSigns.size())
            error(section, "handout: a warning sign that the content's warningSigns does not list");
    }
};

}  // namespace

std::shared_ptr<const Content> loadContent(const std::string& dir) {
    const std::string contentPath = joinPath(dir, kContentFile);
    const std::string schemaPath = joinPath(dir, kSchemaFile);
    xmlInitParser();  // idempotent; the plugin also calls it once at init

    const std::string bytes = readFile(contentPath);
    auto content = std::make_shared<Content>();
    content->directory = dir;
    content->sha256 = sha256Hex(bytes);

    DocPtr doc = parseXml(contentPath, bytes);
    validate(contentPath, schemaPath, doc.get());
    Builder(contentPath, *content).build(xmlDocGetRootElement(doc.get()));
    content->codeIndex.build(content->valueSets);
    return content;
}

void CodeIndex::build(std::unordered_map<std::string, ValueSet>& valueSets) {
    std::vector<ValueSet*> byId;
    for (auto& kv : valueSets) byId.push_back(&kv.second);
    std::sort(byId.begin(), byId.end(), [](const ValueSet* a, const ValueSet* b) { return a->id < b->id; });
    for (size_t i = 0; i < byId.size(); ++i) {
        ValueSet& vs = *byId[i];
        vs.ordinal = i < kBits ? i : kNotIndexed;
        if (!indexed(vs)) continue;
        keep_.push_back(vs.text);
        for (const auto& [system, codes] : vs.exact) {
            auto& bySystem = exact_[system];
            for (std::string_view code : codes) bySystem[code] |= bit(vs);
        }
        for (const auto& [system, list] : vs.prefixes) {
            auto& bySystem = prefixes_[system];
            for (std::string_view prefix : list) bySystem.emplace_back(prefix, bit(vs));
        }
    }
}

CodeIndex::Mask CodeIndex::mask(std::string_view system, std::string_view code) const {
    Mask m = 0;
    if (auto s = exact_.find(system); s != exact_.end())
        if (auto c = s->second.find(code); c != s->second.end()) m = c->second;
    if (prefixes_.empty()) return m;
    auto p = prefixes_.find(system);
    if (p == prefixes_.end()) return m;
    for (const auto& [prefix, bits] : p->second) {
        if ((m & bits) != bits && startsWithIgnoringDots(code, prefix)) m |= bits;
    }
    return m;
}

}  // namespace ppmg::core

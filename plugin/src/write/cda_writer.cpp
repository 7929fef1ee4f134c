// The CDA R2 guidance document, written in one pass with a streaming writer (XmlStream,
// write/xml_stream.hpp, which escapes byte for byte as libxml2's xmlTextWriter did): no tree, no
// XPath. Every datum (patient, record, content, host) goes through XmlOut::text or XmlOut::attr,
// which escape it and, in the same pass, write what XML 1.0 cannot carry (control characters,
// broken UTF-8) as U+FFFD. Tags and literal labels spelled out in this file are written as markup.
// docs/cda-contract.md says where every machine-readable value sits; keep the two in step.
#include "write/cda_writer.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/errors.hpp"
#include "write/assessment_writers.hpp"
#include "write/xml_stream.hpp"

namespace ppmg::core {
namespace {

// Identifiers owned by the product: ppmg.h (macros, so constant markup is one string literal).
#define PPMG_LOCAL_CODE(code, display)                                                                               \
    "<code code=\"" code "\" codeSystem=\"" PPMG_OID_CODE_SYSTEM "\" codeSystemName=\"ppmg\" displayName=\"" display \
    "\"/>"

constexpr const char* kLocalSystem = PPMG_OID_CODE_SYSTEM;
constexpr const char* kIdentifierRoot = PPMG_OID_IDENTIFIER;  // FHIR Identifier whose system is no OID/UUID
constexpr const char* kResourceIdRoot = PPMG_OID_RECORD_ID;   // FHIR Patient logical id
constexpr const char* kSnomed = "2.16.840.1.113883.6.96";
constexpr const char* kAdministrativeGender = "2.16.840.1.113883.5.1";

constexpr size_t kInitialBufferSize = 32 * 1024;  // a typical document fits without regrowth

struct Code {
    const char* code;
    const char* system;
    const char* systemName;
    const char* display;
};

constexpr Code local(const char* code, const char* display) { return {code, kLocalSystem, "ppmg", display}; }

std::string& appendNumber(std::string& out, long long n) {
    char digits[24];
    return out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

// "YYYYMMDD", as formatCdaDate, without the formatted-print machinery (it runs ~30 times a document).
std::string& appendCdaDate(std::string& out, Date d) {
    int y;
    unsigned m, day;
    civilFromDays(d.days, y, m, day);
    if (y < 0 || y > 9999) return out.append(formatCdaDate(d));
    const unsigned pairs[] = {static_cast<unsigned>(y) / 100, static_cast<unsigned>(y) % 100, m, day};
    for (unsigned two : pairs) {
        out += static_cast<char>('0' + two / 10);
        out += static_cast<char>('0' + two % 10);
    }
    return out;
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The schema's oid type: [0-2](\.(0|[1-9][0-9]*))*
bool isOid(std::string_view s) {
    if (s.empty() || s[0] < '0' || s[0] > '2') return false;
    for (size_t i = 1; i < s.size();) {
        if (s[i] != '.' || i + 1 >= s.size()) return false;
        size_t j = i + 1;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        if (j == i + 1 || (s[i + 1] == '0' && j > i + 2)) return false;
        i = j;
    }
    return true;
}

bool isUuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char ch = s[i];
        const bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (i == 8 || i == 13 || i == 18 || i == 23 ? ch != '-' : !hex) return false;
    }
    return true;
}

// An instance identifier root taken from a FHIR "urn:oid:" / "urn:uuid:" URI, or "".
std::string_view rootFromUri(std::string_view uri) {
    if (startsWith(uri, "urn:oid:") && isOid(uri.substr(8))) return uri.substr(8);
    if (startsWith(uri, "urn:uuid:") && isUuid(uri.substr(9))) return uri.substr(9);
    return {};
}

// ---- the writer ------------------------------------------------------------------------------

class XmlOut {
public:
    XmlOut() : x_(kInitialBufferSize) { x_.raw(kProlog); }

    // An element whose attributes carry data; the writer tracks it until close().
    void open(const char* name) { x_.open(name); }
    void close() { x_.close(); }
    // Only right after open(). A const char* value is a literal or content (XML already);
    // a std::string value is repaired first.
    void attr(const char* name, const char* value) { x_.attr(name, value); }
    void attr(const char* name, std::string_view value) { x_.dataAttr(name, value); }

    // Escaped character data.
    void text(const char* literal) { x_.text(literal); }
    void text(std::string_view s) {
        if (!s.empty()) x_.dataText(s);
    }

    // Markup spelled out in this file, or built only from generated ids and formatted dates;
    // never data. Each caller closes what it opens this way within the same function.
    void markup(std::string_view constant) { x_.raw(constant); }

    // <name>escaped text</name>
    void element(const char* name, std::string_view s) {
        open(name);
        text(s);
        close();
    }

    std::string finish() { return x_.finish(); }

    // For a fragment: everything written after the prolog, without finish()'s closing line feed.
    // Only with nothing left open.
    std::string fragment() {
        std::string all = x_.finish();
        all.pop_back();
        return all.substr(std::strlen(kProlog));
    }

    static constexpr const char* kProlog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

private:
    XmlStream x_;
};

// A narrative <list>, opened on its first item so that an empty list (invalid CDA) is never written.
class List {
public:
    // caption: a literal without markup characters, or nullptr.
    List(XmlOut& x, const char* caption, bool ordered = false) : x_(x), caption_(caption), ordered_(ordered) {}

    // Starts the next <item>; id, when given, is a generated NCName.
    void item(const std::string* id = nullptr) {
        if (open_) {
            x_.markup("</item>");
        } else {
            x_.markup(ordered_ ? "<list listType=\"ordered\">" : "<list>");
            if (caption_ != nullptr) {
                x_.markup("<caption>");
                x_.markup(caption_);
                x_.markup("</caption>");
            }
            open_ = true;
        }
        if (id == nullptr) {
            x_.markup("<item>");
        } else {
            x_.markup("<item ID=\"");
            x_.markup(*id);
            x_.markup("\">");
        }
    }
    void item(const std::string& text) {
        item();
        x_.text(text);
    }
    void end() {
        if (open_) x_.markup("</item></list>");
        open_ = false;
    }

private:
    XmlOut& x_;
    const char* caption_;
    bool ordered_;
    bool open_ = false;
};

// ---- the document ------------------------------------------------------------------------------

class CdaRenderer {
public:
    CdaRenderer(const Assessment& a, const Content& c, const RenderContext& ctx, const CdaFragments* fragments)
        : a_(a),
          c_(c),
          ctx_(ctx),
          fragments_(fragments),
          usedReferences_(c.references.size(), 0),
          asOfIso_(formatIsoDate(a.asOf)) {
        if (fragments_ != nullptr && (fragments_->content != &c || fragments_->types.size() != c.massageTypes.size()))
            throw Error(PPMG_E_INTERNAL, "CDA writer: the prepared fragments are not of this content");
        if (a.massages.size() != c.massageTypes.size())
            throw Error(PPMG_E_INTERNAL, "CDA writer: the assessment does not match the content's massage types");
    }

    std::string render() {
        x_.open("ClinicalDocument");
        x_.attr("xmlns", "urn:hl7-org:v3");
        x_.attr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance");
        header();
        x_.markup("<component><structuredBody>");
        if (ctx_.patient) {
            handoutBody();
            x_.markup("</structuredBody></component>");
            x_.close();
            return x_.finish();
        }
        if (isDraft()) draftSection();
        warningSignsSection();
        instructionsSection();
        findingsSection();
        referencesSection();  // after every section that cites references
        provenanceSection();
        x_.markup("</structuredBody></component>");
        x_.close();
        return x_.finish();
    }

    // The content-only parts, each on a fresh renderer (prepareCdaFragments).
    std::string warningSignsFragment() {
        warningSigns();
        return x_.fragment();
    }
    std::string techniqueFragment(size_t i) {
        technique(c_.massageTypes[i]);
        return x_.fragment();
    }
    std::string tailFragment(size_t i, std::vector<size_t>& references) {
        typeTail(c_.massageTypes[i]);
        usedReferenceList(references);
        return x_.fragment();
    }
    std::string ruleHeadFragment(const Rule& rule, std::vector<size_t>& references) {
        Finding f;
        f.rule = &rule;
        f.outcome = rule.outcome;
        findingHead(f);
        usedReferenceList(references);
        return x_.fragment();
    }
    std::string ruleLinksFragment(const Rule& rule) {
        referenceLinks(rule.references);
        return x_.fragment();
    }

private:
    void usedReferenceList(std::vector<size_t>& references) const {
        for (size_t r = 0; r < usedReferences_.size(); ++r)
            if (usedReferences_[r]) references.push_back(r);
    }

    // ---- coded data and header -------------------------------------------------------------

    void coded(const char* element, const Code& code, const char* xsiType = nullptr) {
        x_.open(element);
        if (xsiType != nullptr) x_.attr("xsi:type", xsiType);
        x_.attr("code", code.code);
        x_.attr("codeSystem", code.system);
        if (code.systemName != nullptr) x_.attr("codeSystemName", code.systemName);
        if (code.display != nullptr && *code.display != '\0') x_.attr("displayName", code.display);
        x_.close();
    }

    // <element value="..."/>, the value from the host (escaped).
    void timestamp(const char* element, const std::string& value) {
        x_.open(element);
        x_.attr("value", value);
        x_.close();
    }

    // <element [xsi:type="TS"] value="YYYYMMDD"/>
    void date(const char* element, Date d, bool typed = false) {
        tag_.assign("<").append(element).append(typed ? " xsi:type=\"TS\" value=\"" : " value=\"");
        appendCdaDate(tag_, d).append("\"/>");
        x_.markup(tag_);
    }

    void header() {
        x_.markup(
            "<realmCode code=\"US\"/>"
            "<typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>"
            "<templateId root=\"" PPMG_OID_TEMPLATE_GUIDANCE "\"/>");
        if (ctx_.patient) x_.markup("<templateId root=\"" PPMG_OID_TEMPLATES ".2\"/>");  // the handout
        x_.open("id");
        x_.attr("root", ctx_.documentId);
        x_.close();
        x_.markup(
            "<code code=\"34895-3\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" "
            "displayName=\"Education note\"/>");
        // The draft status in the header area every CDA viewer shows first (rule 16).
        line_.assign(ctx_.patient ? c_.handout.phrase("title", ctx_.language) : "Postpartum massage guidance");
        if (isDraft()) line_.append(" \u2013 ").append(draftNotice());
        x_.element("title", line_);
        timestamp("effectiveTime", ctx_.effectiveTime);
        x_.markup(
            "<confidentialityCode code=\"N\" codeSystem=\"2.16.840.1.113883.5.25\" "
            "codeSystemName=\"HL7 Confidentiality\" displayName=\"normal\"/>");
        x_.open("languageCode");
        x_.attr("code", ctx_.patient ? std::string_view(c_.handout.languages[ctx_.language].cdaCode) : "en-US");
        x_.close();
        recordTarget();
        author();
        custodian();
        x_.markup("<documentationOf><serviceEvent>");
        date("effectiveTime", a_.asOf);
        x_.markup("</serviceEvent></documentationOf>");
    }

    // displayable: "true" for the medical record number, "false" for identifiers not for display
    // (SSN, passport, driver's licence...), nullptr when the record does not say.
    void instanceId(std::string_view root, std::string_view extension, const char* displayable = nullptr) {
        x_.open("id");
        x_.attr("root", root);
        if (!extension.empty()) x_.attr("extension", extension);
        if (displayable != nullptr) x_.attr("displayable", displayable);
        x_.close();
    }

    // FHIR Identifier -> II (cda-contract.md, "Patient identifiers").
    bool patientIdentifier(const Identifier& id) {
        if (id.value.empty()) return false;
        const std::string_view systemRoot = rootFromUri(id.system);
        const std::string_view valueRoot =
            id.system == "urn:ietf:rfc:3986" ? rootFromUri(id.value) : std::string_view();
        const char* displayable = id.type.empty() ? nullptr : id.type == "MR" ? "true" : "false";
        if (!systemRoot.empty()) {
            instanceId(systemRoot, id.value, displayable);
        } else if (!valueRoot.empty()) {
            instanceId(valueRoot, {}, displayable);
        } else {
            line_.assign(id.system).append("|").append(id.value);
            instanceId(kIdentifierRoot, line_, displayable);
        }
        return true;
    }

    void recordTarget() {
        const Patient& p = a_.patient;
        x_.markup("<recordTarget><patientRole>");
        bool anyId = false;
        for (const Identifier& id : p.identifiers) anyId |= patientIdentifier(id);
        if (!p.source.id.empty()) {
            instanceId(kResourceIdRoot, p.source.id);
            anyId = true;
        }
        if (!anyId) x_.markup("<id nullFlavor=\"UNK\"/>");
        x_.markup("<addr nullFlavor=\"UNK\"/><telecom nullFlavor=\"UNK\"/><patient>");
        patientName(p);
        patientGender(p.gender);
        if (p.birthDate) {
            date("birthTime", *p.birthDate);
        } else {
            x_.markup("<birthTime nullFlavor=\"UNK\"/>");
        }
        x_.markup("</patient></patientRole></recordTarget>");
    }

    void patientName(const Patient& p) {
        bool anyPart = !p.family.empty();
        for (const Text& g : p.given) anyPart |= !g.empty();
        if (!anyPart && p.nameText.empty()) {
            x_.markup("<name nullFlavor=\"UNK\"/>");
            return;
        }
        x_.markup("<name>");
        if (anyPart) {
            for (const Text& g : p.given)
                if (!g.empty()) x_.element("given", g);
            if (!p.family.empty()) x_.element("family", p.family);
        } else {
            x_.text(p.nameText);
        }
        x_.markup("</name>");
    }

    // FHIR administrative gender -> HL7 AdministrativeGender; unknown or absent is a null.
    void patientGender(std::string_view gender) {
        const char* code = gender == "male" ? "M" : gender == "female" ? "F" : gender == "other" ? "UN" : nullptr;
        if (code == nullptr) {
            x_.markup("<administrativeGenderCode nullFlavor=\"UNK\"/>");
            return;
        }
        const char* display = *code == 'M' ? "Male" : *code == 'F' ? "Female" : "Undifferentiated";
        coded("administrativeGenderCode", {code, kAdministrativeGender, "AdministrativeGender", display});
    }

    void author() {
        x_.markup("<author>");
        timestamp("time", ctx_.effectiveTime);
        x_.markup("<assignedAuthor><id root=\"" PPMG_OID_ROOT "\" extension=\"ppmg\"/><assignedAuthoringDevice>");
        line_.assign("ppmg ").append(ctx_.pluginVersion);
        x_.element("manufacturerModelName", line_);
        line_.assign("ppmg postpartum massage guidance ").append(ctx_.pluginVersion);
        line_.append(", content ").append(c_.version);
        x_.element("softwareName", line_);
        x_.markup("</assignedAuthoringDevice></assignedAuthor></author>");
    }

    void custodian() {
        x_.markup("<custodian><assignedCustodian><representedCustodianOrganization>");
        if (isOid(ctx_.custodianOid) || isUuid(ctx_.custodianOid)) {
            instanceId(ctx_.custodianOid, std::string());
        } else {
            x_.markup("<id nullFlavor=\"UNK\"/>");
        }
        if (!ctx_.custodianName.empty()) x_.element("name", ctx_.custodianName);
        x_.markup("</representedCustodianOrganization></assignedCustodian></custodian>");
    }

    // ---- sections and narrative helpers ----------------------------------------------------

    // <component><section>, its template ids and code as constant markup, and the title.
    void openSection(const char* head, const std::string& title) {
        x_.markup("<component><section>");
        x_.markup(head);
        x_.element("title", title);
    }
    // The same, for a section whose code comes from the content.
    void openSection(const Code& code, const std::string& title) {
        x_.markup("<component><section>");
        coded("code", code);
        x_.element("title", title);
    }
    void closeSection() { x_.markup("</section></component>"); }

    void bold(const std::string& s) {
        x_.markup("<content styleCode=\"Bold\">");
        x_.text(s);
        x_.markup("</content>");
    }
    // A literal label without markup characters.
    void bold(const char* label) {
        x_.markup("<content styleCode=\"Bold\">");
        x_.markup(label);
        x_.markup("</content>");
    }

    // <content ID="id">value</content>: the narrative an entry's text/reference points to.
    void anchored(std::string_view id, const std::string& value) {
        tag_.assign("<content ID=\"").append(id).append("\">");
        x_.markup(tag_);
        x_.text(value);
        x_.markup("</content>");
    }

    void paragraph(const std::string& s) {
        if (s.empty()) return;
        x_.markup("<paragraph>");
        x_.text(s);
        x_.markup("</paragraph>");
    }

    // "<b>label</b> value", the value anchored when an id is given.
    void labelled(const char* label, const std::string& value, std::string_view id = {}) {
        bold(label);
        if (!id.empty()) {
            anchored(id, value);
        } else {
            x_.text(value);
        }
    }

    void cell(const std::string& s) {
        x_.markup("<td>");
        x_.text(s);
        x_.markup("</td>");
    }

    const std::string& outcomeLabel(Outcome o) const { return c_.outcomeTexts[outcomeRank(o)].label; }

    // Draft until signed off (rule 16): the clinical content, and for the handout its language too.
    bool isDraft() const { return c_.draft || (ctx_.patient && c_.handout.languages[ctx_.language].draft); }
    std::string draftNotice() const {
        if (ctx_.patient) return c_.handout.phrase("draft", ctx_.language);
        const std::string& t = c_.text("draft-notice");
        return t.empty() ? std::string("Draft content: not yet clinically signed off") : t;
    }

    // "finding-N": the narrative ID of a finding's one statement in the findings section.
    std::string findingId(size_t index) const {
        std::string id("finding-");
        appendNumber(id, static_cast<long long>(index + 1));
        return id;
    }

    // The findings that set a type's outcome (for escalate: the escalate findings).
    std::vector<size_t> decisive(const MassageAssessment& m) const {
        std::vector<size_t> out;
        for (size_t index : m.findings)
            if (finding(index).outcome == m.outcome) out.push_back(index);
        return out;
    }

    // "Title; Title": each linked to its statement in the findings section (in-page links only:
    // HL7's CDA stylesheet accepts no ':' in an href).
    void findingLinks(const std::vector<size_t>& indexes) {
        bool first = true;
        for (size_t index : indexes) {
            if (!first) x_.markup("; ");
            first = false;
            const Finding& f = finding(index);
            tag_.assign("<linkHtml href=\"#").append(findingId(index)).append("\">");
            x_.markup(tag_);
            x_.text(f.outcome == Outcome::NotApplicable ? ruleOf(f).reason : ruleOf(f).title);
            x_.markup("</linkHtml>");
        }
    }

    const Rule& ruleOf(const Finding& f) const {
        if (f.rule == nullptr) throw Error(PPMG_E_INTERNAL, "CDA writer: a finding without a rule");
        return *f.rule;
    }

    const Finding& finding(size_t index) const {
        if (index >= a_.findings.size()) throw Error(PPMG_E_INTERNAL, "CDA writer: a finding index out of range");
        return a_.findings[index];
    }

    // "[A, B]": each reference id linked to its entry in the References section.
    void referenceLinks(const std::vector<std::string>& ids) {
        if (ids.empty()) return;
        x_.markup("[");
        bool first = true;
        for (const std::string& id : ids) {
            if (!first) x_.markup(", ");
            first = false;
            const Reference* r = c_.findReference(id);
            const size_t index = r == nullptr ? usedReferences_.size() : static_cast<size_t>(r - c_.references.data());
            if (index >= usedReferences_.size()) {  // loadContent checks references; never silent
                x_.text(id);
                continue;
            }
            usedReferences_[index] = 1;
            tag_.assign("<linkHtml href=\"#ref-");
            appendNumber(tag_, static_cast<long long>(index + 1)).append("\">");
            x_.markup(tag_);
            x_.text(id);
            x_.markup("</linkHtml>");
        }
        x_.markup("]");
    }

    // "Body temperature 38.9 °C, 2025-11-14": the datum as people read it; ids and codes are in
    // the details table.
    void readableEvidence(const Evidence& e) {
        line_.assign(e.display.empty() ? e.resourceType : e.display);
        if (!e.value.empty()) line_.append(" ").append(c_.readableValue(e.value));
        if (e.date.size() >= 10) line_.append(", ").append(e.date.substr(0, 10));
        x_.text(line_);
    }

    // "Observation/obs-1: Body temperature (LOINC 8310-5) = 38.9 Cel, 2025-11-14"
    void evidence(const Evidence& e) {
        line_.assign(e.resourceType).append("/").append(e.id);
        if (!e.display.empty() || !e.code.empty()) {
            line_.append(": ").append(e.display);
            if (!e.code.empty()) {
                const CodeSystem* system = e.codeSystem.empty() ? nullptr : c_.systemByUri(e.codeSystem);
                line_.append(e.display.empty() ? "" : " (");
                if (system != nullptr) {
                    line_.append(system->name).append(" ");
                } else if (!e.codeSystem.empty()) {
                    line_.append(e.codeSystem).append("|");
                }
                line_.append(e.code).append(e.display.empty() ? "" : ")");
            }
        }
        if (!e.value.empty()) line_.append(" = ").append(e.value);
        if (!e.date.empty()) line_.append(", ").append(e.date);
        if (e.document) line_.append(" (").append(documentEntryText(*e.document)).append(")");
        x_.text(line_);
    }

    // The data a finding rests on: its evidence, or the gap its rule names when there is none.
    void triggeringData(const Finding& f) {
        List data(x_, nullptr);
        for (const Evidence& e : f.evidence) {
            data.item();
            readableEvidence(e);
        }
        const Rule& rule = ruleOf(f);
        if (f.evidence.empty() && !rule.gap.empty()) {
            data.item();
            line_.assign("Missing: ").append(rule.gap);
            x_.text(line_);
        }
        data.end();
    }

    // "<b>PPM-TIME-01</b> (Not yet): reason [refs]" and the data below it.
    void findingItem(const Finding& f) {
        if (const CdaFragments::RuleText* t = ruleText(f)) {
            x_.markup(t->head);
            for (size_t r : t->references) usedReferences_[r] = 1;
        } else {
            findingHead(f);
        }
        triggeringData(f);
    }

    // The rule's prewritten text, when there is one for this finding (its rule's own outcome).
    const CdaFragments::RuleText* ruleText(const Finding& f) const {
        if (fragments_ == nullptr || f.rule == nullptr) return nullptr;
        const std::less<const Rule*> before;
        if (before(f.rule, c_.rules.data()) || !before(f.rule, c_.rules.data() + c_.rules.size())) return nullptr;
        const size_t i = static_cast<size_t>(f.rule - c_.rules.data());
        if (i >= fragments_->rules.size() || f.outcome != f.rule->outcome) return nullptr;
        return &fragments_->rules[i];
    }

    // "<b>Title</b> (label): reason [refs]": no rule id in the prose (it is in the details table).
    void findingHead(const Finding& f) {
        const Rule& rule = ruleOf(f);
        bold(rule.title);
        line_.assign(" (").append(outcomeLabel(f.outcome)).append("): ").append(rule.reason);
        if (!rule.references.empty()) line_.append(" ");
        x_.text(line_);
        referenceLinks(rule.references);
    }

    // "URGENT: " and the content's urgent text (which may carry the prefix itself).
    void urgentParagraph() {
        const std::string& urgent = c_.urgentText;
        line_.assign(startsWith(urgent, "URGENT") ? "" : "URGENT: ");
        line_.append(urgent.empty() ? "seek urgent clinical assessment" : urgent);
        x_.markup("<paragraph>");
        bold(line_);
        x_.markup("</paragraph>");
    }

    // "<b>Title</b>: datum; datum" for each escalate finding: short enough for the top of a page
    // (the full statement is in the findings section, once).
    void escalateFindings() {
        List list(x_, "Triggering data");
        for (size_t i = 0; i < a_.findings.size(); ++i) {
            const Finding& f = a_.findings[i];
            if (f.outcome != Outcome::Escalate) continue;
            list.item();
            tag_.assign("<content styleCode=\"Bold\"><linkHtml href=\"#").append(findingId(i)).append("\">");
            x_.markup(tag_);
            x_.text(ruleOf(f).title);
            x_.markup("</linkHtml></content>");
            bool first = true;
            for (const Evidence& e : f.evidence) {
                x_.markup(first ? ": " : "; ");
                first = false;
                readableEvidence(e);
            }
            if (f.evidence.empty()) {
                line_.assign(": ").append(ruleOf(f).reason);
                x_.text(line_);
            }
        }
        list.end();
    }

    // ---- the handout for her (ctx_.patient): plain words in her language, no codes or ids -------

    const std::string& phrase(const char* id) const { return c_.handout.phrase(id, ctx_.language); }
    const std::string& said(const Translated& t) const { return t[ctx_.language]; }

    // A phrase with "{name}" placeholders filled in.
    std::string filled(const char* id, std::initializer_list<std::pair<const char*, std::string>> values) const {
        std::string text = phrase(id);
        for (const auto& [key, value] : values) {
            const std::string k = std::string("{") + key + "}";
            for (size_t at; (at = text.find(k)) != std::string::npos;) text.replace(at, k.size(), value);
        }
        return text;
    }

    // The date as she reads it, in her language ("23 November 2025", "2025年11月23日").
    std::string plainDate(Date d) const {
        int y;
        unsigned m, day;
        civilFromDays(d.days, y, m, day);
        const std::string month = "month-" + std::to_string(m);
        return filled("date", {{"d", std::to_string(day)},
                               {"m", std::to_string(m)},
                               {"month", phrase(month.c_str())},
                               {"y", std::to_string(y)}});
    }

    std::string outcomeSentenceFor(const MassageAssessment& m) const {
        const std::string id = std::string("outcome-") + outcomeCode(m.outcome);
        if (m.outcome == Outcome::Defer && m.earliestDate)
            return filled(id.c_str(), {{"date", plainDate(*m.earliestDate)}});
        return phrase(id.c_str());
    }

    // The handout's texts for the findings that set a type's outcome, each once.
    std::vector<const std::string*> findingTexts(const MassageAssessment& m, size_t type) const {
        std::vector<const std::string*> out;
        for (size_t index : decisive(m)) {
            const Finding& f = finding(index);
            const Translated* t = c_.handout.ruleText(ruleOf(f).id, f.outcome, type);
            if (t == nullptr) continue;
            const std::string& text = said(*t);
            if (std::find_if(out.begin(), out.end(), [&](const std::string* w) { return *w == text; }) == out.end())
                out.push_back(&text);
        }
        return out;
    }

    void openHandoutSection(const char* code, const std::string& title) {
        x_.markup("<component><section>");
        coded("code", local(code, nullptr));
        x_.element("title", title);
        x_.markup("<text>");
    }
    void closeHandoutSection() { x_.markup("</text></section></component>"); }
    void boldParagraph(const std::string& s) {
        x_.markup("<paragraph><content styleCode=\"Bold\">");
        x_.text(s);
        x_.markup("</content></paragraph>");
    }

    void handoutBody() {
        if (isDraft()) draftSection();
        const bool escalated = a_.escalated();
        const bool outOfScope = !a_.applicable;

        openHandoutSection("handout-about", phrase("title"));
        const std::string name = plainName(a_.patient);
        if (!name.empty()) boldParagraph(filled("for", {{"name", name}}));
        if (a_.episode && a_.postpartumDay && !outOfScope)
            paragraph(filled("birth-day",
                             {{"date", plainDate(a_.episode->date)}, {"day", std::to_string(*a_.postpartumDay)}}));
        else if (!a_.episode)
            paragraph(phrase("no-birth"));
        paragraph(phrase("intro"));
        paragraph(filled("made-on", {{"date", plainDate(a_.asOf)}}));
        closeHandoutSection();

        if (escalated) {
            openHandoutSection("handout-urgent", phrase("outcome-escalate"));
            x_.markup("<paragraph><content styleCode=\"Bold\">");
            x_.text(phrase("urgent"));
            x_.markup("</content></paragraph>");
            closeHandoutSection();
        } else if (outOfScope) {
            openHandoutSection("handout-now", phrase("heading-now"));
            paragraph(phrase("outcome-not-applicable"));
            closeHandoutSection();
        } else {
            handoutNow();
            handoutWait();
            handoutHow();
        }
        handoutHelp();
    }

    static std::string plainName(const Patient& p) {
        std::string out;
        for (const Text& g : p.given)
            if (!g.empty()) out.append(out.empty() ? "" : " ").append(g);
        if (!p.family.empty()) out.append(out.empty() ? "" : " ").append(p.family);
        if (out.empty()) out.assign(p.nameText);
        return out;
    }

    // Chinese text runs on without a space between sentences.
    bool zh() const { return c_.handout.languages[ctx_.language].code.rfind("zh", 0) == 0; }

    bool allowed(Outcome o) const { return o == Outcome::NoFlag || o == Outcome::Modify; }

    void handoutNow() {
        openHandoutSection("handout-now", phrase("heading-now"));
        List list(x_, nullptr);
        for (size_t t = 0; t < a_.massages.size(); ++t) {
            const MassageAssessment& m = a_.massages[t];
            if (!allowed(m.outcome)) continue;
            list.item(filled("labelled", {{"label", said(c_.handout.types[t].name)}, {"text", outcomeSentenceFor(m)}}));
        }
        bool any = false;
        for (const MassageAssessment& m : a_.massages) any |= allowed(m.outcome);
        list.end();
        if (!any) paragraph(phrase("nothing-now"));
        closeHandoutSection();
    }

    void handoutWait() {
        openHandoutSection("handout-wait", phrase("heading-wait"));
        List list(x_, nullptr);
        bool any = false;
        for (size_t t = 0; t < a_.massages.size(); ++t) {
            const MassageAssessment& m = a_.massages[t];
            if (allowed(m.outcome)) continue;
            any = true;
            std::string text = outcomeSentenceFor(m);
            for (const std::string* why : findingTexts(m, t)) text.append(zh() ? "" : " ").append(*why);
            list.item(filled("labelled", {{"label", said(c_.handout.types[t].name)}, {"text", text}}));
        }
        list.end();
        if (!any) paragraph(phrase("nothing-to-wait"));
        closeHandoutSection();
    }

    void handoutHow() {
        bool any = false;
        for (const MassageAssessment& m : a_.massages) any |= allowed(m.outcome);
        if (!any) return;
        openHandoutSection("handout-how", phrase("heading-how"));
        paragraph(phrase("partner"));
        x_.markup("</text>");
        for (size_t t = 0; t < a_.massages.size(); ++t) {
            const MassageAssessment& m = a_.massages[t];
            if (!allowed(m.outcome)) continue;
            const HandoutType& type = c_.handout.types[t];
            x_.markup("<component><section>");
            coded("code", local(c_.massageTypes[t].code.c_str(), nullptr));
            x_.element("title", said(type.name));
            x_.markup("<text>");
            if (m.outcome == Outcome::Modify) {
                boldParagraph(phrase("changes"));
                List changes(x_, nullptr);
                for (const std::string* change : findingTexts(m, t)) changes.item(*change);
                changes.end();
                x_.markup("<paragraph><content styleCode=\"Bold\">");
                x_.text(phrase("changes-win"));
                x_.markup("</content></paragraph>");
            }
            boldParagraph(phrase("steps"));
            List steps(x_, nullptr, true);
            for (const Translated& step : type.steps) steps.item(said(step));
            steps.end();
            boldParagraph(phrase("take-care"));
            List care(x_, nullptr);
            for (const Translated& item : type.takeCare) care.item(said(item));
            care.end();
            x_.markup("</text></section></component>");
        }
        x_.markup("</section></component>");
    }

    void handoutHelp() {
        openHandoutSection("handout-help", phrase("heading-help"));
        x_.markup("<paragraph><content styleCode=\"Bold\">");
        x_.text(phrase("help-intro"));
        x_.markup("</content></paragraph>");
        List signs(x_, nullptr);
        for (const Translated& sign : c_.handout.warningSigns) signs.item(said(sign));
        signs.end();
        paragraph(phrase("questions"));
        closeHandoutSection();
    }

    // ---- 0. draft notice (rule 16) -------------------------------------------------------------

    void draftSection() {
        const std::string notice = draftNotice();
        openSection(PPMG_LOCAL_CODE("draft-notice", "Draft content"), notice);
        x_.markup("<text><paragraph><content styleCode=\"Bold\">");
        x_.text(notice);
        x_.markup("</content></paragraph>");
        if (!ctx_.patient) paragraph(c_.signOff);
        x_.markup("</text>");
        closeSection();
    }

    // ---- 1. warning signs --------------------------------------------------------------------

    void warningSigns() {
        paragraph(c_.warningSignsIntro);
        List signs(x_, nullptr);
        for (const WarningSign& sign : c_.warningSigns) signs.item(sign.text);
        signs.end();
    }

    void warningSignsSection() {
        openSection(PPMG_LOCAL_CODE("warning-signs", "Warning signs"), "Warning signs: check before any massage");
        x_.markup("<text>");
        if (a_.escalated()) {
            urgentParagraph();
            escalateFindings();
        }
        if (fragments_ != nullptr)
            x_.markup(fragments_->warningSigns);
        else
            warningSigns();
        x_.markup("</text>");
        closeSection();
    }

    // ---- 2. instructions: one subsection per massage type -------------------------------------

    void instructionsSection() {
        openSection(
            "<templateId root=\"2.16.840.1.113883.10.20.22.2.45\"/>"
            "<templateId root=\"2.16.840.1.113883.10.20.22.2.45\" extension=\"2014-06-09\"/>"
            "<code code=\"69730-0\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" "
            "displayName=\"Instructions\"/>",
            "Massage guidance");
        x_.markup("<text>");
        outcomeSummary();
        x_.markup("</text>");
        for (size_t i = 0; i < c_.massageTypes.size(); ++i) massageSection(i);
        closeSection();
    }

    void outcomeSummary() {
        if (c_.massageTypes.empty()) {
            paragraph("No massage types in the content.");
            return;
        }
        x_.markup("<table><caption>Summary (data as of ");
        x_.markup(asOfIso_);
        x_.markup(
            ")</caption><thead><tr><th>Massage type</th><th>Outcome</th><th>Reason</th><th>Earliest date</th></tr>"
            "</thead><tbody>");
        for (size_t i = 0; i < c_.massageTypes.size(); ++i) {
            const MassageAssessment& m = a_.massages[i];
            x_.markup("<tr>");
            cell(c_.massageTypes[i].display);
            cell(outcomeLabel(m.outcome));
            x_.markup("<td>");
            const std::vector<size_t> why = decisive(m);
            if (why.empty()) {
                x_.text(m.outcome == Outcome::NoFlag ? std::string("No rule fired on the available data") : "-");
            } else {
                findingLinks(why);
            }
            x_.markup("</td>");
            cell(m.earliestDate ? formatIsoDate(*m.earliestDate) : std::string("-"));
            x_.markup("</tr>");
        }
        x_.markup("</tbody></table>");
    }

    void massageSection(size_t i) {
        const MassageType& type = c_.massageTypes[i];
        const MassageAssessment& m = a_.massages[i];
        std::string outcomeId("outcome-"), earliestId("earliest-");  // short enough to stay unallocated
        appendNumber(outcomeId, static_cast<long long>(i + 1));
        appendNumber(earliestId, static_cast<long long>(i + 1));
        const bool hasEarliest = m.outcome == Outcome::Defer && m.earliestDate.has_value();

        openSection(local(type.code.c_str(), type.display.c_str()), type.display);
        x_.markup("<text><paragraph>");
        labelled("Outcome: ", outcomeLabel(m.outcome), outcomeId);
        x_.markup("</paragraph>");
        outcomeText(m.outcome);
        if (hasEarliest) {
            x_.markup("<paragraph>");
            labelled("Earliest date: ", formatIsoDate(*m.earliestDate), earliestId);
            x_.markup("</paragraph>");
        }
        reasons(m);
        switch (m.outcome) {
            case Outcome::Escalate:  // no technique, no advice: only the urgent message (rule 11)
                urgentParagraph();
                break;
            case Outcome::NotApplicable: break;
            default:
                if (!type.timing.empty()) {
                    x_.markup("<paragraph>");
                    labelled("Timing: ", type.timing);
                    x_.markup("</paragraph>");
                }
                actions(m, i);
                if (m.outcome == Outcome::Modify) modificationWins();
                if (fragments_ != nullptr) {
                    const CdaFragments::Type& f = fragments_->types[i];
                    if (m.outcome == Outcome::NoFlag || m.outcome == Outcome::Modify) x_.markup(f.technique);
                    x_.markup(f.tail);
                    for (size_t r : f.references) usedReferences_[r] = 1;
                } else {
                    if (m.outcome == Outcome::NoFlag || m.outcome == Outcome::Modify) technique(type);
                    typeTail(type);
                }
                break;
        }
        x_.markup("</text>");
        outcomeEntry(type, m, outcomeId, hasEarliest ? earliestId : std::string());
        closeSection();
    }

    // The outcome's sentence from the content, {asOf} replaced by the ISO as-of date.
    void outcomeText(Outcome o) {
        const std::string& text = c_.outcomeTexts[outcomeRank(o)].text;
        line_.clear();
        size_t from = 0;
        for (size_t at; (at = text.find("{asOf}", from)) != std::string::npos; from = at + 6)
            line_.append(text, from, at - from).append(asOfIso_);
        line_.append(text, from, std::string::npos);
        paragraph(line_);
    }

    // "Why: <title>; <title>": one line, each title linked to the finding's one full statement
    // in the findings section (each finding is stated once, with the types it affects).
    void reasons(const MassageAssessment& m) {
        const std::vector<size_t> why = decisive(m);
        if (why.empty()) return;
        x_.markup("<paragraph>");
        bold("Why: ");
        findingLinks(why);
        x_.markup("</paragraph>");
    }

    // The rule actions of the findings that set the outcome, as written for this massage type
    // (rule 12): modifications, or what to check.
    void actions(const MassageAssessment& m, size_t type) {
        const char* caption = m.outcome == Outcome::Modify   ? "Modifications"
                              : m.outcome == Outcome::Review ? "What to check"
                                                             : "What to do";
        List list(x_, caption);
        std::vector<const std::string*> written;  // two findings may share a text
        for (size_t index : m.findings) {
            const Finding& f = finding(index);
            const std::string& action = ruleOf(f).actionFor(type);
            if (f.outcome != m.outcome || action.empty()) continue;
            if (std::find_if(written.begin(), written.end(), [&](const std::string* w) { return *w == action; }) !=
                written.end())
                continue;
            written.push_back(&action);
            list.item(action);
        }
        list.end();
    }

    // Next to the technique: where a modification and a step differ, the modification wins (rule 12).
    void modificationWins() {
        const std::string& t = c_.text("modification-wins");
        x_.markup("<paragraph><content styleCode=\"Bold\">");
        x_.text(t.empty() ? std::string("Where the modifications and the technique differ, the modifications win.")
                          : t);
        x_.markup("</content></paragraph>");
    }

    // Benefits, claims not supported, and sources: the content's alone.
    void typeTail(const MassageType& type) {
        benefits("Benefits supported by evidence", type.benefits);
        benefits("Not supported by evidence", type.notSupported);
        if (!type.references.empty()) {
            x_.markup("<paragraph>");
            bold("Sources: ");
            referenceLinks(type.references);
            x_.markup("</paragraph>");
        }
    }

    void technique(const MassageType& type) {
        List steps(x_, "Technique", true);
        for (const std::string& step : type.technique) steps.item(step);
        steps.end();
        List precautions(x_, "Precautions");
        for (const std::string& p : type.precautions) precautions.item(p);
        precautions.end();
    }

    void benefits(const char* caption, const std::vector<Benefit>& claims) {
        List list(x_, caption);
        for (const Benefit& b : claims) {
            list.item();
            line_.assign(b.text).append(" (evidence: ").append(b.grade).append(")");
            if (!b.references.empty()) line_.append(" ");
            x_.text(line_);
            referenceLinks(b.references);
        }
        list.end();
    }

    // The massage-outcome observation; for defer, the earliest date as a component observation.
    void outcomeEntry(const MassageType& type, const MassageAssessment& m, const std::string& outcomeId,
                      const std::string& earliestId) {
        openEntry(PPMG_LOCAL_CODE("massage-outcome", "Massage outcome"), outcomeId);
        date("effectiveTime", a_.asOf);
        coded("value", local(outcomeCode(m.outcome), outcomeLabel(m.outcome).c_str()), "CD");
        if (!type.bodySiteCode.empty())
            coded("targetSiteCode", {type.bodySiteCode.c_str(), kSnomed, "SNOMED CT", type.bodySiteDisplay.c_str()});
        if (!earliestId.empty()) {
            x_.markup("<entryRelationship typeCode=\"COMP\">");
            openObservation(PPMG_LOCAL_CODE("earliest-date", "Earliest date"), earliestId);
            date("value", *m.earliestDate, true);
            x_.markup("</observation></entryRelationship>");
        }
        closeEntry();
    }

    // <observation classCode="OBS" moodCode="EVN">, its code (constant markup), a text/reference to
    // the narrative it states (a generated id) and statusCode completed; closed by the caller.
    void openObservation(const char* code, std::string_view narrativeId) {
        x_.markup("<observation classCode=\"OBS\" moodCode=\"EVN\">");
        x_.markup(code);
        tag_.assign("<text><reference value=\"#").append(narrativeId);
        tag_.append("\"/></text><statusCode code=\"completed\"/>");
        x_.markup(tag_);
    }
    void openEntry(const char* code, std::string_view narrativeId) {
        x_.markup("<entry typeCode=\"DRIV\">");
        openObservation(code, narrativeId);
    }
    void closeEntry() { x_.markup("</observation></entry>"); }

    // ---- 3. findings and data gaps -----------------------------------------------------------

    void findingsSection() {
        openSection(PPMG_LOCAL_CODE("findings", "Findings and data gaps"), "Findings and data gaps");
        x_.markup("<text>");
        if (a_.findings.empty()) {
            paragraph("No findings.");
        } else {
            findingsList();
        }
        if (a_.dataGaps.empty()) {
            paragraph("No data gaps.");
        } else {
            // An escalate document names its gaps only: no advice, positions or products (rule 11).
            const bool namesOnly = a_.escalated();
            List gaps(x_, "Data gaps");
            for (const DataGap& gap : a_.dataGaps) gaps.item(namesOnly ? c_.gapName(gap.id, gap.text) : gap.text);
            gaps.end();
        }
        if (!a_.findings.empty()) detailsTable();
        x_.markup("</text>");
        closeSection();
    }

    // Each finding once: its statement, the types it affects and its data, as people read them.
    void findingsList() {
        List list(x_, "Findings");
        for (size_t i = 0; i < a_.findings.size(); ++i) {
            const Finding& f = a_.findings[i];
            const std::string id = findingId(i);
            list.item(&id);
            findingHeadOnce(f);
            line_.assign(" Affects: ");
            bool first = true;
            for (size_t t : f.types) {
                if (t >= c_.massageTypes.size()) continue;
                if (!first) line_.append(", ");
                first = false;
                line_.append(c_.massageTypes[t].display);
            }
            line_.append(".");
            x_.text(line_);
            triggeringData(f);
        }
        list.end();
    }

    void findingHeadOnce(const Finding& f) {
        if (const CdaFragments::RuleText* t = ruleText(f)) {
            x_.markup(t->head);
            for (size_t r : t->references) usedReferences_[r] = 1;
        } else {
            findingHead(f);
        }
    }

    // The identifiers behind the findings: rule ids, record ids, codes, dates as recorded.
    void detailsTable() {
        x_.markup(
            "<table><caption>Details: rule ids, record ids and codes</caption><thead><tr><th>Finding</th>"
            "<th>Rule</th><th>Outcome</th><th>Records</th><th>References</th></tr></thead><tbody>");
        for (size_t i = 0; i < a_.findings.size(); ++i) {
            const Finding& f = a_.findings[i];
            const Rule& rule = ruleOf(f);
            x_.markup("<tr>");
            tag_.assign("<td><linkHtml href=\"#").append(findingId(i)).append("\">");
            appendNumber(tag_, static_cast<long long>(i + 1)).append("</linkHtml></td>");
            x_.markup(tag_);
            cell(rule.id);
            cell(outcomeCode(f.outcome));
            x_.markup("<td>");
            List data(x_, nullptr);
            for (const Evidence& e : f.evidence) {
                data.item();
                evidence(e);
            }
            if (f.evidence.empty() && !rule.gap.empty()) {
                data.item();
                line_.assign("Missing: ").append(rule.gap);
                x_.text(line_);
            }
            data.end();
            x_.markup("</td><td>");
            if (const CdaFragments::RuleText* t = ruleText(f)) {
                x_.markup(t->links);
                for (size_t r : t->references) usedReferences_[r] = 1;
            } else {
                referenceLinks(rule.references);
            }
            x_.markup("</td></tr>");
        }
        x_.markup("</tbody></table>");
        List gaps(x_, "Data gap ids");
        for (const DataGap& gap : a_.dataGaps) gaps.item(gap.id);
        gaps.end();
    }

    // ---- 4. references -------------------------------------------------------------------------

    void referencesSection() {
        openSection(PPMG_LOCAL_CODE("references", "References"), "References");
        x_.markup("<text>");
        List list(x_, nullptr);
        for (size_t i = 0; i < c_.references.size(); ++i) {
            if (!usedReferences_[i]) continue;
            const Reference& r = c_.references[i];
            line_.assign("ref-");
            appendNumber(line_, static_cast<long long>(i + 1));
            list.item(&line_);
            bold(r.id);
            x_.markup(" ");
            x_.text(r.citation);
            // The address as text: HL7's CDA stylesheet flags any href holding ':' as potentially
            // malicious, so only in-page links are written as linkHtml (the HTML view links it).
            if (!r.url.empty()) {
                x_.markup(" ");
                x_.text(r.url);
            }
        }
        list.end();
        if (std::find(usedReferences_.begin(), usedReferences_.end(), 1) == usedReferences_.end())
            paragraph("No references cited.");
        x_.markup("</text>");
        closeSection();
    }

    // ---- 5. provenance -------------------------------------------------------------------------

    void provenanceSection() {
        const std::optional<DeliveryEpisode>& episode = a_.episode;
        openSection(PPMG_LOCAL_CODE("provenance", "Provenance"), "Provenance");
        x_.markup("<text>");
        List list(x_, nullptr);
        list.item();
        labelled("Content version: ", c_.version, "prov-content-version");
        list.item();
        labelled("Content SHA-256: ", c_.sha256, "prov-content-sha256");
        if (!c_.signOff.empty()) {
            list.item();
            labelled("Content sign-off: ", c_.signOff);
        }
        list.item();
        labelled("Plugin version: ", ctx_.pluginVersion, "prov-plugin-version");
        list.item();
        labelled("As-of date: ", asOfIso_);
        list.item();
        if (a_.postpartumDay) {
            labelled("Postpartum day: ", std::to_string(*a_.postpartumDay), "prov-postpartum-day");
        } else {
            labelled("Postpartum day: ", "not known");
        }
        list.item();
        if (episode) {
            labelled("Delivery: ", formatIsoDate(episode->date), "prov-delivery-date");
            x_.markup(", mode ");
            anchored("prov-delivery-mode", deliveryModeCode(episode->mode));
            deliveryRecords(*episode);
        } else {
            labelled("Delivery: ", "none on record");
        }
        if (a_.futureDelivery) {
            list.item();
            bold("A delivery is dated after the as-of date: a data error to check.");
        }
        list.item();
        labelled("Dates of the data used: ", dataPeriodText(), "prov-data-period");
        list.end();
        x_.markup("</text>");

        valueEntry(PPMG_LOCAL_CODE("content-version", "Content version"), "prov-content-version", c_.version);
        valueEntry(PPMG_LOCAL_CODE("content-sha256", "Content SHA-256"), "prov-content-sha256", c_.sha256);
        valueEntry(PPMG_LOCAL_CODE("plugin-version", "Plugin version"), "prov-plugin-version", ctx_.pluginVersion);
        if (a_.postpartumDay) {
            openEntry(PPMG_LOCAL_CODE("postpartum-day", "Postpartum day"), "prov-postpartum-day");
            tag_.assign("<value xsi:type=\"INT\" value=\"");
            appendNumber(tag_, *a_.postpartumDay).append("\"/>");
            x_.markup(tag_);
            closeEntry();
        }
        if (episode) {
            openEntry(PPMG_LOCAL_CODE("delivery-date", "Delivery date"), "prov-delivery-date");
            date("value", episode->date, true);
            closeEntry();
            openEntry(PPMG_LOCAL_CODE("delivery-mode", "Delivery mode"), "prov-delivery-mode");
            coded("value", local(deliveryModeCode(episode->mode), nullptr), "CD");
            closeEntry();
        }
        if (a_.earliestDataDate || a_.latestDataDate) {
            openEntry(PPMG_LOCAL_CODE("data-period", "Dates of the data used"), "prov-data-period");
            x_.markup("<value xsi:type=\"IVL_TS\">");
            if (a_.earliestDataDate) date("low", *a_.earliestDataDate);
            if (a_.latestDataDate) date("high", *a_.latestDataDate);
            x_.markup("</value>");
            closeEntry();
        }
        closeSection();
    }

    // The records that make up the delivery episode, and how it was found when not by a code.
    void deliveryRecords(const DeliveryEpisode& episode) {
        List records(x_, "Delivery records");
        for (const Evidence& e : episode.records) {
            records.item();
            evidence(e);
        }
        records.end();
        List heuristics(x_, "How the delivery was found");
        for (const std::string& h : episode.heuristics) heuristics.item(h);
        heuristics.end();
    }

    std::string dataPeriodText() const {
        if (!a_.earliestDataDate && !a_.latestDataDate) return "no dated data";
        std::string s = a_.earliestDataDate ? formatIsoDate(*a_.earliestDataDate) : std::string("?");
        s.append(" to ").append(a_.latestDataDate ? formatIsoDate(*a_.latestDataDate) : std::string("?"));
        return s;
    }

    // A provenance value as <value xsi:type="ST">, escaped.
    void valueEntry(const char* code, std::string_view narrativeId, const std::string& value) {
        openEntry(code, narrativeId);
        x_.markup("<value xsi:type=\"ST\">");
        x_.text(value);
        x_.markup("</value>");
        closeEntry();
    }

    const Assessment& a_;
    const Content& c_;
    const RenderContext& ctx_;
    const CdaFragments* fragments_;  // nullptr: write the content's parts from the content
    XmlOut x_;
    std::string line_;                  // scratch for composed narrative lines (escaped when written)
    std::string tag_;                   // scratch for composed markup (generated ids and dates only)
    std::vector<char> usedReferences_;  // by Content::references index
    const std::string asOfIso_;
};

#undef PPMG_LOCAL_CODE

}  // namespace

std::string writeCda(const Assessment& a, const Content& c, const RenderContext& ctx, const CdaFragments* fragments) {
    return CdaRenderer(a, c, ctx, fragments).render();
}

std::unique_ptr<const CdaFragments> prepareCdaFragments(const Content& c) {
    auto f = std::make_unique<CdaFragments>();
    f->content = &c;
    Assessment a;
    a.massages.resize(c.massageTypes.size());
    const RenderContext ctx;
    f->warningSigns = CdaRenderer(a, c, ctx, nullptr).warningSignsFragment();
    for (size_t i = 0; i < c.massageTypes.size(); ++i) {
        CdaFragments::Type& t = f->types.emplace_back();
        t.technique = CdaRenderer(a, c, ctx, nullptr).techniqueFragment(i);
        t.tail = CdaRenderer(a, c, ctx, nullptr).tailFragment(i, t.references);
    }
    for (const Rule& rule : c.rules) {
        CdaFragments::RuleText& t = f->rules.emplace_back();
        t.head = CdaRenderer(a, c, ctx, nullptr).ruleHeadFragment(rule, t.references);
        t.links = CdaRenderer(a, c, ctx, nullptr).ruleLinksFragment(rule);
    }
    return f;
}

}  // namespace ppmg::core

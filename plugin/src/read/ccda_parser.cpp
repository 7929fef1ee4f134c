// C-CDA R2.1 and R1.1 reader (libxml2, through the hardened parse the XML readers share). It turns a
// ClinicalDocument into the neutral form (read/patient_record.hpp), in FHIR's vocabulary, and
// decides nothing: the one mapping (read/record_mapping.hpp) then names the code systems, chooses
// the patient, decides whose data each fact is, the date that counts and what the statuses mean.
// docs/ccda-input.md says what is read from where, and why.
//
// Entries are read by templateId (the root; R1.1 writes it alone, R2.1 adds an extension date, and
// either is accepted), never by section order, section code or title:
//  - Problem Concern Act (22.4.3) and the Problem Observations (22.4.4) in it, and a Problem
//    Observation wherever else it stands (an encounter diagnosis, a discharge diagnosis): Condition;
//  - Allergy Concern Act (22.4.30), Allergy - Intolerance Observation (22.4.7): AllergyIntolerance;
//  - Medication Activity (22.4.16): MedicationRequest (moodCode INT) or MedicationStatement (EVN);
//  - Procedure Activity Procedure, Act and Observation (22.4.14, .12, .13): Procedure;
//  - Result and Vital Signs Organizers (22.4.1, 22.4.26) and their observations, the Pregnancy
//    Observation (2.16.840.1.113883.10.20.15.3.8), Estimated Date of Delivery (15.3.1): Observation;
//  - Encounter Activity (22.4.49): Encounter;
//  - an entry of no template ppmg knows, at the top of a section: an observation or an organizer's
//    observations as Observations, a procedure as a Procedure (delivery-coded entries wherever
//    they are). Planned entries (22.4.39 to .44, and any moodCode but EVN, or INT for a medication)
//    are plans, not facts, and the Family History section is about relatives: neither is read.
// Codes are written as the document writes them (the codeSystem OID as the system; translations as
// more codings of the same concept). nullFlavor anywhere is missing data.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clinical_date.hpp"
#include "base/errors.hpp"
#include "base/hl7_datetime.hpp"
#include "read/patient_record.hpp"
#include "read/record_mapping.hpp"
#include "read/record_reader.hpp"
#include "read/xml_document.hpp"
#include "read/xml_tree.hpp"

namespace ppmg::core {
namespace {

using Node = xml::Node;

constexpr std::string_view kV3 = "urn:hl7-org:v3";
constexpr std::string_view kXsi = "http://www.w3.org/2001/XMLSchema-instance";
constexpr const char* kFormat = "C-CDA";

// Template roots (the same in R1.1 and R2.1).
namespace tpl {
constexpr std::string_view kProblemConcern = "2.16.840.1.113883.10.20.22.4.3";
constexpr std::string_view kProblemObservation = "2.16.840.1.113883.10.20.22.4.4";
constexpr std::string_view kProblemStatus = "2.16.840.1.113883.10.20.22.4.6";
constexpr std::string_view kAllergyConcern = "2.16.840.1.113883.10.20.22.4.30";
constexpr std::string_view kAllergyObservation = "2.16.840.1.113883.10.20.22.4.7";
constexpr std::string_view kAllergyStatus = "2.16.840.1.113883.10.20.22.4.28";
constexpr std::string_view kMedicationActivity = "2.16.840.1.113883.10.20.22.4.16";
constexpr std::string_view kProcedureAct = "2.16.840.1.113883.10.20.22.4.12";
constexpr std::string_view kProcedureObservation = "2.16.840.1.113883.10.20.22.4.13";
constexpr std::string_view kProcedureProcedure = "2.16.840.1.113883.10.20.22.4.14";
constexpr std::string_view kResultOrganizer = "2.16.840.1.113883.10.20.22.4.1";
constexpr std::string_view kResultObservation = "2.16.840.1.113883.10.20.22.4.2";
constexpr std::string_view kVitalSignsOrganizer = "2.16.840.1.113883.10.20.22.4.26";
constexpr std::string_view kVitalSignObservation = "2.16.840.1.113883.10.20.22.4.27";
constexpr std::string_view kEncounterActivity = "2.16.840.1.113883.10.20.22.4.49";
constexpr std::string_view kPregnancyObservation = "2.16.840.1.113883.10.20.15.3.8";
constexpr std::string_view kEstimatedDeliveryDate = "2.16.840.1.113883.10.20.15.3.1";
constexpr std::string_view kFamilyHistorySection = "2.16.840.1.113883.10.20.22.2.15";
// Planned Act, Encounter, Procedure, Medication Activity, Supply, Observation (.39 to .44).
constexpr std::string_view kPlanned[] = {"2.16.840.1.113883.10.20.22.4.39", "2.16.840.1.113883.10.20.22.4.40",
                                         "2.16.840.1.113883.10.20.22.4.41", "2.16.840.1.113883.10.20.22.4.42",
                                         "2.16.840.1.113883.10.20.22.4.43", "2.16.840.1.113883.10.20.22.4.44"};
}  // namespace tpl

// The entry templates ppmg reads by.
enum class Kind : uint8_t {
    None,
    ProblemConcern,
    ProblemObservation,
    AllergyConcern,
    AllergyObservation,
    Medication,
    Procedure,
    ResultOrganizer,
    VitalSignsOrganizer,
    ResultObservation,
    Pregnancy,
    Encounter,
    Planned
};

struct KnownTemplate {
    std::string_view root;
    Kind kind;
};

constexpr KnownTemplate kKnownTemplates[] = {
    {tpl::kProblemConcern, Kind::ProblemConcern},
    {tpl::kProblemObservation, Kind::ProblemObservation},
    {tpl::kAllergyConcern, Kind::AllergyConcern},
    {tpl::kAllergyObservation, Kind::AllergyObservation},
    {tpl::kMedicationActivity, Kind::Medication},
    {tpl::kProcedureProcedure, Kind::Procedure},
    {tpl::kProcedureAct, Kind::Procedure},
    {tpl::kProcedureObservation, Kind::Procedure},
    {tpl::kResultOrganizer, Kind::ResultOrganizer},
    {tpl::kVitalSignsOrganizer, Kind::VitalSignsOrganizer},
    {tpl::kResultObservation, Kind::ResultObservation},
    {tpl::kVitalSignObservation, Kind::ResultObservation},
    {tpl::kPregnancyObservation, Kind::Pregnancy},
    {tpl::kEstimatedDeliveryDate, Kind::Pregnancy},
    {tpl::kEncounterActivity, Kind::Encounter},
    {tpl::kPlanned[0], Kind::Planned},
    {tpl::kPlanned[1], Kind::Planned},
    {tpl::kPlanned[2], Kind::Planned},
    {tpl::kPlanned[3], Kind::Planned},
    {tpl::kPlanned[4], Kind::Planned},
    {tpl::kPlanned[5], Kind::Planned},
};

// A statement's template as ppmg reads it: its kind and the root it was known by (else the first
// root it has). A planned template wins over any other.
struct Recognised {
    Kind kind = Kind::None;
    std::string_view root;
};

// The HL7 code systems FHIR writes statuses in.
constexpr std::string_view kAllergyClinical = status_system::kAllergyClinical;
constexpr std::string_view kAllergyVerification = status_system::kAllergyVerification;
constexpr std::string_view kConditionClinical = status_system::kConditionClinical;
constexpr std::string_view kConditionVerification = status_system::kConditionVerification;
// Where a status the format writes has no FHIR counterpart, it is kept in its own vocabulary (the
// mapping then cannot read it: rule 19).
constexpr std::string_view kActStatus = "http://terminology.hl7.org/CodeSystem/v3-ActStatus";
constexpr std::string_view kSnomedOid = "2.16.840.1.113883.6.96";

// A pair of the format's code and FHIR's.
struct Translation {
    std::string_view from;
    std::string_view to;
};

template <size_t N>
std::string_view translate(std::string_view code, const Translation (&table)[N]) {
    for (const Translation& t : table)
        if (t.from == code) return t.to;
    return {};
}

// Problem and allergy status observations (SNOMED CT) to the clinical status (C-CDA on FHIR,
// ConceptMaps CF-ProblemStatus and CF-AllergyStatus).
constexpr Translation kProblemStatusCodes[] = {{"55561003", "active"},    {"73425007", "inactive"},
                                               {"413322009", "resolved"}, {"246455001", "recurrence"},
                                               {"263855007", "relapse"},  {"277022003", "remission"}};
constexpr Translation kAllergyStatusCodes[] = {
    {"55561003", "active"}, {"73425007", "inactive"}, {"413322009", "resolved"}};
// A concern act's statusCode to the clinical status, used only without a status observation
// (ConceptMap CF-ConditionClinicalStatus).
constexpr Translation kConcernStatusCodes[] = {
    {"active", "active"}, {"completed", "inactive"}, {"aborted", "inactive"}, {"suspended", "inactive"}};
// Act statusCode to Observation.status (CF-ResultStatus, and nullified as entered-in-error).
constexpr Translation kObservationStatusCodes[] = {
    {"completed", "final"}, {"active", "registered"}, {"held", "registered"},     {"suspended", "registered"},
    {"new", "registered"},  {"aborted", "cancelled"}, {"cancelled", "cancelled"}, {"nullified", "entered-in-error"}};
// To Procedure.status (CF-ProcedureStatus; the rest by FHIR's definitions).
constexpr Translation kProcedureStatusCodes[] = {
    {"completed", "completed"}, {"active", "in-progress"}, {"aborted", "stopped"}, {"cancelled", "not-done"},
    {"held", "on-hold"},        {"suspended", "on-hold"},  {"new", "preparation"}, {"nullified", "entered-in-error"}};
// To MedicationRequest.status (CF-MedicationStatus; the rest by FHIR's definitions).
constexpr Translation kRequestStatusCodes[] = {
    {"active", "active"},       {"suspended", "on-hold"},   {"held", "on-hold"}, {"aborted", "stopped"},
    {"completed", "completed"}, {"cancelled", "cancelled"}, {"new", "draft"},    {"nullified", "entered-in-error"}};
// To MedicationStatement.status.
constexpr Translation kStatementStatusCodes[] = {
    {"active", "active"},       {"suspended", "on-hold"},   {"held", "on-hold"}, {"aborted", "stopped"},
    {"completed", "completed"}, {"cancelled", "not-taken"}, {"new", "intended"}, {"nullified", "entered-in-error"}};

// The names of the CDA elements a C-CDA fragment (a section, an entry) starts with.
bool isCdaFragmentName(std::string_view name) {
    return name == "section" || name == "entry" || name == "component" || name == "structuredBody" || name == "act" ||
           name == "observation" || name == "procedure" || name == "substanceAdministration" || name == "organizer" ||
           name == "encounter" || name == "supply";
}

// The section an entry stands in.
struct SectionContext {
    const Node* section = nullptr;
    Text templateId;  // the section's first templateId root
    Text title;
    bool relatedSubject = false;  // the section is about someone else (a <subject>)
};

// One step of the path from the document's body to an element: "entry[2]/act" (the relationship
// element, its index among its like, the element), linked to the step above. A path is spelled out
// only for a fact (Source::path).
struct Step {
    const Step* up = nullptr;
    std::string_view relationship;  // "component", "entry", "entryRelationship"
    size_t index = 0;
    std::string_view element;  // "section", "act", "observation", ...
};

// Where the reader is.
struct Where {
    const SectionContext* section = nullptr;
    const Step* step = nullptr;   // the statement's
    bool relatedSubject = false;  // a <subject> on the way down: someone else's data
};

// "/ClinicalDocument/component/structuredBody/component[3]/section/entry[2]/act/...", into out.
void pathOf(const Step* step, std::string& out) {
    const Step* steps[128];
    size_t n = 0;
    for (const Step* s = step; s && n < 128; s = s->up) steps[n++] = s;
    out.assign("/ClinicalDocument/component/structuredBody");
    char digits[24];
    while (n > 0) {
        const Step* s = steps[--n];
        out.append("/").append(s->relationship).append("[");
        size_t k = sizeof digits;
        size_t v = s->index;
        do {
            digits[--k] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v > 0);
        out.append(digits + k, sizeof digits - k).append("]/").append(s->element);
    }
}

class CcdaReader {
public:
    CcdaReader(const ReadLimits& limits, const std::string& file, const xml::Tree& tree)
        : limits_(limits), file_(file), tree_(tree) {}

    RawRecord read() {
        const Node* root = tree_.root();
        const bool cdaNs = root->ns.empty() || root->ns == kV3;
        if (root->name != "ClinicalDocument" && cdaNs && isCdaFragmentName(root->name))
            throw Error(PPMG_E_NO_PATIENT,
                        "the root element <" + std::string(root->name) +
                            "> is a C-CDA fragment, not a ClinicalDocument: it has no recordTarget, and ppmg reads "
                            "whole documents about one patient",
                        at(root));
        if (root->name != "ClinicalDocument" || root->ns != kV3) {
            throw Error(
                PPMG_E_NOT_FHIR,
                "the root element <" + std::string(root->name) + "> is " +
                    (root->ns.empty() ? std::string("in no namespace") : "in the namespace " + std::string(root->ns)) +
                    ", not a C-CDA ClinicalDocument (in " + std::string(kV3) + ")",
                at(root));
        }
        v3_ = root->ns.data();
        readPatients(root);
        if (rec_.patients.empty())
            throw Error(PPMG_E_NO_PATIENT,
                        "the C-CDA document has no recordTarget/patientRole; ppmg needs the patient's record",
                        at(root));
        if (rec_.patients.size() == 1) subject_ = rec_.patients.front().fullUrl;
        const Node* body = child(child(root, "component"), "structuredBody");
        if (body) {
            size_t index = 0;
            forEach(body, "component", [&](const Node* component) {
                ++index;
                const Step step{nullptr, "component", index, "section"};
                if (const Node* section = child(component, "section")) readSection(section, step);
            });
        }
        rec_.bundleType = "document";
        rec_.resourceCount = rec_.patients.size() + rec_.observations.size() + rec_.conditions.size() +
                             rec_.procedures.size() + rec_.medications.size() + rec_.allergies.size() +
                             rec_.encounters.size();
        return std::move(rec_);
    }

private:
    const ReadLimits& limits_;
    const std::string& file_;
    const xml::Tree& tree_;
    RawRecord rec_;
    const char* v3_ = nullptr;     // the root's namespace name: most elements share its storage
    Text subject_;                 // the one patient's fullUrl, the subject of every fact ("" with several)
    std::vector<Coding> codings_;  // scratch for a concept's codings before they go to the arena
    size_t facts_ = 0;
    std::string path_;  // scratch for a fact's path

    // ---- XML -------------------------------------------------------------------------------

    bool inV3(const Node* n) const { return n->ns.data() == v3_ || n->ns == kV3; }
    bool is(const Node* n, std::string_view name) const {
        return n->kind == Node::Kind::Element && n->name == name && inV3(n);
    }

    const Node* child(const Node* parent, std::string_view name) const {
        if (!parent) return nullptr;
        for (const Node* c = parent->first; c; c = c->next)
            if (is(c, name)) return c;
        return nullptr;
    }

    template <class F>
    void forEach(const Node* parent, std::string_view name, F&& f) const {
        if (!parent) return;
        for (const Node* c = parent->first; c; c = c->next)
            if (is(c, name)) f(c);
    }

    static std::string_view attr(const Node* n, std::string_view name) {
        if (!n) return {};
        for (uint32_t k = 0; k < n->attributeCount; ++k)
            if (n->attributes[k].ns.empty() && n->attributes[k].name == name) return n->attributes[k].value;
        return {};
    }

    static bool hasAttr(const Node* n, std::string_view name) {
        if (!n) return false;
        for (uint32_t k = 0; k < n->attributeCount; ++k)
            if (n->attributes[k].ns.empty() && n->attributes[k].name == name) return true;
        return false;
    }

    // nullFlavor: the datum is missing.
    static bool missing(const Node* n) { return !n || hasAttr(n, "nullFlavor"); }

    // xsi:type without its prefix ("PQ" of "xsi:type='PQ'" or "v3:PQ").
    static std::string_view xsiType(const Node* n) {
        for (uint32_t k = 0; k < n->attributeCount; ++k) {
            const xml::Attribute& a = n->attributes[k];
            if ((a.name == "type" && a.ns == kXsi) || (a.ns.empty() && a.name == "xsi:type")) {
                std::string_view t = a.value;
                if (const size_t colon = t.find(':'); colon != std::string_view::npos) t.remove_prefix(colon + 1);
                return t;
            }
        }
        return {};
    }

    // The text content of an element, white space collapsed; its elements' texts apart.
    static std::string textOf(const Node* n) {
        std::string out;
        if (!n) return out;
        bool space = false;
        const Node* c = n->first;
        while (c) {
            if (c->kind == Node::Kind::Text) {
                for (char ch : c->text) {
                    if (xml::xmlSpace(ch)) {
                        space = !out.empty();
                    } else {
                        if (space) out.push_back(' ');
                        space = false;
                        out.push_back(ch);
                    }
                }
            } else {
                space = !out.empty();  // cells and paragraphs stay apart
                if (c->first) {
                    c = c->first;
                    continue;
                }
            }
            while (c && !c->next && c != n) c = c->parent;
            if (!c || c == n) break;
            c = c->next;
        }
        return out;
    }

    bool hasTemplate(const Node* n, std::string_view root) const {
        for (const Node* c = n->first; c; c = c->next)
            if (is(c, "templateId") && attr(c, "root") == root) return true;
        return false;
    }

    // The templateId element of n with this root (the one with an extension first), or null.
    const Node* templateElement(const Node* n, std::string_view root) const {
        const Node* found = nullptr;
        for (const Node* c = n->first; c; c = c->next)
            if (is(c, "templateId") && attr(c, "root") == root) {
                if (!attr(c, "extension").empty()) return c;
                if (!found) found = c;
            }
        return found;
    }

    Location at(const Node* n, std::string path = {}) const {
        return Location{file_, std::move(path), "", tree_.line(n)};
    }

    Text kept(std::string_view s) { return rec_.text->keep(s); }

    // ---- data types ------------------------------------------------------------------------

    // A CD/CE's codings: its code (unless missing) and every translation, each with its
    // codeSystem as written.
    void appendCodings(const Node* cd, std::vector<Coding>& out) {
        if (!cd) return;
        const std::string_view code = attr(cd, "code");
        if (!code.empty() && !hasAttr(cd, "nullFlavor")) {
            Coding& c = out.emplace_back();
            c.system = kept(attr(cd, "codeSystem"));
            c.code = kept(code);
            c.display = kept(attr(cd, "displayName"));
        }
        forEach(cd, "translation", [&](const Node* t) { appendCodings(t, out); });
    }

    Codings inArena(const std::vector<Coding>& list) {
        if (list.empty()) return {};
        Coding* out = rec_.text->make<Coding>(list.size());
        std::copy(list.begin(), list.end(), out);
        return Codings(out, list.size());
    }

    Codings codings(const Node* cd) {
        codings_.clear();
        appendCodings(cd, codings_);
        return inArena(codings_);
    }

    // One coding of a status, in the HL7 system FHIR writes it in.
    Codings statusCoding(std::string_view system, std::string_view code) {
        Coding* one = rec_.text->make<Coding>(1);
        one->system = Text(system);  // literals
        one->code = kept(code);
        return Codings(one, 1);
    }

    std::optional<DateTime> timestamp(const Node* ts) {
        if (missing(ts)) return std::nullopt;
        const std::string_view value = attr(ts, "value");
        if (value.empty()) return std::nullopt;
        // A value that is not an HL7 timestamp is missing, as a nullFlavor is (docs/ccda-input.md).
        return parseHl7DateTime(kept(value));  // its text views the arena
    }

    // An IVL_TS or TS: its value, else low, else center.
    std::optional<DateTime> start(const Node* time) {
        if (missing(time)) return std::nullopt;
        if (hasAttr(time, "value")) return timestamp(time);
        if (auto low = timestamp(child(time, "low"))) return low;
        return timestamp(child(time, "center"));
    }

    std::optional<DateTime> end(const Node* time) {
        if (missing(time)) return std::nullopt;
        return timestamp(child(time, "high"));
    }

    // The first effectiveTime that is an interval or a point (a medication's second effectiveTime,
    // operator="A", is its frequency).
    const Node* effectiveTime(const Node* n) const {
        for (const Node* c = n->first; c; c = c->next) {
            if (!is(c, "effectiveTime")) continue;
            const std::string_view type = xsiType(c);
            if (type == "PIVL_TS" || type == "EIVL_TS" || type == "SXPR_TS" || !attr(c, "operator").empty()) continue;
            return c;
        }
        return nullptr;
    }

    // The earliest author/time of a statement.
    std::optional<DateTime> authored(const Node* n) {
        std::optional<DateTime> earliest;
        forEach(n, "author", [&](const Node* author) {
            auto t = timestamp(child(author, "time"));
            if (t && (!earliest || t->instant < earliest->instant)) earliest = t;
        });
        return earliest;
    }

    static bool negated(const Node* n) { return attr(n, "negationInd") == "true"; }

    // A statusCode in FHIR's words: translated by the table, a code it does not have as written,
    // nullFlavor UNK as "unknown" (FHIR's code for it), any other nullFlavor or none as absent.
    template <size_t N>
    Text statusOf(const Node* n, const Translation (&table)[N]) {
        const Node* status = child(n, "statusCode");
        if (!status) return {};
        if (hasAttr(status, "nullFlavor")) return attr(status, "nullFlavor") == "UNK" ? Text("unknown") : Text();
        const std::string_view code = attr(status, "code");
        const std::string_view fhir = translate(code, table);
        return fhir.empty() ? kept(code) : Text(fhir);
    }

    // An observation's value, into the Observation's fields.
    void readValue(const Node* n, Observation& o) {
        const Node* value = child(n, "value");
        if (missing(value)) return;
        std::string_view type = xsiType(value);
        if (type.empty()) type = hasAttr(value, "code") ? "CD" : hasAttr(value, "unit") ? "PQ" : "ST";
        if (type == "PQ" || type == "REAL" || type == "INT") {
            const std::string_view text = attr(value, "value");
            if (auto v = xml::parseDecimal(text)) {
                o.quantity.value = *v;
                o.quantity.present = true;
                o.quantity.unit = kept(attr(value, "unit"));
            } else if (!text.empty()) {
                o.valueText = kept(text);  // not a number: shown, never used as one
            }
        } else if (type == "CD" || type == "CE" || type == "CV" || type == "CO" || type == "CS") {
            o.valueCodes = codings(value);
        } else if (type == "TS") {
            o.valueDateTime = timestamp(value);
        } else if (type == "ST" || type == "ED") {
            o.valueText = kept(textOf(value));
        }
    }

    // ---- sources -----------------------------------------------------------------------------

    // The fact's source: type, its own id, the path to its element and the entry's details.
    Source source(const char* type, const Node* n, const Where& where, std::string_view templateRoot) {
        Source s;
        s.resourceType = type;  // a literal
        auto* entry = rec_.text->make<DocumentEntry>(1);
        if (const Node* id = child(n, "id"); id && !missing(id)) {
            entry->idRoot = kept(attr(id, "root"));
            entry->idExtension = kept(attr(id, "extension"));
        }
        s.id = entry->idExtension.empty() ? entry->idRoot : entry->idExtension;
        pathOf(where.step, path_);
        s.path = kept(path_);
        if (where.section) {
            entry->sectionTemplateId = where.section->templateId;
            entry->sectionTitle = where.section->title;
        }
        if (!templateRoot.empty()) {
            const Node* t = templateElement(n, templateRoot);
            const std::string_view ext = attr(t, "extension");
            entry->templateId =
                ext.empty() ? Text(kept(templateRoot)) : kept(std::string(templateRoot).append(":").append(ext));
        }
        s.document = entry;
        return s;
    }

    Text subjectOf(const Where& where) const { return where.relatedSubject ? Text("RelatedPerson/subject") : subject_; }

    void countFact(const Node* n) {
        if (++facts_ > limits_.maxResources)
            throw Error(PPMG_E_LIMIT,
                        "the document holds more entries than the limit of " + std::to_string(limits_.maxResources),
                        at(n));
    }

    // ---- the patient -------------------------------------------------------------------------

    void readPatients(const Node* root) {
        size_t index = 0;
        forEach(root, "recordTarget", [&](const Node* target) {
            ++index;
            const Node* role = child(target, "patientRole");
            if (!role) return;
            Patient p;
            const std::string path =
                "/ClinicalDocument/recordTarget[" + std::to_string(index) + "]/patientRole/patient";
            p.source.resourceType = "Patient";
            p.source.path = kept(path);
            forEach(role, "id", [&](const Node* id) {
                if (missing(id)) return;
                const std::string_view root = attr(id, "root"), extension = attr(id, "extension");
                if (root.empty() && extension.empty()) return;
                Identifier ident;
                if (extension.empty()) {  // a root alone names the patient (C-CDA on FHIR's reading)
                    ident.system = "urn:ietf:rfc:3986";
                    ident.value =
                        kept((root.find('-') == std::string_view::npos ? "urn:oid:" : "urn:uuid:") + std::string(root));
                } else {
                    ident.system = root.empty() ? Text() : kept("urn:oid:" + std::string(root));
                    ident.value = kept(extension);
                }
                if (p.source.id.empty()) p.source.id = extension.empty() ? kept(root) : ident.value;
                p.identifiers.push_back(ident);
            });
            p.fullUrl = kept("urn:ppmg:ccda:recordTarget:" + std::to_string(index));
            if (p.source.id.empty()) p.source.id = kept("recordTarget-" + std::to_string(index));
            if (const Node* patient = child(role, "patient")) {
                readName(patient, p);
                const Node* gender = child(patient, "administrativeGenderCode");
                if (!missing(gender)) {
                    const std::string_view code = attr(gender, "code");
                    p.gender = code == "F" ? "female" : code == "M" ? "male" : code.empty() ? "" : "unknown";
                }
                if (auto birth = timestamp(child(patient, "birthTime"))) p.birthDate = birth->date;
            }
            rec_.patients.push_back(std::move(p));
        });
    }

    // The legal name (use "L"), else the first; its parts, or its text when it has none.
    void readName(const Node* patient, Patient& p) {
        const Node* name = nullptr;
        forEach(patient, "name", [&](const Node* n) {
            if (missing(n)) return;
            if (!name || (attr(n, "use") == "L" && attr(name, "use") != "L")) name = n;
        });
        if (!name) return;
        bool parts = false;
        forEach(name, "given", [&](const Node* g) {
            parts = true;
            if (missing(g)) return;
            std::string text = textOf(g);
            if (!text.empty()) p.given.push_back(kept(text));
        });
        forEach(name, "family", [&](const Node* f) {
            parts = true;
            if (p.family.empty() && !missing(f)) p.family = kept(textOf(f));
        });
        if (!parts) p.nameText = kept(textOf(name));
    }

    // ---- sections and entries ----------------------------------------------------------------

    void readSection(const Node* section, const Step& step, bool relatedSubject = false) {
        if (missing(section)) return;
        SectionContext ctx;
        ctx.section = section;
        for (const Node* c = section->first; c; c = c->next)
            if (is(c, "templateId")) {
                const std::string_view root = attr(c, "root");
                if (root == tpl::kFamilyHistorySection) return;  // about relatives, as FamilyMemberHistory
                if (ctx.templateId.empty() && !root.empty()) ctx.templateId = kept(root);
            }
        ctx.title = kept(textOf(child(section, "title")));
        ctx.relatedSubject = relatedSubject || child(section, "subject") != nullptr;
        size_t entryIndex = 0, componentIndex = 0;
        for (const Node* c = section->first; c; c = c->next) {
            if (is(c, "entry")) {
                ++entryIndex;
                const Node* statement = firstStatement(c);
                if (!statement) continue;
                const Step at{&step, "entry", entryIndex, statement->name};
                readStatement(statement, Where{&ctx, &at, ctx.relatedSubject}, true);
            } else if (is(c, "component")) {
                ++componentIndex;
                if (const Node* nested = child(c, "section"))
                    readSection(nested, Step{&step, "component", componentIndex, "section"}, ctx.relatedSubject);
            }
        }
    }

    static bool isStatementName(std::string_view name) {
        return name == "observation" || name == "act" || name == "procedure" || name == "substanceAdministration" ||
               name == "encounter" || name == "organizer" || name == "supply";
    }

    const Node* firstStatement(const Node* holder) const {
        for (const Node* c = holder->first; c; c = c->next)
            if (c->kind == Node::Kind::Element && inV3(c) && isStatementName(c->name)) return c;
        return nullptr;
    }

    // One clinical statement: read it by its template, then the statements nested in it. topLevel:
    // it is a section's entry (where a statement of no known template is read by its class).
    Recognised recognise(const Node* n) const {
        Recognised r;
        std::string_view first;
        for (const Node* c = n->first; c; c = c->next) {
            if (!is(c, "templateId")) continue;
            const std::string_view root = attr(c, "root");
            if (root.empty()) continue;
            if (first.empty()) first = root;
            for (const KnownTemplate& k : kKnownTemplates)
                if (root == k.root) {
                    if (r.kind == Kind::None || k.kind == Kind::Planned) r = {k.kind, k.root};
                    break;
                }
        }
        if (r.kind == Kind::None) r.root = first;
        return r;
    }

    void readStatement(const Node* n, const Where& where, bool topLevel) {
        if (missing(n)) return;
        const Recognised t = recognise(n);
        if (t.kind == Kind::Planned) return;  // a plan, not a fact (and what it holds is planned too)
        const std::string_view name = n->name;
        const std::string_view mood = attr(n, "moodCode");
        Where here = where;
        if (child(n, "subject")) here.relatedSubject = true;  // about someone else
        if (name == "substanceAdministration") {
            if (t.kind == Kind::Medication && (mood == "INT" || mood == "EVN" || mood.empty()))
                readMedication(n, here);
            else if (mood != "EVN" && !mood.empty())
                return;
            readNested(n, here);
            return;
        }
        if (!mood.empty() && mood != "EVN") return;  // intent, request, goal, promise...: not an event
        switch (t.kind) {
            case Kind::ProblemConcern:
            case Kind::AllergyConcern:
                if (name != "act") break;
                readConcern(n, here, t.kind == Kind::AllergyConcern);
                return;  // its observations are read with the concern's status
            case Kind::ProblemObservation:
                if (name == "observation") readProblem(n, nullptr, here);
                break;
            case Kind::AllergyObservation:
                if (name == "observation") readAllergy(n, nullptr, here);
                break;
            case Kind::ResultOrganizer:
            case Kind::VitalSignsOrganizer:
                if (name != "organizer") break;
                readOrganizer(n, here);
                return;
            case Kind::Procedure: readProcedure(n, here, t.root); break;
            case Kind::Encounter:
                if (name == "encounter") readEncounter(n, here);
                break;
            case Kind::Pregnancy:
            case Kind::ResultObservation:
                if (name == "observation") readObservation(n, here, t.root, nullptr);
                break;
            default:  // no template ppmg knows: at the top of a section, read by its class
                if (!topLevel) break;
                if (name == "observation") {
                    readObservation(n, here, t.root, nullptr);
                } else if (name == "procedure") {
                    readProcedure(n, here, t.root);
                } else if (name == "organizer") {
                    readOrganizer(n, here);
                    return;
                }
        }
        readNested(n, here);
    }

    // The statements in a statement's entryRelationships and components, read by their templates.
    // A reason (typeCode RSON: an indication) is not a fact about the patient's problems.
    void readNested(const Node* n, const Where& where) {
        size_t relationship = 0, component = 0;
        for (const Node* c = n->first; c; c = c->next) {
            const bool isRelationship = is(c, "entryRelationship");
            if (!isRelationship && !is(c, "component")) continue;
            const size_t index = isRelationship ? ++relationship : ++component;
            if (isRelationship && attr(c, "typeCode") == "RSON") continue;
            const Node* statement = firstStatement(c);
            if (!statement) continue;
            const Step step{where.step, c->name, index, statement->name};
            readStatement(statement, Where{where.section, &step, where.relatedSubject}, false);
        }
    }

    // ---- problems and allergies --------------------------------------------------------------

    // A Problem or Allergy Concern Act: each observation of its kind in it, with the concern's
    // status as the clinical status where the observation has no status observation of its own.
    void readConcern(const Node* act, const Where& where, bool allergy) {
        size_t relationship = 0;
        for (const Node* c = act->first; c; c = c->next) {
            if (!is(c, "entryRelationship")) continue;
            ++relationship;
            const Node* o = child(c, "observation");
            if (!o || missing(o)) continue;
            const bool ours = hasTemplate(o, allergy ? tpl::kAllergyObservation : tpl::kProblemObservation);
            if (!ours) continue;
            const Step step{where.step, "entryRelationship", relationship, "observation"};
            Where here{where.section, &step, where.relatedSubject || child(o, "subject") != nullptr};
            if (allergy)
                readAllergy(o, act, here);
            else
                readProblem(o, act, here);
            readNested(o, here);
        }
    }

    // The concern's status, translated; a code with no translation kept in its own system.
    Codings concernStatus(const Node* act, std::string_view system) {
        const Node* status = child(act, "statusCode");
        if (missing(status)) return {};
        const std::string_view code = attr(status, "code");
        if (code.empty()) return {};
        const std::string_view fhir = translate(code, kConcernStatusCodes);
        return fhir.empty() ? statusCoding(kActStatus, code) : statusCoding(system, fhir);
    }

    // The value of a status observation (Problem Status, Allergy Status) nested in n, translated.
    Codings statusObservation(const Node* n, std::string_view templateRoot, std::string_view system, bool allergy) {
        for (const Node* c = n->first; c; c = c->next) {
            if (!is(c, "entryRelationship")) continue;
            const Node* o = child(c, "observation");
            if (!o || !hasTemplate(o, templateRoot)) continue;
            const Node* value = child(o, "value");
            if (missing(value)) continue;
            codings_.clear();
            appendCodings(value, codings_);
            std::vector<Coding> out;
            for (const Coding& k : codings_) {
                std::string_view fhir;
                if (std::string_view(k.system) == kSnomedOid)
                    fhir = allergy ? translate(k.code, kAllergyStatusCodes) : translate(k.code, kProblemStatusCodes);
                Coding& s = out.emplace_back(k);
                if (!fhir.empty()) {
                    s.system = Text(system);
                    s.code = Text(fhir);  // literals
                }
            }
            return inArena(out);
        }
        return {};
    }

    void readProblem(const Node* o, const Node* concern, const Where& where) {
        countFact(o);
        Condition& c = rec_.conditions.emplace_back();
        c.source = source("Condition", o, where, tpl::kProblemObservation);
        c.subject = subjectOf(where);
        c.clinicalStatusCodings = statusObservation(o, tpl::kProblemStatus, kConditionClinical, false);
        if (c.clinicalStatusCodings.empty() && concern)
            c.clinicalStatusCodings = concernStatus(concern, kConditionClinical);
        if (negated(o) || (concern && negated(concern)))
            c.verificationStatusCodings = statusCoding(kConditionVerification, "refuted");
        const Node* value = child(o, "value");
        c.codes = codings(value);
        // code.text: the value's originalText (or the narrative it refers to); an uncoded problem's
        // own narrative, so that it can be quoted.
        std::string text = textOf(child(value, "originalText"));
        if (text.empty()) text = narrative(child(child(value, "originalText"), "reference"), where);
        if (text.empty() && c.codes.empty()) text = narrative(child(child(o, "text"), "reference"), where);
        c.codeText = kept(text);
        const Node* time = child(o, "effectiveTime");
        c.onset = start(time);
        c.abatement = end(time);
        c.recorded = authored(o);
        if (!c.recorded && concern) c.recorded = authored(concern);
    }

    void readAllergy(const Node* o, const Node* concern, const Where& where) {
        countFact(o);
        Allergy& a = rec_.allergies.emplace_back();
        a.source = source("AllergyIntolerance", o, where, tpl::kAllergyObservation);
        a.subject = subjectOf(where);
        a.clinicalStatusCodings = statusObservation(o, tpl::kAllergyStatus, kAllergyClinical, true);
        if (a.clinicalStatusCodings.empty() && concern)
            a.clinicalStatusCodings = concernStatus(concern, kAllergyClinical);
        if (negated(o) || (concern && negated(concern)))
            a.verificationStatusCodings = statusCoding(kAllergyVerification, "refuted");
        // The substance; the observation's value (the kind of allergy) when no substance is coded.
        codings_.clear();
        forEach(o, "participant", [&](const Node* p) {
            if (attr(p, "typeCode") != "CSM") return;
            appendCodings(child(child(child(p, "participantRole"), "playingEntity"), "code"), codings_);
        });
        if (codings_.empty()) appendCodings(child(o, "value"), codings_);
        a.codes = inArena(codings_);
        a.onset = start(child(o, "effectiveTime"));
        a.recorded = authored(o);
        if (!a.recorded && concern) a.recorded = authored(concern);
    }

    // The narrative a <reference value="#id"/> points at, in the entry's section.
    std::string narrative(const Node* reference, const Where& where) const {
        if (!reference || !where.section) return {};
        std::string_view target = attr(reference, "value");
        if (target.size() < 2 || target[0] != '#') return {};
        target.remove_prefix(1);
        const Node* text = child(where.section->section, "text");
        if (!text) return {};
        // Depth-first over the narrative block for the element with that ID.
        const Node* c = text->first;
        while (c) {
            if (c->kind == Node::Kind::Element) {
                if (attr(c, "ID") == target) return textOf(c);
                if (c->first) {
                    c = c->first;
                    continue;
                }
            }
            while (c && !c->next && c != text) c = c->parent;
            if (!c || c == text) break;
            c = c->next;
        }
        return {};
    }

    // ---- medications, procedures, encounters -------------------------------------------------

    // A Medication Activity: moodCode INT (an order) as a MedicationRequest, EVN (a medication
    // taken) as a MedicationStatement; negated ("not taking"), a MedicationStatement not-taken.
    void readMedication(const Node* n, const Where& where) {
        countFact(n);
        const bool statement = negated(n) || attr(n, "moodCode") != "INT";
        Medication& m = rec_.medications.emplace_back();
        m.source = source(statement ? "MedicationStatement" : "MedicationRequest", n, where, tpl::kMedicationActivity);
        m.subject = subjectOf(where);
        if (negated(n))
            m.status = "not-taken";
        else
            m.status = statement ? statusOf(n, kStatementStatusCodes) : statusOf(n, kRequestStatusCodes);
        m.codes =
            codings(child(child(child(child(n, "consumable"), "manufacturedProduct"), "manufacturedMaterial"), "code"));
        if (statement) {
            m.effective = start(effectiveTime(n));
            m.dateAsserted = authored(n);
        } else {
            m.authoredOn = authored(n);
        }
    }

    void readProcedure(const Node* n, const Where& where, std::string_view templateRoot) {
        countFact(n);
        Procedure& p = rec_.procedures.emplace_back();
        p.source = source("Procedure", n, where, templateRoot);
        p.subject = subjectOf(where);
        p.status = negated(n) ? Text("not-done") : statusOf(n, kProcedureStatusCodes);
        p.codes = codings(child(n, "code"));
        p.performed = start(child(n, "effectiveTime"));
    }

    void readEncounter(const Node* n, const Where& where) {
        if (negated(n)) return;  // an encounter that did not happen
        countFact(n);
        Encounter& e = rec_.encounters.emplace_back();
        e.source = source("Encounter", n, where, tpl::kEncounterActivity);
        e.subject = subjectOf(where);
        e.types = codings(child(n, "code"));
        e.start = start(child(n, "effectiveTime"));
    }

    // ---- observations ------------------------------------------------------------------------

    // An observation; organizer: the organizer it is a component of (its time is the observation's
    // when the observation has none). Negated, it is not read: it says the finding is absent.
    void readObservation(const Node* n, const Where& where, std::string_view templateRoot, const Node* organizer) {
        if (negated(n)) return;
        countFact(n);
        Observation& o = rec_.observations.emplace_back();
        o.source = source("Observation", n, where, templateRoot);
        o.subject = subjectOf(where);
        o.status = statusOf(n, kObservationStatusCodes);
        o.codes = codings(child(n, "code"));
        o.effective = start(child(n, "effectiveTime"));
        if (!o.effective && organizer) o.effective = start(child(organizer, "effectiveTime"));
        o.issued = authored(n);
        readValue(n, o);
    }

    // A Result or Vital Signs Organizer (or an organizer of no known template at the top of a
    // section): each observation in it.
    void readOrganizer(const Node* organizer, const Where& where) {
        size_t component = 0;
        for (const Node* c = organizer->first; c; c = c->next) {
            if (!is(c, "component")) continue;
            ++component;
            const Node* statement = firstStatement(c);
            if (!statement) continue;
            const Step step{where.step, "component", component, statement->name};
            Where here{where.section, &step, where.relatedSubject || child(statement, "subject") != nullptr};
            const std::string_view mood = attr(statement, "moodCode");
            const Recognised t = statement->name == "observation" ? recognise(statement) : Recognised{};
            if (statement->name == "observation" && !missing(statement) && t.kind != Kind::Planned &&
                (mood.empty() || mood == "EVN")) {
                readObservation(statement, here, t.root, organizer);
                readNested(statement, here);
            } else {
                readStatement(statement, here, false);
            }
        }
    }
};

}  // namespace

namespace {

bool nameChar(char c) { return !xml::xmlSpace(c) && c != '>' && c != '/' && c != '=' && c != '[' && c != '<'; }

}  // namespace

bool isCcda(std::string_view d) {
    size_t i = 0;
    auto skipSpace = [&] {
        while (i < d.size() && xml::xmlSpace(d[i])) ++i;
    };
    auto skipPast = [&](std::string_view close) {
        const size_t at = d.find(close, i);
        i = at == std::string_view::npos ? d.size() : at + close.size();
    };
    auto name = [&] {
        const size_t from = i;
        while (i < d.size() && nameChar(d[i])) ++i;
        return d.substr(from, i - from);
    };
    auto local = [](std::string_view qname) {
        const size_t colon = qname.find(':');
        return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
    };
    for (;;) {
        skipSpace();
        if (d.substr(i, 2) == "<?") {
            skipPast("?>");
        } else if (d.substr(i, 4) == "<!--") {
            skipPast("-->");
        } else if (d.substr(i, 9) == "<!DOCTYPE") {  // refused by either reader; named by its root
            i += 9;
            skipSpace();
            return local(name()) == "ClinicalDocument";
        } else {
            break;
        }
    }
    if (d.substr(i, 1) != "<") return false;
    ++i;
    const std::string_view qname = name();
    const std::string_view prefix = qname.find(':') == std::string_view::npos ? "" : qname.substr(0, qname.find(':'));
    if (local(qname) == "ClinicalDocument") return true;
    if (!isCdaFragmentName(local(qname))) return false;
    // A fragment: C-CDA when its namespace is the CDA one, or none.
    const std::string wanted = prefix.empty() ? "xmlns" : "xmlns:" + std::string(prefix);
    for (;;) {
        skipSpace();
        if (i >= d.size() || d[i] == '>' || d[i] == '/') return prefix.empty();  // no declaration: no namespace
        const std::string_view attribute = name();
        skipSpace();
        if (d.substr(i, 1) != "=") return false;
        ++i;
        skipSpace();
        if (i >= d.size() || (d[i] != '"' && d[i] != '\'')) return false;
        const char quote = d[i++];
        const size_t close = d.find(quote, i);
        if (close == std::string_view::npos) return false;
        const std::string_view value = d.substr(i, close - i);
        i = close + 1;
        if (attribute == wanted) return value == kV3 || value.empty();
    }
}

RawRecord readCcda(std::string_view data, const ReadLimits& limits, const std::string& sourceName) {
    if (data.size() > limits.maxInputBytes)
        throw Error(PPMG_E_LIMIT,
                    "the input is " + std::to_string(data.size()) + " bytes, over the limit of " +
                        std::to_string(limits.maxInputBytes) + " bytes",
                    Location{sourceName, "", "", 0});
    const xml::Tree tree = xml::parseTree(data, limits, sourceName, kFormat, false);
    CcdaReader reader(limits, sourceName, tree);
    return reader.read();
}

}  // namespace ppmg::core

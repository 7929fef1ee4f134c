// FHIR R4 XML reader (libxml2). See read/record_reader.hpp for the contract; this file must give
// the same RawRecord as the JSON reader for the same record.
//
// Safety: the document is parsed by the hardened parse the XML readers share
// (read/xml_document.hpp: no DTD, no entities, no network, depth and string limits); the
// extraction then visits only the FHIR elements it needs.
#include <libxml/tree.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clinical_date.hpp"
#include "base/errors.hpp"
#include "read/patient_record.hpp"
#include "read/record_reader.hpp"
#include "read/xml_document.hpp"

namespace ppmg::core {
namespace {

constexpr std::string_view kFhirNs = "http://hl7.org/fhir";

using xml::isElement;
using xml::sv;

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
        const xmlNode* root = xml::checkedRoot(doc, limits_, file_, "FHIR XML");

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
            auto v = xml::parseDecimal(text);
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
    xml::DocPtr doc = xml::parseDocument(data, limits, sourceName, "FHIR XML");
    XmlReader reader(limits, sourceName);
    return reader.read(doc.get());
}

}  // namespace ppmg::core

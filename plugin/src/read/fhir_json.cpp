// FHIR R4 JSON reader (simdjson DOM). One pass over the record; each fact keeps its source.
#include <simdjson.h>

#include "errors.hpp"
#include "read/fhir_reader.hpp"

namespace ppmg {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

class JsonReader {
public:
    JsonReader(const ReadLimits& limits, const std::string& source) : limits_(limits), source_(source) {}

    RawRecord read(element root) {
        object top;
        if (root.get(top)) fail(PPMG_E_NOT_FHIR, "the JSON is not an object, so not a FHIR resource", "");
        std::string_view type = resourceType(top, "");
        if (type == "Bundle") {
            out_.bundleType = std::string(str(top, "type", "Bundle.type"));
            array entries;
            element e;
            if (!top["entry"].get(e)) {
                if (e.get(entries)) fail(PPMG_E_NOT_FHIR, "Bundle.entry is not an array", "Bundle.entry");
                size_t i = 0;
                for (element entry : entries) {
                    std::string path = "Bundle.entry[" + std::to_string(i++) + "]";
                    object eo;
                    if (entry.get(eo)) fail(PPMG_E_NOT_FHIR, "a bundle entry is not an object", path);
                    element res;
                    if (eo["resource"].get(res)) continue;  // e.g. a transaction-response entry
                    object ro;
                    if (res.get(ro)) fail(PPMG_E_NOT_FHIR, "entry.resource is not an object", path + ".resource");
                    readResource(ro, path + ".resource", str(eo, "fullUrl", path + ".fullUrl"));
                }
            }
        } else {
            readResource(top, std::string(type), "");
        }
        resolveMedications();
        if (out_.patients.empty()) {
            std::string what = type == "Bundle" ? "the Bundle" : "it is a single " + std::string(type);
            fail(PPMG_E_NO_PATIENT,
                 "the record holds no Patient resource (" + what + "); ppmg needs the patient's record", "");
        }
        return std::move(out_);
    }

private:
    [[noreturn]] void fail(ppmg_status s, const std::string& msg, const std::string& path,
                           const std::string& id = "") const {
        throw Error(s, msg, Location{source_, path, id, 0});
    }

    std::string_view resourceType(object o, const std::string& path) {
        element t;
        std::string_view v;
        if (o["resourceType"].get(t) || t.get(v))
            fail(PPMG_E_NOT_FHIR, "no resourceType: this JSON is not a FHIR resource", path);
        return v;
    }

    std::string_view str(object o, const char* key, const std::string& path) const {
        element e;
        if (o[key].get(e)) return {};
        std::string_view v;
        if (e.get(v)) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not a string", path);
        if (v.size() > limits_.maxStringBytes)
            fail(PPMG_E_LIMIT, std::string(key) + " is longer than the string limit", path);
        return v;
    }

    bool obj(object o, const char* key, object& out, const std::string& path) const {
        element e;
        if (o[key].get(e)) return false;
        if (e.get(out)) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not an object", path);
        return true;
    }

    bool arr(object o, const char* key, array& out, const std::string& path) const {
        element e;
        if (o[key].get(e)) return false;
        if (e.get(out)) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not an array", path);
        return true;
    }

    std::vector<Coding> codings(object cc, const std::string& path) const {
        std::vector<Coding> out;
        array list;
        if (!arr(cc, "coding", list, path + ".coding")) return out;
        for (element c : list) {
            object co;
            if (c.get(co)) fail(PPMG_E_NOT_FHIR, "a coding is not an object", path + ".coding");
            Coding k;
            k.system = std::string(str(co, "system", path + ".coding.system"));
            k.code = std::string(str(co, "code", path + ".coding.code"));
            k.display = std::string(str(co, "display", path + ".coding.display"));
            out.push_back(std::move(k));
        }
        return out;
    }

    std::vector<Coding> concept(object o, const char* key, const std::string& path) const {
        object cc;
        if (!obj(o, key, cc, path + "." + key)) return {};
        return codings(cc, path + "." + key);
    }

    std::string firstCode(object o, const char* key, const std::string& path) const {
        element e;
        if (o[key].get(e)) return {};
        std::string_view v;
        if (!e.get(v)) return std::string(v);  // R4 B: status as a plain code
        auto c = concept(o, key, path);
        return c.empty() ? std::string() : c.front().code;
    }

    std::optional<DateTime> dateField(object o, const char* key, const std::string& path) const {
        std::string_view v = str(o, key, path + "." + key);
        if (v.empty()) return std::nullopt;
        auto dt = parseFhirDateTime(v);
        if (!dt) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not a FHIR date: \"" + std::string(v) + "\"",
                      path + "." + key);
        return dt;
    }

    std::optional<DateTime> periodStart(object o, const char* key, const std::string& path) const {
        object p;
        if (!obj(o, key, p, path + "." + key)) return std::nullopt;
        return dateField(p, "start", path + "." + key);
    }

    std::string reference(object o, const char* key, const std::string& path) const {
        object r;
        if (!obj(o, key, r, path + "." + key)) return {};
        return std::string(str(r, "reference", path + "." + key + ".reference"));
    }

    Quantity quantity(object o, const std::string& path) const {
        Quantity q;
        object vq;
        if (!obj(o, "valueQuantity", vq, path + ".valueQuantity")) return q;
        element v;
        if (vq["value"].get(v)) return q;
        double d;
        if (v.get(d)) fail(PPMG_E_NOT_FHIR, "valueQuantity.value is not a number", path + ".valueQuantity.value");
        q.value = d;
        q.present = true;
        q.unit = std::string(str(vq, "code", path + ".valueQuantity.code"));
        if (q.unit.empty()) q.unit = std::string(str(vq, "unit", path + ".valueQuantity.unit"));
        return q;
    }

    Source source(std::string_view type, object r, const std::string& path, std::string_view fullUrl) const {
        Source s;
        s.resourceType = std::string(type);
        s.id = std::string(str(r, "id", path + ".id"));
        if (s.id.empty()) s.id = std::string(fullUrl);
        s.path = path;
        return s;
    }

    void readResource(object r, const std::string& path, std::string_view fullUrl) {
        if (++out_.resourceCount > limits_.maxResources)
            fail(PPMG_E_LIMIT, "the record holds more resources than the limit of " +
                                   std::to_string(limits_.maxResources), path);
        std::string_view type = resourceType(r, path);
        if (type == "Patient") readPatient(r, path, fullUrl);
        else if (type == "Observation") readObservation(r, path, fullUrl);
        else if (type == "Condition") readCondition(r, path, fullUrl);
        else if (type == "Procedure") readProcedure(r, path, fullUrl);
        else if (type == "MedicationRequest" || type == "MedicationStatement") readMedication(type, r, path, fullUrl);
        else if (type == "Medication") readMedicationDefinition(r, path, fullUrl);
        else if (type == "AllergyIntolerance") readAllergy(r, path, fullUrl);
        else if (type == "Encounter") readEncounter(r, path, fullUrl);
    }

    void readPatient(object r, const std::string& path, std::string_view fullUrl) {
        Patient p;
        p.source = source("Patient", r, path, fullUrl);
        p.fullUrl = std::string(fullUrl);
        p.gender = std::string(str(r, "gender", path + ".gender"));
        std::string_view bd = str(r, "birthDate", path + ".birthDate");
        if (!bd.empty()) {
            auto dt = parseFhirDateTime(bd);
            if (!dt) fail(PPMG_E_NOT_FHIR, "Patient.birthDate is not a FHIR date", path + ".birthDate", p.source.id);
            p.birthDate = dt->date;
        }
        array ids;
        if (arr(r, "identifier", ids, path + ".identifier")) {
            for (element e : ids) {
                object io;
                if (e.get(io)) fail(PPMG_E_NOT_FHIR, "an identifier is not an object", path + ".identifier");
                Identifier id{std::string(str(io, "system", path + ".identifier.system")),
                              std::string(str(io, "value", path + ".identifier.value"))};
                if (!id.value.empty()) p.identifiers.push_back(std::move(id));
            }
        }
        array names;
        if (arr(r, "name", names, path + ".name")) {
            // The first name marked official, else the first name.
            object chosen;
            bool have = false;
            for (element e : names) {
                object no;
                if (e.get(no)) fail(PPMG_E_NOT_FHIR, "a name is not an object", path + ".name");
                bool official = str(no, "use", path + ".name.use") == "official";
                if (!have || official) chosen = no;
                have = true;
                if (official) break;
            }
            if (have) {
                p.family = std::string(str(chosen, "family", path + ".name.family"));
                p.nameText = std::string(str(chosen, "text", path + ".name.text"));
                array given;
                if (arr(chosen, "given", given, path + ".name.given")) {
                    for (element g : given) {
                        std::string_view v;
                        if (g.get(v)) fail(PPMG_E_NOT_FHIR, "name.given is not a string", path + ".name.given");
                        p.given.emplace_back(v);
                    }
                }
            }
        }
        out_.patients.push_back(std::move(p));
    }

    void readObservation(object r, const std::string& path, std::string_view fullUrl) {
        Observation o;
        o.source = source("Observation", r, path, fullUrl);
        o.subject = reference(r, "subject", path);
        o.status = std::string(str(r, "status", path + ".status"));
        o.codes = concept(r, "code", path);
        o.effective = dateField(r, "effectiveDateTime", path);
        if (!o.effective) o.effective = periodStart(r, "effectivePeriod", path);
        if (!o.effective) o.effective = dateField(r, "effectiveInstant", path);
        if (!o.effective) o.effective = dateField(r, "issued", path);
        o.quantity = quantity(r, path);
        o.valueCodes = concept(r, "valueCodeableConcept", path);
        o.valueDateTime = dateField(r, "valueDateTime", path);
        o.valueText = std::string(str(r, "valueString", path + ".valueString"));
        array comps;
        if (arr(r, "component", comps, path + ".component")) {
            size_t i = 0;
            for (element c : comps) {
                std::string cp = path + ".component[" + std::to_string(i++) + "]";
                object co;
                if (c.get(co)) fail(PPMG_E_NOT_FHIR, "a component is not an object", cp, o.source.id);
                Observation::Component comp;
                comp.codes = concept(co, "code", cp);
                comp.quantity = quantity(co, cp);
                o.components.push_back(std::move(comp));
            }
        }
        out_.observations.push_back(std::move(o));
    }

    void readCondition(object r, const std::string& path, std::string_view fullUrl) {
        Condition c;
        c.source = source("Condition", r, path, fullUrl);
        c.subject = reference(r, "subject", path);
        c.clinicalStatus = firstCode(r, "clinicalStatus", path);
        c.verificationStatus = firstCode(r, "verificationStatus", path);
        c.codes = concept(r, "code", path);
        c.onset = dateField(r, "onsetDateTime", path);
        if (!c.onset) c.onset = periodStart(r, "onsetPeriod", path);
        c.recorded = dateField(r, "recordedDate", path);
        out_.conditions.push_back(std::move(c));
    }

    void readProcedure(object r, const std::string& path, std::string_view fullUrl) {
        Procedure p;
        p.source = source("Procedure", r, path, fullUrl);
        p.subject = reference(r, "subject", path);
        p.status = std::string(str(r, "status", path + ".status"));
        p.codes = concept(r, "code", path);
        p.performed = dateField(r, "performedDateTime", path);
        if (!p.performed) p.performed = periodStart(r, "performedPeriod", path);
        out_.procedures.push_back(std::move(p));
    }

    void readMedication(std::string_view type, object r, const std::string& path, std::string_view fullUrl) {
        Medication m;
        m.source = source(type, r, path, fullUrl);
        m.subject = reference(r, "subject", path);
        m.status = std::string(str(r, "status", path + ".status"));
        m.codes = concept(r, "medicationCodeableConcept", path);
        m.medicationReference = reference(r, "medicationReference", path);
        if (type == "MedicationRequest") {
            m.date = dateField(r, "authoredOn", path);
        } else {
            m.date = dateField(r, "effectiveDateTime", path);
            if (!m.date) m.date = periodStart(r, "effectivePeriod", path);
            if (!m.date) m.date = dateField(r, "dateAsserted", path);
        }
        array contained;
        if (arr(r, "contained", contained, path + ".contained")) {
            size_t i = 0;
            for (element c : contained) {
                std::string cp = path + ".contained[" + std::to_string(i++) + "]";
                object co;
                if (c.get(co)) fail(PPMG_E_NOT_FHIR, "a contained resource is not an object", cp);
                if (resourceType(co, cp) != "Medication") continue;
                MedicationDefinition def;
                def.id = std::string(str(co, "id", cp + ".id"));
                def.fullUrl = m.source.path + "#" + def.id;  // scoped to its container
                def.codes = concept(co, "code", cp);
                if (m.medicationReference == "#" + def.id && m.codes.empty()) m.codes = def.codes;
            }
        }
        out_.medications.push_back(std::move(m));
    }

    void readMedicationDefinition(object r, const std::string& path, std::string_view fullUrl) {
        MedicationDefinition d;
        d.id = std::string(str(r, "id", path + ".id"));
        d.fullUrl = std::string(fullUrl);
        d.codes = concept(r, "code", path);
        out_.medicationDefinitions.push_back(std::move(d));
    }

    void readAllergy(object r, const std::string& path, std::string_view fullUrl) {
        Allergy a;
        a.source = source("AllergyIntolerance", r, path, fullUrl);
        a.subject = reference(r, "patient", path);
        a.clinicalStatus = firstCode(r, "clinicalStatus", path);
        a.verificationStatus = firstCode(r, "verificationStatus", path);
        a.codes = concept(r, "code", path);
        a.recorded = dateField(r, "recordedDate", path);
        out_.allergies.push_back(std::move(a));
    }

    void readEncounter(object r, const std::string& path, std::string_view fullUrl) {
        Encounter e;
        e.source = source("Encounter", r, path, fullUrl);
        e.subject = reference(r, "subject", path);
        array types;
        if (arr(r, "type", types, path + ".type")) {
            for (element t : types) {
                object to;
                if (t.get(to)) fail(PPMG_E_NOT_FHIR, "Encounter.type is not a CodeableConcept", path + ".type");
                auto c = codings(to, path + ".type");
                e.types.insert(e.types.end(), c.begin(), c.end());
            }
        }
        e.start = periodStart(r, "period", path);
        out_.encounters.push_back(std::move(e));
    }

    void resolveMedications() {
        for (auto& m : out_.medications) {
            if (!m.codes.empty() || m.medicationReference.empty()) continue;
            for (const auto& d : out_.medicationDefinitions) {
                if (m.medicationReference == d.fullUrl || m.medicationReference == "Medication/" + d.id) {
                    m.codes = d.codes;
                    break;
                }
            }
        }
    }

    const ReadLimits& limits_;
    const std::string& source_;
    RawRecord out_;
};

}  // namespace

RawRecord readFhirJson(std::string_view data, const ReadLimits& limits, const std::string& sourceName) {
    // A parser per thread: simdjson parsers are not shareable, but reusable.
    thread_local simdjson::dom::parser parser;
    thread_local uint32_t parserDepth = 0;
    if (parserDepth != limits.maxDepth || parser.capacity() < data.size()) {
        if (parser.allocate(data.size() < 65536 ? 65536 : data.size(), limits.maxDepth))
            throw Error(PPMG_E_NO_MEMORY, "cannot allocate the JSON parser", Location{sourceName, "", "", 0});
        parserDepth = limits.maxDepth;
    }
    element root;
    auto err = parser.parse(data.data(), data.size()).get(root);
    if (err) {
        ppmg_status s = PPMG_E_PARSE;
        std::string what = simdjson::error_message(err);
        if (err == simdjson::DEPTH_ERROR) {
            s = PPMG_E_LIMIT;
            what = "the JSON nests deeper than the limit of " + std::to_string(limits.maxDepth);
        } else if (err == simdjson::UTF8_ERROR) {
            s = PPMG_E_ENCODING;
            what = "the JSON is not valid UTF-8";
        } else {
            what = "not well-formed JSON (" + what + ")";
        }
        throw Error(s, what, Location{sourceName, "", "", 0});
    }
    return JsonReader(limits, sourceName).read(root);
}

}  // namespace ppmg

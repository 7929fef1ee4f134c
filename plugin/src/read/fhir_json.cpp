// FHIR R4 JSON reader (simdjson DOM). One pass over the record, and one pass over each resource's
// members; each fact keeps its source. Error paths are built only when an error is raised.
#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/errors.hpp"
#include "read/record_reader.hpp"

namespace ppmg::core {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// A FHIR path, spelled out only when an error names it: parent + a + b + "[index]". Paths live on
// the stack for the duration of a call, so a temporary Path may be passed down but not kept.
class Path {
public:
    explicit Path(std::string_view root) : a_(root) {}
    Path(const Path& parent, std::string_view a, std::string_view b = {}) : parent_(&parent), a_(a), b_(b) {}
    Path(const Path& parent, std::string_view a, size_t index) : parent_(&parent), a_(a), index_(index) {}

    std::string str() const {
        std::string s;
        append(s);
        return s;
    }

private:
    void append(std::string& s) const {
        if (parent_ != nullptr) parent_->append(s);
        s.append(a_).append(b_);
        if (index_ != kNoIndex) s.append("[").append(std::to_string(index_)).append("]");
    }
    static constexpr size_t kNoIndex = static_cast<size_t>(-1);
    const Path* parent_ = nullptr;
    std::string_view a_, b_;
    size_t index_ = kNoIndex;
};

// The members of an object that a reader wants, found in one pass over the object. A wanted key
// that occurs twice is noted (repeated()): FHIR JSON forbids it, readers disagree on which copy
// wins, so the reader refuses the record (clinical rules 1.1, rule 21).
template <size_t N>
class Members {
public:
    Members(object o, const std::string_view (&keys)[N]) {
        for (const auto field : o) {
            for (size_t i = 0; i < N; ++i) {
                if (field.key != keys[i]) continue;
                if (found_[i]) repeated_ = keys[i];
                value_[i] = field.value;
                found_[i] = true;
                break;
            }
        }
    }
    // The member's value, or nullptr when the object does not have it.
    const element* operator[](size_t i) const { return found_[i] ? &value_[i] : nullptr; }
    // A wanted key that occurs more than once ("" when none does).
    std::string_view repeated() const { return repeated_; }

private:
    element value_[N];
    bool found_[N] = {};
    std::string_view repeated_;
};

// Where a resource sits, for its Source: a Bundle entry's index, or (a bare resource) its path.
struct SourceAt {
    std::string_view text;
    size_t entry;
};

class JsonReader {
public:
    JsonReader(const ReadLimits& limits, const std::string& source) : limits_(limits), source_(source) {}

    RawRecord read(element root) {
        object top;
        if (root.get(top)) fail(PPMG_E_NOT_FHIR, "the JSON is not an object, so not a FHIR resource", Path(""));
        std::string_view type = resourceType(top, Path(""));
        if (type == "Bundle") {
            element slot;
            out_.bundleType = keep(str(member(top, "type", slot, Path("Bundle")), "type", Path("Bundle.type")));
            array entries;
            element e;
            if (member(top, "entry", e, Path("Bundle")) != nullptr) {
                if (e.get(entries)) fail(PPMG_E_NOT_FHIR, "Bundle.entry is not an array", Path("Bundle.entry"));
                reserveFacts(entries);
                const Path bundleEntry("Bundle.entry");
                size_t i = 0;
                for (element entry : entries) {
                    const Path path(bundleEntry, "", i++);
                    object eo;
                    if (entry.get(eo)) fail(PPMG_E_NOT_FHIR, "a bundle entry is not an object", path);
                    element res;
                    if (member(eo, "resource", res, path) == nullptr) continue;  // e.g. a transaction-response entry
                    object ro;
                    if (res.get(ro)) fail(PPMG_E_NOT_FHIR, "entry.resource is not an object", Path(path, ".resource"));
                    std::string_view fullUrl =
                        str(member(eo, "fullUrl", slot, path), "fullUrl", Path(path, ".fullUrl"));
                    readResource(ro, Path(path, ".resource"), SourceAt{{}, i - 1}, fullUrl);
                }
            }
        } else {
            readResource(top, Path(type), SourceAt{type, Source::kNoEntry}, "");
        }
        if (out_.patients.empty()) {
            std::string what = type == "Bundle" ? "the Bundle" : "it is a single " + std::string(type);
            fail(PPMG_E_NO_PATIENT,
                 "the record holds no Patient resource (" + what + "); ppmg needs the patient's record", Path(""));
        }
        return std::move(out_);
    }

private:
    // Sizes each list of facts once, from a look at every entry's resourceType: growing them entry by
    // entry moved every fact several times and made the allocator consolidate on each regrowth.
    // Anything malformed is left for the reading pass to report.
    void reserveFacts(array entries) {
        size_t patients = 0, observations = 0, conditions = 0, procedures = 0, medications = 0, definitions = 0,
               allergies = 0, encounters = 0;
        for (element entry : entries) {
            element type;
            std::string_view t;
            if (entry["resource"]["resourceType"].get(type) || type.get(t)) continue;
            if (t == "Observation")
                ++observations;
            else if (t == "Condition")
                ++conditions;
            else if (t == "MedicationRequest" || t == "MedicationStatement")
                ++medications;
            else if (t == "Procedure")
                ++procedures;
            else if (t == "Encounter")
                ++encounters;
            else if (t == "AllergyIntolerance")
                ++allergies;
            else if (t == "Patient")
                ++patients;
            else if (t == "Medication")
                ++definitions;
        }
        // Never more than the resource limit lets the reading pass fill.
        auto cap = [&](size_t n) { return std::min<size_t>(n, limits_.maxResources); };
        out_.patients.reserve(cap(patients));
        out_.observations.reserve(cap(observations));
        out_.conditions.reserve(cap(conditions));
        out_.procedures.reserve(cap(procedures));
        out_.medications.reserve(cap(medications));
        out_.medicationDefinitions.reserve(cap(definitions));
        out_.allergies.reserve(cap(allergies));
        out_.encounters.reserve(cap(encounters));
    }

    [[noreturn]] void fail(ppmg_status s, const std::string& msg, const Path& path, std::string_view id = {}) const {
        throw Error(s, msg, Location{source_, path.str(), std::string(id), 0});
    }

    [[noreturn]] void repeated(std::string_view key, const Path& path) const {
        fail(PPMG_E_NOT_FHIR,
             "the member \"" + std::string(key.substr(0, 64)) +
                 "\" occurs twice in one object (FHIR JSON forbids repeated members; readers disagree on which "
                 "copy counts)",
             path);
    }

    // The wanted members of o, refusing a wanted key that occurs twice.
    template <size_t N>
    Members<N> members(object o, const std::string_view (&keys)[N], const Path& path) const {
        Members<N> m(o, keys);
        if (!m.repeated().empty()) repeated(m.repeated(), path);
        return m;
    }

    // o[key] into slot: &slot, or nullptr when the object does not have the key; refuses a
    // repeated key.
    const element* member(object o, std::string_view key, element& slot, const Path& path) const {
        bool found = false;
        for (const auto field : o) {
            if (field.key != key) continue;
            if (found) repeated(key, path);
            slot = field.value;
            found = true;
        }
        return found ? &slot : nullptr;
    }

    // The resourceType (the first copy: a resource ppmg reads names "resourceType" among its
    // wanted members, so a second copy is refused there).
    std::string_view resourceType(object o, const Path& path) const {
        element t;
        std::string_view v;
        if (o["resourceType"].get(t) || t.get(v))
            fail(PPMG_E_NOT_FHIR, "no resourceType: this JSON is not a FHIR resource", path);
        return v;
    }

    // ---- members by kind; e is nullptr when the member is absent -----------------------------

    std::string_view str(const element* e, const char* key, const Path& path) const {
        if (e == nullptr) return {};
        std::string_view v;
        if (e->get(v)) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not a string", path);
        if (v.size() > limits_.maxStringBytes)
            fail(PPMG_E_LIMIT, std::string(key) + " is longer than the string limit", path);
        return v;
    }
    std::string_view str(object o, const char* key, const Path& path) const {
        element slot;
        return str(member(o, key, slot, path), key, path);
    }

    bool obj(const element* e, const char* key, object& out, const Path& path) const {
        if (e == nullptr) return false;
        if (e->get(out)) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not an object", path);
        return true;
    }

    bool arr(const element* e, const char* key, array& out, const Path& path) const {
        if (e == nullptr) return false;
        if (e->get(out)) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not an array", path);
        return true;
    }

    // path: the CodeableConcept's own path.
    // The codings, gathered in a scratch list and then copied into the arena in one array (the
    // array's element count from simdjson saturates at 2^24 - 1, so it cannot size the array).
    Codings codings(object cc, const Path& path) const {
        array list;
        element slot;
        if (!arr(member(cc, "coding", slot, path), "coding", list, Path(path, ".coding"))) return {};
        codings_.clear();
        for (element c : list) {
            object co;
            if (c.get(co)) fail(PPMG_E_NOT_FHIR, "a coding is not an object", Path(path, ".coding"));
            const auto m = members(co, kCodingKeys, Path(path, ".coding"));
            Coding& k = codings_.emplace_back();
            k.system = keep(str(m[0], "system", Path(path, ".coding.system")));
            k.code = keep(str(m[1], "code", Path(path, ".coding.code")));
            k.display = keep(str(m[2], "display", Path(path, ".coding.display")));
        }
        return inArena(codings_);
    }

    Codings inArena(const std::vector<Coding>& list) const {
        if (list.empty()) return {};
        Coding* out = text_.make<Coding>(list.size());
        std::copy(list.begin(), list.end(), out);
        return Codings(out, list.size());
    }

    // path: the parent's path; the concept is at path.key.
    Codings concept(const element* e, const char* key, const Path& path) const {
        object cc;
        const Path at(path, ".", key);
        if (!obj(e, key, cc, at)) return {};
        return codings(cc, at);
    }

    // A status CodeableConcept's codings; a plain string (not R4) as one coding without a system.
    Codings statusCodings(const element* e, const char* key, const Path& path) const {
        if (e == nullptr) return {};
        std::string_view v;
        if (!e->get(v)) {
            if (v.size() > limits_.maxStringBytes)
                fail(PPMG_E_LIMIT, std::string(key) + " is longer than the string limit", Path(path, ".", key));
            Coding* one = text_.make<Coding>(1);
            one->code = keep(v);
            return Codings(one, 1);
        }
        return concept(e, key, path);
    }

    // A CodeableConcept's text ("" when absent).
    Text conceptText(const element* e, const char* key, const Path& path) const {
        object cc;
        const Path at(path, ".", key);
        if (!obj(e, key, cc, at)) return {};
        return keep(str(cc, "text", Path(at, ".text")));
    }

    // A Period's end, else its start.
    std::optional<DateTime> periodEndElseStart(const element* e, const char* key, const Path& path) const {
        object p;
        const Path at(path, ".", key);
        if (!obj(e, key, p, at)) return std::nullopt;
        static constexpr std::string_view kKeys[] = {"start", "end"};
        const auto m = members(p, kKeys, at);
        auto end = dateField(m[1], "end", at);
        return end ? end : dateField(m[0], "start", at);
    }

    std::optional<DateTime> dateField(const element* e, const char* key, const Path& path) const {
        const Path at(path, ".", key);
        std::string_view v = str(e, key, at);
        if (v.empty()) return std::nullopt;
        auto dt = parseFhirDateTime(keep(v));  // its text views the arena
        if (!dt) fail(PPMG_E_NOT_FHIR, std::string(key) + " is not a FHIR date: \"" + std::string(v) + "\"", at);
        return dt;
    }

    std::optional<DateTime> periodStart(const element* e, const char* key, const Path& path) const {
        object p;
        const Path at(path, ".", key);
        if (!obj(e, key, p, at)) return std::nullopt;
        element slot;
        return dateField(member(p, "start", slot, at), "start", at);
    }

    Text reference(const element* e, const char* key, const Path& path) const {
        object r;
        const Path at(path, ".", key);
        if (!obj(e, key, r, at)) return {};
        return keep(str(r, "reference", Path(at, ".reference")));
    }

    // e: the valueQuantity member of the object at path.
    Quantity quantity(const element* e, const Path& path) const {
        Quantity q;
        object vq;
        if (!obj(e, "valueQuantity", vq, Path(path, ".valueQuantity"))) return q;
        const auto m = members(vq, kQuantityKeys, Path(path, ".valueQuantity"));
        if (m[0] == nullptr) return q;
        double d;
        if (m[0]->get(d))
            fail(PPMG_E_NOT_FHIR, "valueQuantity.value is not a number", Path(path, ".valueQuantity.value"));
        q.value = d;
        q.present = true;
        q.unit = keep(str(m[1], "code", Path(path, ".valueQuantity.code")));
        if (q.unit.empty()) q.unit = keep(str(m[2], "unit", Path(path, ".valueQuantity.unit")));
        return q;
    }

    Source source(std::string_view type, const element* id, const Path& path, const SourceAt& pathText,
                  std::string_view fullUrl) const {
        Source s;
        s.resourceType = type;  // a literal
        s.id = keep(str(id, "id", Path(path, ".id")));
        if (s.id.empty()) s.id = keep(fullUrl);
        if (pathText.entry == Source::kNoEntry)
            s.path = keep(pathText.text);
        else
            s.entry = pathText.entry;  // the path is spelled out only when shown (Source::pathText)
        return s;
    }

    // ---- resources ---------------------------------------------------------------------------

    void readResource(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        if (++out_.resourceCount > limits_.maxResources)
            fail(PPMG_E_LIMIT,
                 "the record holds more resources than the limit of " + std::to_string(limits_.maxResources), path);
        std::string_view type = resourceType(r, path);
        if (type == "Patient")
            readPatient(r, path, pathText, fullUrl);
        else if (type == "Observation")
            readObservation(r, path, pathText, fullUrl);
        else if (type == "Condition")
            readCondition(r, path, pathText, fullUrl);
        else if (type == "Procedure")
            readProcedure(r, path, pathText, fullUrl);
        else if (type == "MedicationRequest" || type == "MedicationStatement")
            readMedication(type == "MedicationRequest" ? "MedicationRequest" : "MedicationStatement", r, path, pathText,
                           fullUrl);  // a literal: Source::resourceType outlives the document
        else if (type == "Medication")
            readMedicationDefinition(r, path, fullUrl);
        else if (type == "AllergyIntolerance")
            readAllergy(r, path, pathText, fullUrl);
        else if (type == "Encounter")
            readEncounter(r, path, pathText, fullUrl);
    }

    void readPatient(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        enum { kId, kGender, kBirthDate, kIdentifier, kName };
        static constexpr std::string_view kKeys[] = {"id", "gender", "birthDate", "identifier", "name", "resourceType"};
        const auto m = members(r, kKeys, path);
        Patient& p = out_.patients.emplace_back();  // filled in place
        p.source = source("Patient", m[kId], path, pathText, fullUrl);
        p.fullUrl = keep(fullUrl);
        p.gender = keep(str(m[kGender], "gender", Path(path, ".gender")));
        std::string_view bd = str(m[kBirthDate], "birthDate", Path(path, ".birthDate"));
        if (!bd.empty()) {
            auto dt = parseFhirDateTime(bd);
            if (!dt)
                fail(PPMG_E_NOT_FHIR, "Patient.birthDate is not a FHIR date", Path(path, ".birthDate"), p.source.id);
            p.birthDate = dt->date;
        }
        array ids;
        if (arr(m[kIdentifier], "identifier", ids, Path(path, ".identifier"))) {
            for (element e : ids) {
                object io;
                if (e.get(io)) fail(PPMG_E_NOT_FHIR, "an identifier is not an object", Path(path, ".identifier"));
                Identifier id{keep(str(io, "system", Path(path, ".identifier.system"))),
                              keep(str(io, "value", Path(path, ".identifier.value"))),
                              {}};
                element type;
                const bool typed = io["type"].get(type) == simdjson::SUCCESS;
                for (const Coding& c : concept(typed ? &type : nullptr, "type", Path(path, ".identifier")))
                    if (c.system == kIdentifierTypeSystem && id.type.empty()) id.type = c.code;
                if (!id.value.empty()) p.identifiers.push_back(std::move(id));
            }
        }
        array names;
        if (arr(m[kName], "name", names, Path(path, ".name"))) {
            // The first name marked official, else the first name.
            object chosen;
            bool have = false;
            for (element e : names) {
                object no;
                if (e.get(no)) fail(PPMG_E_NOT_FHIR, "a name is not an object", Path(path, ".name"));
                bool official = str(no, "use", Path(path, ".name.use")) == "official";
                if (!have || official) chosen = no;
                have = true;
                if (official) break;
            }
            if (have) {
                p.family = keep(str(chosen, "family", Path(path, ".name.family")));
                p.nameText = keep(str(chosen, "text", Path(path, ".name.text")));
                array given;
                element slot;
                if (arr(member(chosen, "given", slot, Path(path, ".name")), "given", given,
                        Path(path, ".name.given"))) {
                    for (element g : given) {
                        std::string_view v;
                        if (g.get(v)) fail(PPMG_E_NOT_FHIR, "name.given is not a string", Path(path, ".name.given"));
                        p.given.push_back(keep(v));
                    }
                }
            }
        }
    }

    void readObservation(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        enum {
            kId,
            kSubject,
            kStatus,
            kCode,
            kEffectiveDateTime,
            kEffectivePeriod,
            kEffectiveInstant,
            kIssued,
            kValueQuantity,
            kValueCodeableConcept,
            kValueDateTime,
            kValueString,
            kComponent
        };
        static constexpr std::string_view kKeys[] = {"id",
                                                     "subject",
                                                     "status",
                                                     "code",
                                                     "effectiveDateTime",
                                                     "effectivePeriod",
                                                     "effectiveInstant",
                                                     "issued",
                                                     "valueQuantity",
                                                     "valueCodeableConcept",
                                                     "valueDateTime",
                                                     "valueString",
                                                     "component",
                                                     "resourceType"};
        const auto m = members(r, kKeys, path);
        Observation& o = out_.observations.emplace_back();  // filled in place
        o.source = source("Observation", m[kId], path, pathText, fullUrl);
        o.subject = reference(m[kSubject], "subject", path);
        o.status = keep(str(m[kStatus], "status", Path(path, ".status")));
        o.codes = concept(m[kCode], "code", path);
        o.effective = dateField(m[kEffectiveDateTime], "effectiveDateTime", path);
        if (!o.effective) o.effective = periodStart(m[kEffectivePeriod], "effectivePeriod", path);
        if (!o.effective) o.effective = dateField(m[kEffectiveInstant], "effectiveInstant", path);
        o.issued = dateField(m[kIssued], "issued", path);
        o.quantity = quantity(m[kValueQuantity], path);
        o.valueCodes = concept(m[kValueCodeableConcept], "valueCodeableConcept", path);
        o.valueDateTime = dateField(m[kValueDateTime], "valueDateTime", path);
        o.valueText = keep(str(m[kValueString], "valueString", Path(path, ".valueString")));
        array comps;
        if (arr(m[kComponent], "component", comps, Path(path, ".component"))) {
            size_t i = 0;
            for (element c : comps) {
                const Path cp(path, ".component", i++);
                object co;
                if (c.get(co)) fail(PPMG_E_NOT_FHIR, "a component is not an object", cp, o.source.id);
                static constexpr std::string_view kComponentKeys[] = {"code", "valueQuantity"};
                const auto cm = members(co, kComponentKeys, cp);
                Observation::Component& comp = o.components.emplace_back();
                comp.codes = concept(cm[0], "code", cp);
                comp.quantity = quantity(cm[1], cp);
            }
        }
    }

    void readCondition(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        enum {
            kId,
            kSubject,
            kClinicalStatus,
            kVerificationStatus,
            kCode,
            kOnsetDateTime,
            kOnsetPeriod,
            kRecorded,
            kAbatementDateTime,
            kAbatementPeriod
        };
        static constexpr std::string_view kKeys[] = {
            "id",          "subject",      "clinicalStatus",    "verificationStatus", "code",        "onsetDateTime",
            "onsetPeriod", "recordedDate", "abatementDateTime", "abatementPeriod",    "resourceType"};
        const auto m = members(r, kKeys, path);
        Condition& c = out_.conditions.emplace_back();  // filled in place
        c.source = source("Condition", m[kId], path, pathText, fullUrl);
        c.subject = reference(m[kSubject], "subject", path);
        c.clinicalStatusCodings = statusCodings(m[kClinicalStatus], "clinicalStatus", path);
        c.verificationStatusCodings = statusCodings(m[kVerificationStatus], "verificationStatus", path);
        c.codes = concept(m[kCode], "code", path);
        c.codeText = conceptText(m[kCode], "code", path);
        c.onset = dateField(m[kOnsetDateTime], "onsetDateTime", path);
        if (!c.onset) c.onset = periodStart(m[kOnsetPeriod], "onsetPeriod", path);
        c.recorded = dateField(m[kRecorded], "recordedDate", path);
        c.abatement = dateField(m[kAbatementDateTime], "abatementDateTime", path);
        if (!c.abatement) c.abatement = periodEndElseStart(m[kAbatementPeriod], "abatementPeriod", path);
    }

    void readProcedure(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        enum { kId, kSubject, kStatus, kCode, kPerformedDateTime, kPerformedPeriod };
        static constexpr std::string_view kKeys[] = {
            "id", "subject", "status", "code", "performedDateTime", "performedPeriod", "resourceType"};
        const auto m = members(r, kKeys, path);
        Procedure& p = out_.procedures.emplace_back();  // filled in place
        p.source = source("Procedure", m[kId], path, pathText, fullUrl);
        p.subject = reference(m[kSubject], "subject", path);
        p.status = keep(str(m[kStatus], "status", Path(path, ".status")));
        p.codes = concept(m[kCode], "code", path);
        p.performed = dateField(m[kPerformedDateTime], "performedDateTime", path);
        if (!p.performed) p.performed = periodStart(m[kPerformedPeriod], "performedPeriod", path);
    }

    void readMedication(std::string_view type, object r, const Path& path, const SourceAt& pathText,
                        std::string_view fullUrl) {
        enum {
            kId,
            kSubject,
            kStatus,
            kMedicationCodeableConcept,
            kMedicationReference,
            kAuthoredOn,
            kEffectiveDateTime,
            kEffectivePeriod,
            kDateAsserted,
            kContained
        };
        static constexpr std::string_view kKeys[] = {"id",
                                                     "subject",
                                                     "status",
                                                     "medicationCodeableConcept",
                                                     "medicationReference",
                                                     "authoredOn",
                                                     "effectiveDateTime",
                                                     "effectivePeriod",
                                                     "dateAsserted",
                                                     "contained",
                                                     "resourceType"};
        const auto m = members(r, kKeys, path);
        Medication& med = out_.medications.emplace_back();  // filled in place
        med.source = source(type, m[kId], path, pathText, fullUrl);
        med.subject = reference(m[kSubject], "subject", path);
        med.status = keep(str(m[kStatus], "status", Path(path, ".status")));
        med.codes = concept(m[kMedicationCodeableConcept], "medicationCodeableConcept", path);
        med.medicationReference = reference(m[kMedicationReference], "medicationReference", path);
        med.authoredOn = dateField(m[kAuthoredOn], "authoredOn", path);
        med.effective = dateField(m[kEffectiveDateTime], "effectiveDateTime", path);
        if (!med.effective) med.effective = periodStart(m[kEffectivePeriod], "effectivePeriod", path);
        med.dateAsserted = dateField(m[kDateAsserted], "dateAsserted", path);
        const size_t index = out_.medications.size() - 1;
        array contained;
        if (arr(m[kContained], "contained", contained, Path(path, ".contained"))) {
            size_t i = 0;
            for (element c : contained) {
                const Path cp(path, ".contained", i++);
                object co;
                if (c.get(co)) fail(PPMG_E_NOT_FHIR, "a contained resource is not an object", cp);
                if (resourceType(co, cp) != "Medication") continue;
                readMedicationDefinition(co, cp, {}, index);
            }
        }
    }

    // containedIn: the index of the medication fact that contains it, or kNotContained.
    void readMedicationDefinition(object r, const Path& path, std::string_view fullUrl,
                                  size_t containedIn = MedicationDefinition::kNotContained) {
        static constexpr std::string_view kKeys[] = {"id", "code", "resourceType"};
        const auto m = members(r, kKeys, path);
        MedicationDefinition& d = out_.medicationDefinitions.emplace_back();  // filled in place
        d.id = keep(str(m[0], "id", Path(path, ".id")));
        d.fullUrl = keep(fullUrl);
        d.codes = concept(m[1], "code", path);
        d.containedIn = containedIn;
    }

    void readAllergy(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        enum { kId, kPatient, kClinicalStatus, kVerificationStatus, kCode, kOnsetDateTime, kOnsetPeriod, kRecorded };
        static constexpr std::string_view kKeys[] = {
            "id",          "patient",      "clinicalStatus", "verificationStatus", "code", "onsetDateTime",
            "onsetPeriod", "recordedDate", "resourceType"};
        const auto m = members(r, kKeys, path);
        Allergy& a = out_.allergies.emplace_back();  // filled in place
        a.source = source("AllergyIntolerance", m[kId], path, pathText, fullUrl);
        a.subject = reference(m[kPatient], "patient", path);
        a.clinicalStatusCodings = statusCodings(m[kClinicalStatus], "clinicalStatus", path);
        a.verificationStatusCodings = statusCodings(m[kVerificationStatus], "verificationStatus", path);
        a.codes = concept(m[kCode], "code", path);
        a.onset = dateField(m[kOnsetDateTime], "onsetDateTime", path);
        if (!a.onset) a.onset = periodStart(m[kOnsetPeriod], "onsetPeriod", path);
        a.recorded = dateField(m[kRecorded], "recordedDate", path);
    }

    void readEncounter(object r, const Path& path, const SourceAt& pathText, std::string_view fullUrl) {
        enum { kId, kSubject, kType, kPeriod };
        static constexpr std::string_view kKeys[] = {"id", "subject", "type", "period", "resourceType"};
        const auto m = members(r, kKeys, path);
        Encounter& e = out_.encounters.emplace_back();  // filled in place
        e.source = source("Encounter", m[kId], path, pathText, fullUrl);
        e.subject = reference(m[kSubject], "subject", path);
        array types;
        if (arr(m[kType], "type", types, Path(path, ".type"))) {
            std::vector<Coding> all;  // every type's codings, then one array in the arena
            for (element t : types) {
                object to;
                if (t.get(to)) fail(PPMG_E_NOT_FHIR, "Encounter.type is not a CodeableConcept", Path(path, ".type"));
                const Codings c = codings(to, Path(path, ".type"));
                all.insert(all.end(), c.begin(), c.end());
            }
            e.types = inArena(all);
        }
        e.start = periodStart(m[kPeriod], "period", path);
    }

    static constexpr std::string_view kCodingKeys[] = {"system", "code", "display"};
    static constexpr std::string_view kQuantityKeys[] = {"value", "code", "unit"};

    Text keep(std::string_view v) const { return text_.keep(v); }

    const ReadLimits& limits_;
    const std::string& source_;
    RawRecord out_;
    TextArena& text_ = *out_.text;
    mutable std::vector<Coding> codings_;  // scratch for one CodeableConcept's codings
};

// Every string in the document, keys included, against the string limit: one walk of the DOM
// (about a microsecond for a 23 KB record), so a long string is refused wherever it is, not only
// where the reader looks. Iterative, so a deep document cannot exhaust the stack.
void checkStringLimit(element root, const ReadLimits& limits, const std::string& source) {
    const size_t max = limits.maxStringBytes;
    auto tooLong = [&](size_t n, std::string_view key) {
        throw Error(PPMG_E_LIMIT,
                    "a JSON string of " + std::to_string(n) + " bytes" +
                        (key.empty() ? std::string() : " (under \"" + std::string(key.substr(0, 64)) + "\")") +
                        " is over the string limit of " + std::to_string(max) + " bytes",
                    Location{source, "", "", 0});
    };
    struct Frame {
        bool isObject;
        array::iterator a, aEnd;
        object::iterator o, oEnd;
    };
    std::vector<Frame> stack;
    auto visit = [&](element e, std::string_view key) {
        switch (e.type()) {
            case element_type::STRING:
                if (e.get_string_length().value_unsafe() > max) tooLong(e.get_string_length().value_unsafe(), key);
                break;
            case element_type::ARRAY: {
                array a = e.get_array().value_unsafe();
                stack.push_back(Frame{false, a.begin(), a.end(), {}, {}});
                break;
            }
            case element_type::OBJECT: {
                object o = e.get_object().value_unsafe();
                stack.push_back(Frame{true, {}, {}, o.begin(), o.end()});
                break;
            }
            default: break;
        }
    };
    visit(root, {});
    while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.isObject) {
            if (!(f.o != f.oEnd)) {
                stack.pop_back();
                continue;
            }
            auto it = f.o;
            ++f.o;
            if (it.key_length() > max) tooLong(it.key_length(), "");
            visit(it.value(), it.key());  // may grow the stack: f is not used after this
        } else {
            if (!(f.a != f.aEnd)) {
                stack.pop_back();
                continue;
            }
            element e = *f.a;
            ++f.a;
            visit(e, {});
        }
    }
}

}  // namespace

size_t jsonSyntaxErrorAt(std::string_view s, std::string& what);  // read/json_syntax.cpp
std::string widenBigIntegers(std::string_view s);                 // read/json_syntax.cpp

RawRecord readFhirJson(std::string_view data, const ReadLimits& limits, const std::string& sourceName) {
    // A parser per thread: simdjson parsers are not shareable, but reusable. A parser costs about
    // 13 bytes per input byte, so a large input gets a parser of its own, freed on return, rather
    // than leaving hundreds of megabytes behind in every worker thread of the host.
    constexpr size_t kKeptParserBytes = 4u << 20;
    thread_local simdjson::dom::parser threadParser;
    thread_local uint32_t parserDepth = 0;
    std::unique_ptr<simdjson::dom::parser> ownParser;
    simdjson::dom::parser* chosen = &threadParser;
    if (data.size() > kKeptParserBytes) {
        ownParser = std::make_unique<simdjson::dom::parser>();
        chosen = ownParser.get();
        if (chosen->allocate(data.size(), limits.maxDepth))
            throw Error(PPMG_E_NO_MEMORY, "cannot allocate the JSON parser", Location{sourceName, "", "", 0});
    } else if (parserDepth != limits.maxDepth || threadParser.capacity() < data.size()) {
        if (threadParser.allocate(data.size() < 65536 ? 65536 : data.size(), limits.maxDepth)) {
            // A failed allocate leaves the parser half-sized (its capacity set, its depth stacks
            // gone): the next call on this thread, on any engine, must not parse with it.
            threadParser = simdjson::dom::parser{};
            parserDepth = 0;
            throw Error(PPMG_E_NO_MEMORY, "cannot allocate the JSON parser", Location{sourceName, "", "", 0});
        }
        parserDepth = limits.maxDepth;
    }
    simdjson::dom::parser& parser = *chosen;
    element root;
    auto err = parser.parse(data.data(), data.size()).get(root);
    std::string widened;  // must outlive root when used
    if (err == simdjson::NUMBER_ERROR) {
        // simdjson 3.0 refuses integers past 2^64, which are valid JSON; read them as doubles
        // (as JavaScript would) by giving each a fraction, and parse again.
        widened = widenBigIntegers(data);
        if (widened.size() != data.size()) err = parser.parse(widened.data(), widened.size()).get(root);
    }
    if (err) {
        ppmg_status s = PPMG_E_PARSE;
        std::string what = simdjson::error_message(err);
        if (err == simdjson::DEPTH_ERROR) {
            s = PPMG_E_LIMIT;
            what = "the JSON nests deeper than the limit of " + std::to_string(limits.maxDepth);
            throw Error(s, what, Location{sourceName, "", "", 0});
        } else if (err == simdjson::UTF8_ERROR) {
            s = PPMG_E_ENCODING;
            what = "the JSON is not valid UTF-8";
            throw Error(s, what, Location{sourceName, "", "", 0});
        }
        // Where, found by a plain scan: simdjson does not say.
        std::string why;
        const size_t at = jsonSyntaxErrorAt(data, why);
        if (at == std::string_view::npos)
            throw Error(s, "not well-formed JSON (" + what + ")", Location{sourceName, "", "", 0});
        const size_t lineStart = at == 0 ? std::string_view::npos : data.rfind('\n', at - 1);
        const long line = 1 + static_cast<long>(std::count(data.begin(), data.begin() + static_cast<long>(at), '\n'));
        const size_t column = at - (lineStart == std::string_view::npos ? 0 : lineStart + 1) + 1;
        throw Error(s,
                    "not well-formed JSON: " + why + " (line " + std::to_string(line) + ", column " +
                        std::to_string(column) + ")",
                    Location{sourceName, "", "", line});
    }
    // No string decodes longer than the input that holds it, so a small input needs no walk.
    if (data.size() > limits.maxStringBytes) checkStringLimit(root, limits, sourceName);
    return JsonReader(limits, sourceName).read(root);
}

}  // namespace ppmg::core

// The one mapping (read/record_mapping.hpp): what every format's facts mean, decided once.
#include "read/record_mapping.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/errors.hpp"
#include "content/content.hpp"

namespace ppmg::core {

// ---- References --------------------------------------------------------------------------------

namespace {

constexpr std::string_view kHistory = "/_history/";

// A FHIR resource type: a capital letter, then letters.
bool isResourceType(std::string_view s) {
    if (s.empty() || s[0] < 'A' || s[0] > 'Z') return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
    return true;
}

// "...Type/id" (after any _history part is cut): its type and id, or false.
bool typeAndId(std::string_view s, Text& type, Text& id) {
    const size_t slash = s.rfind('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) return false;
    const std::string_view head = s.substr(0, slash);
    const size_t before = head.rfind('/');
    const std::string_view t = before == std::string_view::npos ? head : head.substr(before + 1);
    if (!isResourceType(t)) return false;
    type = t;
    id = s.substr(slash + 1);
    return true;
}

}  // namespace

ResourceReference readReference(Text written) {
    ResourceReference r;
    std::string_view s = written;
    if (s.empty()) return r;
    if (s[0] == '#') {
        r.kind = ResourceReference::Kind::Contained;
        r.id = s.substr(1);
        if (r.id.empty()) r.kind = ResourceReference::Kind::Other;
        return r;
    }
    if (s.substr(0, 4) == "urn:") {
        r.kind = ResourceReference::Kind::Urn;
        r.url = s;
        const size_t colon = s.rfind(':');
        r.id = s.substr(colon + 1);
        return r;
    }
    std::string_view unversioned = s;
    if (const size_t h = s.find(kHistory); h != std::string_view::npos) {
        r.version = s.substr(h + kHistory.size());
        unversioned = s.substr(0, h);
    }
    const bool absolute = unversioned.find("://") != std::string_view::npos;
    const bool oneSlash = unversioned.find('/') == unversioned.rfind('/');
    if ((absolute || oneSlash) && typeAndId(unversioned, r.type, r.id)) {
        r.kind = absolute ? ResourceReference::Kind::Absolute : ResourceReference::Kind::Relative;
        if (absolute) r.url = unversioned;
        return r;
    }
    if (!absolute && unversioned.find('/') == std::string_view::npos && r.version.empty()) {
        r.kind = ResourceReference::Kind::Bare;
        r.id = unversioned;
        return r;
    }
    r.kind = ResourceReference::Kind::Other;
    r.url = unversioned;
    return r;
}

// ---- Statuses ----------------------------------------------------------------------------------

namespace {

// A status code system's codes, each with whether a datum counts under it (a Condition or an
// allergy counts while active and not refuted: clinical-rules.md, "Data semantics").
struct StatusCode {
    std::string_view code;
    bool counts;
};

constexpr StatusCode kConditionClinicalCodes[] = {{"active", true},    {"recurrence", true}, {"relapse", true},
                                                  {"inactive", false}, {"remission", false}, {"resolved", false}};
constexpr StatusCode kConditionVerificationCodes[] = {{"unconfirmed", true},  {"provisional", true},
                                                      {"differential", true}, {"confirmed", true},
                                                      {"refuted", false},     {"entered-in-error", false}};
constexpr StatusCode kAllergyClinicalCodes[] = {{"active", true}, {"inactive", false}, {"resolved", false}};
constexpr StatusCode kAllergyVerificationCodes[] = {
    {"unconfirmed", true}, {"confirmed", true}, {"refuted", false}, {"entered-in-error", false}};

template <size_t N>
StatusReading readStatus(const Codings& codings, std::string_view system, const StatusCode (&codes)[N]) {
    StatusReading out;
    if (codings.empty()) return out;
    out.shown = codings.front().code;
    const StatusCode* chosen = nullptr;
    bool sawSystem = false, unknown = false;
    for (const Coding& c : codings) {
        if (std::string_view(c.system) != system) continue;
        sawSystem = true;
        const StatusCode* known = nullptr;
        for (const StatusCode& k : codes)
            if (k.code == std::string_view(c.code)) known = &k;
        if (!known) {
            unknown = true;
            out.shown = c.code;
            continue;
        }
        if (!chosen || (known->counts && !chosen->counts)) chosen = known;  // the worse one
    }
    if (!sawSystem || unknown || !chosen) {
        out.state = StatusReading::State::Unreadable;
        return out;
    }
    out.state = StatusReading::State::Read;
    out.code = chosen->code;  // a literal
    out.shown = out.code;
    return out;
}

}  // namespace

// ---- Patients ----------------------------------------------------------------------------------

namespace {

std::string describe(const Patient& p) {
    std::string s(p.source.id.empty() ? Text("(no id)") : p.source.id);
    std::string name(p.family);
    for (auto it = p.given.rbegin(); it != p.given.rend(); ++it) name = std::string(*it) + " " + name;
    if (!name.empty()) s += " (" + name + (p.birthDate ? ", born " + formatIsoDate(*p.birthDate) : "") + ")";
    return s;
}

// The record's patients, repeated copies of one (same id, or same fullUrl) taken as one, and the
// patient a reference names. With several Patients, through indexes (trying every patient for
// every fact is quadratic: minutes for a record with ten thousand of each); with one (the usual
// record), by comparing with it.
class Patients {
public:
    static constexpr size_t kNone = static_cast<size_t>(-1);

    explicit Patients(const std::vector<Patient>& all) : all_(all) {
        group_.resize(all.size());
        if (all.size() == 1) {
            distinct_.push_back(0);
            return;
        }
        for (size_t i = 0; i < all.size(); ++i) {
            const Patient& p = all[i];
            size_t g = distinct_.size();
            if (!p.source.id.empty())
                if (auto it = byId_.find(p.source.id); it != byId_.end()) g = group_[it->second];
            if (g == distinct_.size() && !p.fullUrl.empty())
                if (auto it = byUrl_.find(p.fullUrl); it != byUrl_.end()) g = group_[it->second];
            if (g == distinct_.size()) distinct_.push_back(i);
            group_[i] = g;
            if (!p.source.id.empty()) byId_.emplace(p.source.id, i);
            if (!p.fullUrl.empty()) byUrl_.emplace(p.fullUrl, i);
        }
    }

    size_t count() const { return distinct_.size(); }
    const Patient& first(size_t group) const { return all_[distinct_[group]]; }
    size_t groupOf(size_t index) const { return group_[index]; }

    // The patient (group) a reference names, or kNone.
    size_t named(const ResourceReference& r) const {
        using K = ResourceReference::Kind;
        switch (r.kind) {
            case K::Relative: return std::string_view(r.type) == "Patient" ? byId(r.id) : kNone;
            case K::Absolute:
                if (std::string_view(r.type) != "Patient") return kNone;
                if (size_t g = byUrl(r.url); g != kNone) return g;
                return byId(r.id);  // the same resource, at another base URL
            case K::Urn:
                if (size_t g = byUrl(r.url); g != kNone) return g;
                return byId(r.id);
            case K::Bare: return byId(r.id);
            default: return kNone;
        }
    }

private:
    size_t byId(std::string_view id) const {
        if (id.empty()) return kNone;
        if (all_.size() == 1) return std::string_view(all_[0].source.id) == id ? 0 : kNone;
        auto it = byId_.find(id);
        return it == byId_.end() ? kNone : group_[it->second];
    }
    size_t byUrl(std::string_view url) const {
        if (url.empty()) return kNone;
        if (all_.size() == 1) return std::string_view(all_[0].fullUrl) == url ? 0 : kNone;
        auto it = byUrl_.find(url);
        return it == byUrl_.end() ? kNone : group_[it->second];
    }

    const std::vector<Patient>& all_;
    std::vector<size_t> group_;                                  // by index in all_: its distinct patient
    std::vector<size_t> distinct_;                               // by group: the index of its first copy
    std::unordered_map<std::string_view, size_t> byId_, byUrl_;  // first copy's index (several Patients)
};

// The subject of the delivery: the patients the delivery records name, when exactly one.
size_t deliverySubject(const RawRecord& raw, const Patients& patients, const Content& content) {
    const auto& vsets = content.valueSets;
    const DeliveryConfig& dc = content.delivery;
    std::vector<const ValueSet*> delivery = {&vsets.at(dc.caesareanValueSet), &vsets.at(dc.vaginalValueSet)};
    if (!dc.unspecifiedValueSet.empty()) delivery.push_back(&vsets.at(dc.unspecifiedValueSet));
    const ValueSet& dateObservation = vsets.at(dc.dateObservationValueSet);
    size_t found = Patients::kNone;
    bool several = false;
    std::unordered_set<std::string_view> seen;
    auto note = [&](Text subject) {
        if (several || !seen.insert(subject).second) return;
        const size_t g = patients.named(readReference(subject));
        if (g == Patients::kNone) return;
        if (found != Patients::kNone && found != g) several = true;
        found = g;
    };
    auto isDelivery = [&](const Codings& codes) {
        return std::any_of(delivery.begin(), delivery.end(),
                           [&](const ValueSet* vs) { return inValueSet(*vs, codes); });
    };
    for (const auto& p : raw.procedures)
        if (isDelivery(p.codes)) note(p.subject);
    for (const auto& c : raw.conditions)
        if (isDelivery(c.codes)) note(c.subject);
    for (const auto& o : raw.observations)
        if (inValueSet(dateObservation, o.codes) || isDelivery(o.codes) || isDelivery(o.valueCodes)) note(o.subject);
    return several ? Patients::kNone : found;
}

size_t choosePatient(const RawRecord& raw, const Patients& patients, const std::string& requestedId,
                     const Content& content, const std::string& sourceName) {
    auto candidates = [&] {
        constexpr size_t kNamed = 20;  // one readable line, even for a record with thousands
        std::string s;
        for (size_t g = 0; g < patients.count() && g < kNamed; ++g)
            s += (s.empty() ? "" : ", ") + describe(patients.first(g));
        if (patients.count() > kNamed) s += ", and " + std::to_string(patients.count() - kNamed) + " more";
        return s;
    };
    if (!requestedId.empty()) {
        for (size_t g = 0; g < patients.count(); ++g)
            if (std::string_view(patients.first(g).source.id) == requestedId) return g;
        throw Error(PPMG_E_AMBIGUOUS_PATIENT,
                    "no Patient with id \"" + requestedId + "\" in the record; it holds " + candidates(),
                    Location{sourceName, "", "", 0});
    }
    if (patients.count() == 1) return 0;
    const size_t g = deliverySubject(raw, patients, content);
    if (g != Patients::kNone) return g;
    throw Error(PPMG_E_AMBIGUOUS_PATIENT,
                "the record holds " + std::to_string(patients.count()) +
                    " patients and no single delivery subject; name the patient to assess: " + candidates(),
                Location{sourceName, "", "", 0});
}

// The patient a subject names, remembered for the last subject read: a record's facts mostly
// repeat one subject, so most facts cost one comparison.
class SubjectReader {
public:
    explicit SubjectReader(const Patients& patients) : patients_(patients) {}
    size_t named(Text subject) {
        if (!read_ || std::string_view(subject) != std::string_view(last_)) {
            last_ = subject;
            group_ = patients_.named(readReference(subject));
            read_ = true;
        }
        return group_;
    }

private:
    const Patients& patients_;
    Text last_;
    size_t group_ = Patients::kNone;
    bool read_ = false;
};

// Keeps the facts whose subject is the chosen patient or names no patient of the record (those
// marked Whose::Unknown); drops the facts of other patients.
template <class Fact>
void keepFor(std::vector<Fact>& out, std::vector<Fact>&& in, SubjectReader& subjects, size_t chosen) {
    size_t kept = 0;
    for (Fact& f : in) {
        const size_t g = f.subject.empty() ? Patients::kNone : subjects.named(f.subject);
        f.whose = g == Patients::kNone ? Whose::Unknown : Whose::Patient;
        kept += g == Patients::kNone || g == chosen;
    }
    if (kept == in.size()) {  // the usual record: one patient's facts
        out = std::move(in);
        return;
    }
    out.reserve(kept);
    for (Fact& f : in)
        if (f.whose == Whose::Unknown || subjects.named(f.subject) == chosen) out.push_back(std::move(f));
}

// ---- Medications -------------------------------------------------------------------------------

// Resolves each medicationReference (in RawRecord order: the first matching definition wins) and
// marks what resolves to nothing, or what has no code at all, as an unknown medication.
void resolveMedications(RawRecord& raw) {
    std::unordered_map<std::string_view, const MedicationDefinition*> byUrl, byId;
    std::unordered_multimap<size_t, const MedicationDefinition*> contained;
    for (const auto& d : raw.medicationDefinitions) {
        if (d.containedIn != MedicationDefinition::kNotContained) {
            contained.emplace(d.containedIn, &d);
            continue;
        }
        if (!d.fullUrl.empty()) byUrl.emplace(d.fullUrl, &d);  // emplace keeps the first
        if (!d.id.empty()) byId.emplace(d.id, &d);
    }
    for (size_t i = 0; i < raw.medications.size(); ++i) {
        Medication& m = raw.medications[i];
        if (!m.codes.empty() || m.medicationReference.empty()) {
            m.unresolved = m.codes.empty();  // no code and no reference: which medicine is unknown
            continue;
        }
        const ResourceReference r = readReference(m.medicationReference);
        const MedicationDefinition* def = nullptr;
        using K = ResourceReference::Kind;
        auto find = [](const auto& map, std::string_view key) -> const MedicationDefinition* {
            auto it = map.find(key);
            return it == map.end() ? nullptr : it->second;
        };
        switch (r.kind) {
            case K::Contained: {
                auto range = contained.equal_range(i);
                for (auto it = range.first; it != range.second && !def; ++it)
                    if (std::string_view(it->second->id) == std::string_view(r.id)) def = it->second;
                break;
            }
            case K::Urn: def = find(byUrl, r.url); break;
            case K::Absolute:
                if (std::string_view(r.type) != "Medication") break;
                def = find(byUrl, r.url);
                if (!def) def = find(byId, r.id);
                break;
            case K::Relative:
                if (std::string_view(r.type) == "Medication") def = find(byId, r.id);
                break;
            case K::Bare: def = find(byId, r.id); break;
            default: break;
        }
        if (def && !def->codes.empty()) m.codes = def->codes;
        m.unresolved = m.codes.empty();
    }
}

// ---- Code systems ------------------------------------------------------------------------------

// Names each coding's system by the uri the content knows it by, when the record names it another
// way: an OID (CDA, HL7 v2), urn:oid:OID, or an alias (HL7 v2 table 0396). The codings live in the
// record's arena, which the mapping owns. FHIR's uris start with "http": left as they are, so a
// FHIR record costs one comparison per coding.
class SystemNames {
public:
    explicit SystemNames(const Content& c) : c_(c) {}
    void operator()(const Codings& codes) const {
        for (const Coding& k : codes) {
            const std::string_view s = k.system;
            if (s.empty() || s.substr(0, 4) == "http") continue;
            if (const CodeSystem* system = c_.systemByName(s))
                const_cast<Coding&>(k).system = Text(std::string_view(system->uri));
        }
    }

private:
    const Content& c_;
};

void nameSystems(RawRecord& raw, const Content& content) {
    const SystemNames name(content);
    for (const auto& o : raw.observations) {
        name(o.codes);
        name(o.valueCodes);
        for (const auto& c : o.components) name(c.codes);
    }
    for (const auto& c : raw.conditions) name(c.codes);
    for (const auto& p : raw.procedures) name(p.codes);
    for (const auto& m : raw.medications) name(m.codes);
    for (const auto& d : raw.medicationDefinitions) name(d.codes);
    for (const auto& a : raw.allergies) name(a.codes);
    for (const auto& e : raw.encounters) name(e.types);
}

// ---- Dates and statuses ------------------------------------------------------------------------

const std::optional<DateTime>& either(const std::optional<DateTime>& a, const std::optional<DateTime>& b) {
    return a ? a : b;
}

void decide(PatientRecord& r) {
    using namespace status_system;
    for (auto& o : r.observations) o.when = either(o.effective, o.issued);
    for (auto& c : r.conditions) {
        c.when = either(c.onset, c.recorded);
        c.clinicalStatus = readStatus(c.clinicalStatusCodings, kConditionClinical, kConditionClinicalCodes);
        c.verificationStatus =
            readStatus(c.verificationStatusCodings, kConditionVerification, kConditionVerificationCodes);
    }
    for (auto& p : r.procedures) p.when = p.performed;
    for (auto& m : r.medications)
        m.when = std::string_view(m.source.resourceType) == "MedicationRequest" ? m.authoredOn
                                                                                : either(m.effective, m.dateAsserted);
    for (auto& a : r.allergies) {
        a.when = either(a.onset, a.recorded);
        a.clinicalStatus = readStatus(a.clinicalStatusCodings, kAllergyClinical, kAllergyClinicalCodes);
        a.verificationStatus = readStatus(a.verificationStatusCodings, kAllergyVerification, kAllergyVerificationCodes);
    }
    for (auto& e : r.encounters) e.when = e.start;
}

}  // namespace

PatientRecord mapRecord(RawRecord&& raw, const std::string& requestedPatientId, const Content& content,
                        const std::string& sourceName) {
    if (raw.patients.empty())
        throw Error(PPMG_E_NO_PATIENT, "the record holds no Patient; ppmg needs the patient's record",
                    Location{sourceName, "", "", 0});
    nameSystems(raw, content);
    resolveMedications(raw);
    const Patients patients(raw.patients);
    const size_t chosen = choosePatient(raw, patients, requestedPatientId, content, sourceName);
    PatientRecord rec;
    rec.patientCount = patients.count();
    for (size_t i = 0; i < raw.patients.size(); ++i)
        if (patients.groupOf(i) == chosen) {
            rec.patient = std::move(raw.patients[i]);  // the first copy
            break;
        }
    SubjectReader subjects(patients);
    keepFor(rec.observations, std::move(raw.observations), subjects, chosen);
    keepFor(rec.conditions, std::move(raw.conditions), subjects, chosen);
    keepFor(rec.procedures, std::move(raw.procedures), subjects, chosen);
    keepFor(rec.medications, std::move(raw.medications), subjects, chosen);
    keepFor(rec.allergies, std::move(raw.allergies), subjects, chosen);
    keepFor(rec.encounters, std::move(raw.encounters), subjects, chosen);
    rec.text = std::move(raw.text);
    decide(rec);
    return rec;
}

// ---- The facts as text (the parity test) -------------------------------------------------------

namespace {

class FactWriter {
public:
    explicit FactWriter(bool sources) : sources_(sources) {}
    std::string out;

    FactWriter& begin(std::string_view kind, const Source& s) {
        out.append(kind);
        if (sources_)
            out.append(" [")
                .append(s.resourceType)
                .append("/")
                .append(s.id)
                .append(" at ")
                .append(s.pathText())
                .append("]");
        if (sources_ && s.document)
            out.append(" [entry ")
                .append(s.document->idRoot)
                .append("^")
                .append(s.document->idExtension)
                .append(" in ")
                .append(s.document->sectionTemplateId)
                .append(" by ")
                .append(s.document->templateId)
                .append("]");
        return *this;
    }
    FactWriter& field(std::string_view name, std::string_view v) {
        if (!v.empty()) out.append(" ").append(name).append("=").append(v);
        return *this;
    }
    FactWriter& codes(std::string_view name, const Codings& cs) {
        if (cs.empty()) return *this;
        out.append(" ").append(name).append("={");
        for (size_t i = 0; i < cs.size(); ++i) {
            if (i) out.append(",");
            out.append(cs[i].system).append("|").append(cs[i].code);
            if (!cs[i].display.empty()) out.append("|").append(cs[i].display);
        }
        out.append("}");
        return *this;
    }
    FactWriter& date(std::string_view name, const std::optional<DateTime>& d) {
        if (!d) return *this;
        out.append(" ").append(name).append("=").append(formatIsoDate(d->date));
        if (d->last != d->date) out.append("..").append(formatIsoDate(d->last));
        out.append("@").append(std::to_string(d->instant));
        return *this;
    }
    FactWriter& quantity(std::string_view name, const Quantity& q) {
        if (!q.present) return *this;
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", q.value);
        out.append(" ").append(name).append("=").append(buf).append(" ").append(q.unit);
        return *this;
    }
    FactWriter& status(std::string_view name, const StatusReading& s) {
        static const char* kStates[] = {"absent", "read", "unreadable"};
        out.append(" ").append(name).append("=").append(kStates[static_cast<int>(s.state)]);
        if (!s.code.empty()) out.append(":").append(s.code);
        return *this;
    }
    FactWriter& whose(Whose w) {
        out.append(w == Whose::Patient ? " whose=patient" : " whose=unknown");
        return *this;
    }
    void end() { out.append("\n"); }

private:
    bool sources_;
};

}  // namespace

std::string describeFacts(const PatientRecord& r, bool sources) {
    FactWriter w(sources);
    const Patient& p = r.patient;
    w.begin("Patient", p.source).field("gender", p.gender).field("family", p.family).field("text", p.nameText);
    for (Text g : p.given) w.field("given", g);
    if (p.birthDate) w.field("birthDate", formatIsoDate(*p.birthDate));
    for (const auto& id : p.identifiers) w.field("identifier", std::string(id.system) + "|" + std::string(id.value));
    w.field("patients", std::to_string(r.patientCount)).end();
    for (const auto& o : r.observations) {
        w.begin("Observation", o.source).field("status", o.status).codes("code", o.codes).date("when", o.when);
        w.quantity("value", o.quantity).codes("valueCode", o.valueCodes).date("valueDateTime", o.valueDateTime);
        w.field("valueString", o.valueText);
        for (const auto& c : o.components) w.codes("component", c.codes).quantity("componentValue", c.quantity);
        w.whose(o.whose).end();
    }
    for (const auto& c : r.conditions) {
        w.begin("Condition", c.source)
            .status("clinical", c.clinicalStatus)
            .status("verification", c.verificationStatus);
        w.codes("code", c.codes).field("text", c.codeText).date("when", c.when).date("abatement", c.abatement);
        w.whose(c.whose).end();
    }
    for (const auto& x : r.procedures)
        w.begin("Procedure", x.source)
            .field("status", x.status)
            .codes("code", x.codes)
            .date("when", x.when)
            .whose(x.whose)
            .end();
    for (const auto& m : r.medications) {
        w.begin(m.source.resourceType, m.source).field("status", m.status).codes("medication", m.codes);
        w.field("unresolved", m.unresolved ? "true" : "").date("when", m.when).whose(m.whose).end();
    }
    for (const auto& a : r.allergies) {
        w.begin("AllergyIntolerance", a.source).status("clinical", a.clinicalStatus);
        w.status("verification", a.verificationStatus).codes("code", a.codes).date("when", a.when).whose(a.whose).end();
    }
    for (const auto& e : r.encounters)
        w.begin("Encounter", e.source).codes("type", e.types).date("when", e.when).whose(e.whose).end();
    return std::move(w.out);
}

}  // namespace ppmg::core

// Input checks common to both formats, format sniffing, and the choice of the patient.
#include <simdjson.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/errors.hpp"
#include "content/content.hpp"
#include "read/fhir_reader.hpp"

namespace ppmg::core {
namespace {

// Returns the offset of the first invalid UTF-8 sequence, or npos.
size_t invalidUtf8At(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else
            return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return std::string_view::npos;
}

long lineOf(std::string_view s, size_t offset) {
    return 1 + static_cast<long>(std::count(s.begin(), s.begin() + static_cast<long>(offset), '\n'));
}

}  // namespace

RawRecord readRecord(std::string_view data, ppmg_input_format format, const ReadLimits& limits,
                     const std::string& sourceName) {
    if (data.size() > limits.maxInputBytes)
        throw Error(PPMG_E_LIMIT,
                    "the input is " + std::to_string(data.size()) + " bytes, over the limit of " +
                        std::to_string(limits.maxInputBytes),
                    Location{sourceName, "", "", 0});
    if (data.substr(0, 2) == "\xFF\xFE" || data.substr(0, 2) == "\xFE\xFF")
        throw Error(PPMG_E_ENCODING, "the input is UTF-16 (it starts with a UTF-16 byte order mark); ppmg reads UTF-8",
                    Location{sourceName, "", "", 1});
    if (size_t nul = data.find('\0'); nul != std::string_view::npos)
        throw Error(PPMG_E_ENCODING, "the input holds a NUL byte at offset " + std::to_string(nul),
                    Location{sourceName, "", "", lineOf(data, nul)});
    // simdjson's vectorised check first; the byte-wise scan only finds the offset to report.
    if (!simdjson::validate_utf8(data.data(), data.size())) {
        if (size_t bad = invalidUtf8At(data); bad != std::string_view::npos)
            throw Error(PPMG_E_ENCODING, "the input is not valid UTF-8 (at byte offset " + std::to_string(bad) + ")",
                        Location{sourceName, "", "", lineOf(data, bad)});
    }
    std::string_view body = data;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 byte order mark
    if (format == PPMG_INPUT_AUTO) {
        size_t first = body.find_first_not_of(" \t\r\n");
        if (first == std::string_view::npos)
            throw Error(PPMG_E_PARSE, "the input is empty", Location{sourceName, "", "", 0});
        if (body[first] == '{' || body[first] == '[')
            format = PPMG_INPUT_FHIR_JSON;
        else if (body[first] == '<')
            format = PPMG_INPUT_FHIR_XML;
        else
            throw Error(PPMG_E_PARSE, "the input is neither JSON nor XML (it starts with neither '{' nor '<')",
                        Location{sourceName, "", "", lineOf(body, first)});
    }
    switch (format) {
        case PPMG_INPUT_FHIR_JSON: return readFhirJson(body, limits, sourceName);
        case PPMG_INPUT_FHIR_XML: return readFhirXml(body, limits, sourceName);
        default: throw Error(PPMG_E_UNSUPPORTED, "unknown input format", Location{sourceName, "", "", 0});
    }
}

// Runs once per fact, so it compares in place rather than building the candidate references.
bool referencesPatient(std::string_view reference, const Patient& p) {
    const std::string_view ref = reference;
    if (ref.empty()) return false;
    if (!p.fullUrl.empty() && ref == p.fullUrl) return true;
    const std::string_view id = p.source.id;
    if (id.empty()) return false;
    auto isPrefixed = [&](std::string_view prefix) {  // ref == prefix + id
        return ref.size() == prefix.size() + id.size() && ref.substr(0, prefix.size()) == prefix &&
               ref.substr(prefix.size()) == id;
    };
    if (isPrefixed("Patient/") || isPrefixed("urn:uuid:") || ref == id) return true;
    // ... ends with "/Patient/" + id
    constexpr std::string_view kTail = "/Patient/";
    if (ref.size() > kTail.size() + id.size() && ref.substr(ref.size() - id.size()) == id &&
        ref.substr(ref.size() - id.size() - kTail.size(), kTail.size()) == kTail)
        return true;
    // A versioned reference: ... "Patient/" + id + "/_history/" ...
    constexpr std::string_view kType = "Patient/", kHistory = "/_history/";
    for (size_t at = ref.find(kType); at != std::string_view::npos; at = ref.find(kType, at + 1)) {
        const std::string_view rest = ref.substr(at + kType.size());
        if (rest.size() >= id.size() + kHistory.size() && rest.substr(0, id.size()) == id &&
            rest.substr(id.size(), kHistory.size()) == kHistory)
            return true;
    }
    return false;
}

namespace {

template <class Fact>
void keepFor(std::vector<Fact>& out, std::vector<Fact>&& in, const Patient& p) {
    auto kept = [&](const Fact& f) { return f.subject.empty() || referencesPatient(f.subject, p); };
    if (std::all_of(in.begin(), in.end(), kept)) {  // the usual record: one patient's facts
        out = std::move(in);
        return;
    }
    out.reserve(in.size());
    for (auto& f : in)
        if (kept(f)) out.push_back(std::move(f));
}

std::string describe(const Patient& p) {
    std::string s(p.source.id.empty() ? Text("(no id)") : p.source.id);
    std::string name(p.family);
    for (const auto& g : p.given) name = std::string(g) + " " + name;
    if (!name.empty()) s += " (" + name + (p.birthDate ? ", born " + formatIsoDate(*p.birthDate) : "") + ")";
    return s;
}

// The patients a reference names, through an index: trying every patient for every delivery
// fact is quadratic (minutes for a record with ten thousand of each). Gives exactly the patients
// for which referencesPatient is true, in the forms it accepts: the fullUrl; "Patient/id",
// "urn:uuid:id" or the bare id; ".../Patient/id"; and "...Patient/id/_history/...".
class PatientIndex {
public:
    explicit PatientIndex(const std::vector<Patient>& patients) {
        for (const auto& p : patients) {
            if (!p.fullUrl.empty()) byUrl_.emplace(p.fullUrl, &p);
            if (p.source.id.empty()) continue;
            byId_.emplace(p.source.id, &p);
            if (std::find(idLengths_.begin(), idLengths_.end(), p.source.id.size()) == idLengths_.end())
                idLengths_.push_back(p.source.id.size());
        }
    }

    // Calls f(patient) for each patient the reference names (a patient may come more than once);
    // stops when f returns false.
    template <class F>
    void forEachMatch(std::string_view ref, F&& f) const {
        if (ref.empty()) return;
        bool go = true;
        auto each = [&](const auto& map, std::string_view key) {
            auto range = map.equal_range(key);
            for (auto it = range.first; go && it != range.second; ++it) go = f(*it->second);
        };
        constexpr std::string_view kType = "Patient/", kUuid = "urn:uuid:", kTail = "/Patient/",
                                   kHistory = "/_history/";
        each(byUrl_, ref);
        if (go) each(byId_, ref);
        if (go && ref.substr(0, kType.size()) == kType) each(byId_, ref.substr(kType.size()));
        if (go && ref.substr(0, kUuid.size()) == kUuid) each(byId_, ref.substr(kUuid.size()));
        for (size_t len : idLengths_) {  // ".../Patient/id"
            if (!go) return;
            if (ref.size() > len + kTail.size() && ref.substr(ref.size() - len - kTail.size(), kTail.size()) == kTail)
                each(byId_, ref.substr(ref.size() - len));
        }
        for (size_t h = ref.find(kHistory); go && h != std::string_view::npos; h = ref.find(kHistory, h + 1)) {
            for (size_t len : idLengths_) {  // "Patient/id/_history/"
                if (!go) return;
                if (h >= len + kType.size() && ref.substr(h - len - kType.size(), kType.size()) == kType)
                    each(byId_, ref.substr(h - len, len));
            }
        }
    }

private:
    std::unordered_multimap<std::string_view, const Patient*> byUrl_, byId_;
    std::vector<size_t> idLengths_;  // the distinct lengths of the ids
};

}  // namespace

PatientRecord selectPatient(RawRecord&& raw, const std::string& requestedId, const Content& content,
                            const std::string& sourceName) {
    const Patient* chosen = nullptr;
    auto candidates = [&] {
        constexpr size_t kNamed = 20;  // one readable line, even for a record with thousands
        std::string s;
        for (size_t i = 0; i < raw.patients.size() && i < kNamed; ++i)
            s += (s.empty() ? "" : ", ") + describe(raw.patients[i]);
        if (raw.patients.size() > kNamed) s += ", and " + std::to_string(raw.patients.size() - kNamed) + " more";
        return s;
    };
    if (!requestedId.empty()) {
        for (const auto& p : raw.patients)
            if (p.source.id == requestedId) chosen = &p;
        if (!chosen)
            throw Error(PPMG_E_AMBIGUOUS_PATIENT,
                        "no Patient with id \"" + requestedId + "\" in the record; it holds " + candidates(),
                        Location{sourceName, "", "", 0});
    } else if (raw.patients.size() == 1) {
        chosen = &raw.patients.front();
    } else {
        // The subject of the delivery: the patient the delivery records name.
        const auto& vsets = content.valueSets;
        const DeliveryConfig& dc = content.delivery;
        std::set<const Patient*> subjects;
        const PatientIndex index(raw.patients);
        std::unordered_set<std::string_view> seen;
        auto note = [&](std::string_view subject) {
            if (subjects.size() > 1 || !seen.insert(subject).second) return;  // two already decide
            index.forEachMatch(subject, [&](const Patient& p) {
                subjects.insert(&p);
                return subjects.size() < 2;
            });
        };
        auto isDelivery = [&](const Procedure& pr) {
            return inValueSet(vsets.at(dc.caesareanValueSet), pr.codes) ||
                   inValueSet(vsets.at(dc.vaginalValueSet), pr.codes) ||
                   (!dc.unspecifiedValueSet.empty() && inValueSet(vsets.at(dc.unspecifiedValueSet), pr.codes));
        };
        for (const auto& pr : raw.procedures)
            if (isDelivery(pr)) note(pr.subject);
        for (const auto& o : raw.observations)
            if (inValueSet(vsets.at(dc.dateObservationValueSet), o.codes)) note(o.subject);
        if (subjects.size() == 1)
            chosen = *subjects.begin();
        else
            throw Error(
                PPMG_E_AMBIGUOUS_PATIENT,
                "the record holds " + std::to_string(raw.patients.size()) +
                    " patients and no single delivery subject; name the one to assess by its id: " + candidates(),
                Location{sourceName, "", "", 0});
    }
    PatientRecord rec;
    rec.patient = std::move(raw.patients[static_cast<size_t>(chosen - raw.patients.data())]);
    keepFor(rec.observations, std::move(raw.observations), rec.patient);
    keepFor(rec.conditions, std::move(raw.conditions), rec.patient);
    keepFor(rec.procedures, std::move(raw.procedures), rec.patient);
    keepFor(rec.medications, std::move(raw.medications), rec.patient);
    keepFor(rec.allergies, std::move(raw.allergies), rec.patient);
    keepFor(rec.encounters, std::move(raw.encounters), rec.patient);
    rec.text = std::move(raw.text);
    return rec;
}

}  // namespace ppmg::core

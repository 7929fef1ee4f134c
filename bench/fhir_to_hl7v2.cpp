// FHIR R4 JSON -> HL7 v2.5.1 messages carrying the same facts (bench/fhir_to_hl7v2.hpp).
#include "fhir_to_hl7v2.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

namespace ppmg::bench {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using std::string_view;

constexpr string_view kConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
constexpr string_view kConditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
constexpr string_view kAllergyClinical = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
constexpr string_view kAllergyVerification = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

struct Refused {
    std::string why;
};

string_view str(object o, const char* key) {
    string_view v;
    if (o[key].get(v)) return {};
    return v;
}
bool obj(object o, const char* key, object& out) { return !o[key].get(out); }
bool arr(object o, const char* key, array& out) { return !o[key].get(out); }

// A value escaped for ER7 (| ^ ~ \ &), line breaks as \X0D\ and \X0A\.
std::string esc(string_view v) {
    std::string out;
    for (const char c : v) {
        switch (c) {
            case '|': out += "\\F\\"; break;
            case '^': out += "\\S\\"; break;
            case '&': out += "\\T\\"; break;
            case '~': out += "\\R\\"; break;
            case '\\': out += "\\E\\"; break;
            case '\r': out += "\\X0D\\"; break;
            case '\n': out += "\\X0A\\"; break;
            default: out += c;
        }
    }
    return out;
}

// A code system as v2 feeds name it.
std::string systemName(string_view uri) {
    static const std::pair<string_view, string_view> kNames[] = {
        {"http://snomed.info/sct", "SCT"},
        {"http://loinc.org", "LN"},
        {"http://www.nlm.nih.gov/research/umls/rxnorm", "RXNORM"},
        {"http://hl7.org/fhir/sid/icd-10-cm", "I10C"},
        {"http://hl7.org/fhir/sid/icd-10", "I10"},
        {"http://www.whocc.no/atc", "WC"},
        {"http://unitsofmeasure.org", "UCUM"}};
    for (const auto& n : kNames)
        if (uri == n.first) return std::string(n.second);
    if (uri.substr(0, 8) == "urn:oid:") return std::string(uri.substr(8));
    return esc(uri);
}

// FHIR date/dateTime -> HL7 DTM.
std::string dtm(string_view s) {
    if (s.empty()) return {};
    std::string out;
    size_t i = 0;
    for (; i < s.size() && s[i] != 'T'; ++i)
        if (s[i] != '-') out += s[i];
    if (i == s.size()) return out;
    ++i;
    for (; i < s.size() && s[i] != 'Z' && s[i] != '+' && s[i] != '-'; ++i)
        if (s[i] != ':') out += s[i];
    if (const size_t dot = out.find('.'); dot != std::string::npos && out.size() - dot - 1 > 4)
        throw Refused{"a time with more than 4 decimals of a second"};
    if (i == s.size()) return out;
    if (s[i] == 'Z') return out + "+0000";
    std::string zone(s.substr(i));
    zone.erase(std::remove(zone.begin(), zone.end(), ':'), zone.end());
    return out + zone;
}

std::string number(double v) {
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

struct Coding {
    std::string system, code, display;
};

std::vector<Coding> codingsOf(object cc) {
    std::vector<Coding> out;
    array list;
    if (!arr(cc, "coding", list)) return out;
    for (element e : list) {
        object c;
        if (e.get(c)) throw Refused{"a coding is not an object"};
        out.push_back(
            Coding{std::string(str(c, "system")), std::string(str(c, "code")), std::string(str(c, "display"))});
    }
    return out;
}
std::vector<Coding> concept(object r, const char* key) {
    object cc;
    return obj(r, key, cc) ? codingsOf(cc) : std::vector<Coding>();
}

// Codings as a CWE (three triplets), further codings as repetitions; text as CWE-9.
std::string cwe(const std::vector<Coding>& cs, string_view text = {}) {
    std::string out;
    for (size_t i = 0; i < cs.size(); ++i) {
        const size_t slot = i % 3;
        if (i && slot == 0) out += '~';
        if (slot == 1) out += '^';
        if (slot == 2) out += "^^^^";
        if (cs[i].code.empty()) throw Refused{"a coding without a code"};
        out += esc(cs[i].code) + "^" + esc(cs[i].display) + "^" + systemName(cs[i].system);
    }
    if (!text.empty()) {
        if (cs.size() > 3) throw Refused{"a concept with text and more than three codings"};
        size_t comps = cs.empty() ? 1 : cs.size() == 1 ? 3 : cs.size() == 2 ? 6 : 12;
        for (; comps < 9; ++comps) out += '^';
        if (comps > 9) throw Refused{"a concept with text and three codings"};
        out += esc(text);
    }
    return out;
}

// A status CodeableConcept's codings, each in the expected HL7 system.
std::vector<Coding> statusCodings(object r, const char* key, string_view system) {
    element e;
    if (r[key].get(e)) return {};
    object cc;
    if (e.get(cc)) throw Refused{std::string(key) + " is not a CodeableConcept"};
    std::vector<Coding> out = codingsOf(cc);
    for (const auto& c : out)
        if (c.system != system) throw Refused{std::string(key) + " has a coding outside the HL7 system"};
    return out;
}

std::string periodStart(object r, const char* key) {
    object p;
    return obj(r, key, p) ? std::string(str(p, "start")) : std::string();
}

class Writer {
public:
    explicit Writer(object bundle) : bundle_(bundle) {}

    Hl7v2Twin write() {
        array entries;
        if (!arr(bundle_, "entry", entries)) throw Refused{"not a Bundle with entries"};
        for (element e : entries) {
            object entry, r;
            if (e.get(entry) || !obj(entry, "resource", r)) continue;
            if (str(r, "resourceType") == "Patient") {
                if (!patientId_.empty() || !pid_.empty()) throw Refused{"more than one Patient"};
                patient(r, str(entry, "fullUrl"));
            }
        }
        if (pid_.empty()) throw Refused{"no Patient"};
        for (element e : entries) {
            object entry, r;
            if (e.get(entry) || !obj(entry, "resource", r)) continue;
            const string_view type = str(r, "resourceType");
            if (type == "Observation")
                observation(r);
            else if (type == "Condition")
                condition(r);
            else if (type == "Procedure")
                procedure(r);
            else if (type == "MedicationRequest")
                medicationRequest(r);
            else if (type == "MedicationStatement")
                medicationStatement(r);
            else if (type == "AllergyIntolerance")
                allergy(r);
            else if (type == "Encounter")
                encounter(r);
            else if (type == "Medication")
                throw Refused{"a Medication resource"};
        }
        Hl7v2Twin t;
        t.sameFacts = sameFacts_;
        t.messages += message("ADT^A08^ADT_A01", "EVN|A08|20250101000000+0000\r" + adt_);
        if (!ppr_.empty()) t.messages += message("PPR^PC1^PPR_PC1", ppr_);
        for (const auto& m : pharmacy_) t.messages += message(m.first, m.second);
        if (!oru_.empty()) t.messages += message("ORU^R01^ORU_R01", "OBR|1\r" + oru_);
        if (!iam_.empty()) t.messages += message("ADT^A60^ADT_A60", iam_);
        return t;
    }

private:
    std::string message(const char* type, const std::string& body) {
        return "MSH|^~\\&|FHIR2V2|TWIN|PPMG|TWIN|20250101000000+0000||" + std::string(type) + "|TWIN" +
               std::to_string(++messages_) + "|P|2.5.1\r" + pid_ + body;
    }

    void patient(object r, string_view fullUrl) {
        patientId_ = std::string(str(r, "id"));
        fullUrl_ = std::string(fullUrl);
        std::string ids;
        array list;
        if (arr(r, "identifier", list)) {
            for (element e : list) {
                object id;
                if (e.get(id)) throw Refused{"an identifier is not an object"};
                const string_view value = str(id, "value"), system = str(id, "system");
                if (value.empty()) continue;
                if (!ids.empty()) ids += '~';
                ids += esc(value);
                if (system.substr(0, 8) == "urn:oid:")
                    ids += "^^^&" + esc(system.substr(8)) + "&ISO";
                else if (system.substr(0, 9) == "urn:uuid:")
                    ids += "^^^&" + esc(system.substr(9)) + "&UUID";
                else if (system.find("://") != string_view::npos)
                    ids += "^^^&" + esc(system) + "&URI";
                else if (!system.empty())
                    ids += "^^^" + esc(system);
            }
        }
        if (ids.empty()) ids = esc(patientId_);
        std::string name;
        if (arr(r, "name", list)) {
            object chosen;
            bool have = false;
            for (element e : list) {
                object n;
                if (e.get(n)) throw Refused{"a name is not an object"};
                const bool official = str(n, "use") == "official";
                if (!have || official) chosen = n;
                have = true;
                if (official) break;
            }
            if (have) {
                if (!str(chosen, "text").empty()) throw Refused{"a name with text"};
                name = esc(str(chosen, "family"));
                array given;
                size_t k = 0;
                if (arr(chosen, "given", given))
                    for (element g : given) {
                        string_view v;
                        if (g.get(v) || ++k > 2) throw Refused{"more than two given names"};
                        name += "^" + esc(v);
                    }
            }
        }
        const string_view gender = str(r, "gender");
        const char* sex = gender == "female"    ? "F"
                          : gender == "male"    ? "M"
                          : gender == "other"   ? "O"
                          : gender == "unknown" ? "U"
                                                : "";
        if (!gender.empty() && !*sex) throw Refused{"a gender v2 has no code for"};
        pid_ = "PID|1||" + ids + "||" + name + "||" + dtm(str(r, "birthDate")) + "|" + sex + "\r";
    }

    void subject(object r, const char* key = "subject") {
        object s;
        if (!obj(r, key, s)) throw Refused{"a fact without a subject"};
        const string_view ref = str(s, "reference");
        if (ref != "Patient/" + patientId_ && (fullUrl_.empty() || ref != fullUrl_))
            throw Refused{"a subject that is not the patient"};
    }

    void observation(object r) {
        subject(r);
        const string_view status = str(r, "status");
        static const std::pair<string_view, const char*> kStatus[] = {{"", ""},
                                                                      {"final", "F"},
                                                                      {"corrected", "C"},
                                                                      {"amended", "A"},
                                                                      {"preliminary", "P"},
                                                                      {"cancelled", "X"},
                                                                      {"entered-in-error", "W"},
                                                                      {"registered", "I"}};
        const char* obx11 = nullptr;
        for (const auto& s : kStatus)
            if (status == s.first) obx11 = s.second;
        if (!obx11) throw Refused{"an Observation status v2 has no code for"};
        std::string when = dtm(str(r, "effectiveDateTime"));
        if (when.empty()) when = dtm(periodStart(r, "effectivePeriod"));
        if (when.empty()) when = dtm(str(r, "effectiveInstant"));
        const std::string issued = dtm(str(r, "issued"));
        if (issued != issued_) {  // OBR-22 carries issued for the OBX that follow
            oru_ += "OBR|" + std::to_string(++obr_) + "|||||||||||||||||||||" + issued + "\r";
            issued_ = issued;
        }
        std::string type, value, unit;
        object q;
        if (obj(r, "valueQuantity", q)) {
            double v;
            if (!q["value"].get(v)) {
                type = "NM";
                value = number(v);
                string_view u = str(q, "code");
                if (u.empty())
                    unit = "^" + esc(str(q, "unit"));
                else
                    unit = esc(u);
            }
        } else if (object cc; obj(r, "valueCodeableConcept", cc)) {
            type = "CWE";
            value = cwe(codingsOf(cc));
        } else if (string_view d = str(r, "valueDateTime"); !d.empty()) {
            type = "DTM";
            value = dtm(d);
        } else if (string_view s = str(r, "valueString"); !s.empty()) {
            type = "ST";
            value = esc(s);
        }
        array comps;
        if (arr(r, "component", comps)) {
            if (!type.empty()) throw Refused{"an Observation with a value and components"};
            sameFacts_ = false;  // each component becomes an OBX of its own
            for (element e : comps) {
                object c, cq;
                if (e.get(c)) throw Refused{"a component is not an object"};
                std::string cvalue, cunit;
                double v;
                if (obj(c, "valueQuantity", cq) && !cq["value"].get(v)) {
                    cvalue = number(v);
                    string_view u = str(cq, "code");
                    cunit = u.empty() ? "^" + esc(str(cq, "unit")) : esc(u);
                }
                obx(cwe(concept(c, "code")), cvalue.empty() ? "" : "NM", cvalue, cunit, obx11, when);
            }
            return;
        }
        obx(cwe(concept(r, "code")), type, value, unit, obx11, when);
    }

    void obx(const std::string& code, const std::string& type, const std::string& value, const std::string& unit,
             const char* status, const std::string& when) {
        oru_ += "OBX|" + std::to_string(++obx_) + "|" + type + "|" + code + "||" + value + "|" + unit + "|||||" +
                status + "|||" + when + "\r";
    }

    void condition(object r) {
        subject(r);
        object code;
        std::string text;
        if (obj(r, "code", code)) text = std::string(str(code, "text"));
        const std::string prb3 = cwe(concept(r, "code"), text);
        std::string onset = dtm(str(r, "onsetDateTime"));
        if (onset.empty()) onset = dtm(periodStart(r, "onsetPeriod"));
        std::string abatement = dtm(str(r, "abatementDateTime"));
        if (object p; abatement.empty() && obj(r, "abatementPeriod", p)) {
            abatement = dtm(str(p, "end"));
            if (abatement.empty()) abatement = dtm(str(p, "start"));
        }
        const std::string recorded = dtm(str(r, "recordedDate"));
        auto statuses = [](const std::vector<Coding>& cs) {
            std::string out;
            for (const auto& c : cs) out += (out.empty() ? "" : "~") + esc(c.code) + "^^" + esc(c.system);
            return out;
        };
        const std::string verification = statuses(statusCodings(r, "verificationStatus", kConditionVerification));
        const std::string clinical = statuses(statusCodings(r, "clinicalStatus", kConditionClinical));
        ppr_ += "PRB|AD|" + recorded + "|" + prb3 + "|" + esc(str(r, "id")) + "|||" + recorded + "||" + abatement +
                "||||" + verification + "|" + clinical + "||" + onset + "\r";
    }

    void procedure(object r) {
        subject(r);
        const string_view status = str(r, "status");
        std::string action;
        if (status == "entered-in-error")
            action = "D";
        else if (status != "completed" && !status.empty())
            throw Refused{"a Procedure status v2 has no field for"};
        std::string when = dtm(str(r, "performedDateTime"));
        if (when.empty()) when = dtm(periodStart(r, "performedPeriod"));
        adt_ += "PR1|" + std::to_string(++pr1_) + "||" + cwe(concept(r, "code")) + "||" + when + "|||||||||||||||" +
                action + "\r";
    }

    // ORC-5 for a medication status.
    static std::string orderStatus(string_view status, bool request) {
        if (status == "active") return "IP";
        if (status == "on-hold") return "HD";
        if (status == "completed") return "CM";
        if (status == "stopped") return "DC";
        if (status == "entered-in-error") return "ER";
        if (request && status == "cancelled") return "CA";
        if (!request && status == "not-taken") return "CA";
        throw Refused{"a medication status v2 has no code for"};
    }

    // Orders (RDE) and administrations (RAS) in the record's order: one message per run of a kind.
    void pharmacy(const char* type, std::string segments) {
        if (pharmacy_.empty() || pharmacy_.back().first != type) pharmacy_.emplace_back(type, std::string());
        pharmacy_.back().second += segments;
    }

    void medication(object r) {
        subject(r);
        object ref;
        if (obj(r, "medicationReference", ref)) throw Refused{"a medicationReference"};
    }

    void medicationRequest(object r) {
        medication(r);
        pharmacy("RDE^O11^RDE_O11", "ORC|NW|" + esc(str(r, "id")) + "|||" + orderStatus(str(r, "status"), true) +
                                        "||||" + dtm(str(r, "authoredOn")) + "\rRXE||" +
                                        cwe(concept(r, "medicationCodeableConcept")) + "\r");
    }

    void medicationStatement(object r) {
        medication(r);
        if (!str(r, "dateAsserted").empty()) throw Refused{"a dateAsserted"};
        std::string when = dtm(str(r, "effectiveDateTime"));
        if (when.empty()) when = dtm(periodStart(r, "effectivePeriod"));
        pharmacy("RAS^O17^RAS_O17", "ORC|NW|" + esc(str(r, "id")) + "|||" + orderStatus(str(r, "status"), false) +
                                        "\rRXA|0|1|" + when + "||" + cwe(concept(r, "medicationCodeableConcept")) +
                                        "|1\r");
    }

    void allergy(object r) {
        subject(r, "patient");
        const auto clinical = statusCodings(r, "clinicalStatus", kAllergyClinical);
        const auto verification = statusCodings(r, "verificationStatus", kAllergyVerification);
        if (clinical.size() > 1 || verification.size() > 1) throw Refused{"an allergy with several statuses"};
        const std::string c = clinical.empty() ? "" : clinical[0].code;
        const std::string v = verification.empty() ? "" : verification[0].code;
        std::string iam17;
        if (c == "inactive" && v == "confirmed")
            iam17 = "I";
        else if (c.empty() || c == "active") {
            if (v == "confirmed")
                iam17 = "C";
            else if (v == "unconfirmed")
                iam17 = "U";
            else if (v == "entered-in-error")
                iam17 = "E";
            else if (!v.empty())
                throw Refused{"an allergy verification v2 has no code for"};
        } else
            throw Refused{"an allergy clinical status v2 has no code for"};
        std::string onset = dtm(str(r, "onsetDateTime"));
        if (onset.empty()) onset = dtm(periodStart(r, "onsetPeriod"));
        iam_ += "IAM|" + std::to_string(++iam_n_) + "||" + cwe(concept(r, "code")) + "|||A|" + esc(str(r, "id")) +
                "||||" + onset + "||" + dtm(str(r, "recordedDate")) + "||||" + iam17 + "\r";
    }

    void encounter(object r) {
        subject(r);
        std::vector<Coding> types;
        array list;
        if (arr(r, "type", list))
            for (element e : list) {
                object cc;
                if (e.get(cc)) throw Refused{"a type is not an object"};
                for (auto& c : codingsOf(cc)) types.push_back(std::move(c));
            }
        if (types.size() > 3) throw Refused{"an Encounter with more than three type codings"};
        adt_ += "PV1|" + std::to_string(++pv1_) + "|U||" + cwe(types) + std::string(40, '|') +
                dtm(periodStart(r, "period")) + "\r";
    }

    object bundle_;
    std::string patientId_, fullUrl_, pid_;
    std::string adt_, ppr_, oru_, iam_, issued_;
    std::vector<std::pair<const char*, std::string>> pharmacy_;
    size_t messages_ = 0, obr_ = 1, obx_ = 0, pr1_ = 0, pv1_ = 0, iam_n_ = 0;
    bool sameFacts_ = true;
};

}  // namespace

std::optional<Hl7v2Twin> fhirJsonToHl7v2(const std::string& json, std::string* why) {
    simdjson::dom::parser parser;
    object top;
    if (parser.parse(json).get(top)) {
        if (why) *why = "not a JSON object";
        return std::nullopt;
    }
    try {
        if (str(top, "resourceType") == "Patient") throw Refused{"a bare Patient (no facts)"};
        return Writer(top).write();
    } catch (const Refused& r) {
        if (why) *why = r.why;
        return std::nullopt;
    }
}

}  // namespace ppmg::bench

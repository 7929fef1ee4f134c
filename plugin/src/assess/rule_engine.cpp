// The rule engine. Mechanisms only: which clause kinds exist and how each reads the record.
// Every code, threshold, window and text comes from the content.
#include "assess/rule_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string_view>

#include "assess/evidence.hpp"

namespace ppmg::core {

bool Assessment::escalated() const {
    return std::any_of(massages.begin(), massages.end(),
                       [](const MassageAssessment& m) { return m.outcome == Outcome::Escalate; });
}

namespace {

// Data semantics (clinical-rules.md): which statuses count. (string_view: these run for every fact
// and clause, and std::string == "literal" is an out-of-line call with a strlen.)
// A status counts as active unless it was read as another code; a verification status refutes
// only when read as refuted or entered-in-error (an unreadable one counts as unrefuted).
bool readAs(const StatusReading& s, std::string_view code) {
    return s.state == StatusReading::State::Read && std::string_view(s.code) == code;
}
bool activeStatus(const StatusReading& s) {
    return s.state != StatusReading::State::Read || readAs(s, "active") || readAs(s, "recurrence") ||
           readAs(s, "relapse");
}
bool refutedStatus(const StatusReading& s) { return readAs(s, "refuted") || readAs(s, "entered-in-error"); }

bool conditionCounts(const Condition& c) {
    return activeStatus(c.clinicalStatus) && !refutedStatus(c.verificationStatus);
}

bool medicationCounts(const Medication& m) {
    const std::string_view status = m.status;
    if (std::string_view(m.source.resourceType) == "MedicationRequest")
        return status == "active" || status == "on-hold";
    return status == "active" || status == "intended" || status == "on-hold";
}

bool allergyCounts(const Allergy& a) { return activeStatus(a.clinicalStatus) && !refutedStatus(a.verificationStatus); }

bool observationCounts(const Observation& o) {
    const std::string_view status = o.status;
    return status.empty() || status == "final" || status == "amended" || status == "corrected";
}

std::string formatNumber(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// One usable value of a measure, in the measure's canonical unit. Its evidence is built only
// when a rule cites it.
struct Reading {
    double value = NAN;  // NaN for measures without a unit (presence only)
    const DateTime* when = nullptr;
    const Observation* observation = nullptr;
    const Codings* codes = nullptr;      // the observation's or the component's
    const Quantity* quantity = nullptr;  // nullptr for a presence-only measure
    const ValueSet* valueSet = nullptr;

    Evidence evidence() const {
        const Observation& o = *observation;
        if (quantity == nullptr) {
            std::string v(o.valueText);
            if (v.empty() && !o.valueCodes.empty())
                v = o.valueCodes.front().display.empty() ? o.valueCodes.front().code : o.valueCodes.front().display;
            return evidenceOf(o.source, *codes, valueSet, v, o.when);
        }
        return evidenceOf(o.source, *codes, valueSet, formatNumber(quantity->value).append(" ").append(quantity->unit),
                          o.when);
    }
};

// A measure with its value set, resolved once per assessment, and its readings (newest first).
struct MeasureReadings {
    const std::string* id = nullptr;  // the measure's key in the content
    const Measure* measure = nullptr;
    const ValueSet* valueSet = nullptr;
    std::vector<Reading> readings;
};

bool meetsBounds(const Clause& c, double v) {
    if (!std::isnan(c.atLeast) && !(v >= c.atLeast)) return false;
    if (!std::isnan(c.above) && !(v > c.above)) return false;
    if (!std::isnan(c.below) && !(v < c.below)) return false;
    if (!std::isnan(c.atMost) && !(v <= c.atMost)) return false;
    return true;
}

class Evaluation {
public:
    Evaluation(const Content& content, const PatientRecord& rec, Date asOf) : c_(content), r_(rec), asOf_(asOf) {
        classify(rec.conditions, conditionMasks_);
        classify(rec.medications, medicationMasks_);
        classify(rec.allergies, allergyMasks_);
        classify(rec.procedures, procedureMasks_);
        episode_ = findDeliveryEpisode(content, rec, asOf, anyDelivery_, futureDelivery_);
        indexMeasures();
        indexWoundStatus();
    }

    Assessment run() {
        Assessment a;
        a.asOf = asOf_;
        a.patient = r_.patient;
        a.text = r_.text;  // the patient's strings live there
        a.episode = episode_;
        a.futureDelivery = futureDelivery_;
        if (episode_) a.postpartumDay = asOf_.days - episode_->date.days;
        a.massages.resize(c_.massageTypes.size());

        for (const auto& rule : c_.rules) {
            std::vector<Evidence> ev;
            if (!eval(rule.when, ev)) continue;
            Finding f;
            f.rule = &rule;
            f.outcome = rule.outcome;
            f.types = rule.types;
            f.evidence = std::move(ev);
            if (rule.outcome == Outcome::Defer && episode_ && rule.earliestDay >= 0)
                f.earliestDate = episode_->date.plusDays(rule.earliestDay);
            a.findings.push_back(std::move(f));
            if (!rule.gap.empty()) addGap(a, rule.id, rule.gap);
        }

        const bool outOfScope = std::any_of(a.findings.begin(), a.findings.end(),
                                            [](const Finding& f) { return f.outcome == Outcome::NotApplicable; });
        if (outOfScope) {
            a.applicable = false;
            std::vector<Finding> kept;
            for (auto& f : a.findings)
                if (f.outcome == Outcome::NotApplicable) kept.push_back(std::move(f));
            a.findings = std::move(kept);
            a.dataGaps.clear();
            for (size_t t = 0; t < a.massages.size(); ++t) {
                a.massages[t].outcome = Outcome::NotApplicable;
                for (size_t i = 0; i < a.findings.size(); ++i) a.massages[t].findings.push_back(i);
            }
            dataDates(a);
            return a;
        }

        for (const auto& gap : c_.dataGaps) {
            std::vector<Evidence> ignored;
            if (eval(gap.when, ignored)) addGap(a, gap.id, gap.text);
        }
        for (const auto& g : unitGaps_) addGap(a, g.first, g.second);

        combine(a);
        dataDates(a);
        return a;
    }

private:
    // Precedence per type; any escalate anywhere makes every type escalate.
    void combine(Assessment& a) const {
        bool escalate = false;
        for (const auto& f : a.findings) escalate |= f.outcome == Outcome::Escalate;
        for (size_t t = 0; t < a.massages.size(); ++t) {
            MassageAssessment& m = a.massages[t];
            m.outcome = Outcome::NoFlag;
            for (size_t i = 0; i < a.findings.size(); ++i) {
                const Finding& f = a.findings[i];
                if (std::find(f.types.begin(), f.types.end(), t) == f.types.end()) continue;
                m.findings.push_back(i);
                if (outcomeRank(f.outcome) < outcomeRank(m.outcome)) m.outcome = f.outcome;
            }
            if (escalate) {
                m.outcome = Outcome::Escalate;
                for (size_t i = 0; i < a.findings.size(); ++i)
                    if (a.findings[i].outcome == Outcome::Escalate &&
                        std::find(m.findings.begin(), m.findings.end(), i) == m.findings.end())
                        m.findings.push_back(i);
                std::sort(m.findings.begin(), m.findings.end());
            }
            if (m.outcome == Outcome::Defer) {
                for (size_t i : m.findings) {
                    const Finding& f = a.findings[i];
                    if (f.outcome == Outcome::Defer && f.earliestDate &&
                        (!m.earliestDate || *f.earliestDate > *m.earliestDate))
                        m.earliestDate = f.earliestDate;
                }
            }
        }
    }

    static void addGap(Assessment& a, const std::string& id, const std::string& text) {
        for (const auto& g : a.dataGaps)
            if (g.text == text) return;
        a.dataGaps.push_back({id, text});
    }

    void dataDates(Assessment& a) const {
        auto note = [&](const std::optional<DateTime>& d) {
            if (!d || d->date > asOf_) return;
            if (!a.earliestDataDate || d->date < *a.earliestDataDate) a.earliestDataDate = d->date;
            if (!a.latestDataDate || d->date > *a.latestDataDate) a.latestDataDate = d->date;
        };
        for (const auto& o : r_.observations) note(o.when);
        for (const auto& p : r_.procedures) note(p.when);
        for (const auto& x : r_.conditions) note(x.when);
        for (const auto& m : r_.medications) note(m.when);
        for (const auto& e : r_.encounters) note(e.when);
    }

    // ---- Indexes built once per assessment -------------------------------------------

    // Which value sets each fact's codes fall in: one lookup per coding, for every clause.
    template <class Facts>
    void classify(const Facts& facts, std::vector<CodeIndex::Mask>& masks) const {
        masks.reserve(facts.size());
        for (const auto& f : facts) masks.push_back(c_.codeIndex.maskOf(f.codes));
    }

    // inValueSet(vs, codes), through the fact's mask when the value set is indexed.
    static bool in(const ValueSet& vs, CodeIndex::Mask mask, const Codings& codes) {
        return CodeIndex::indexed(vs) ? (mask & CodeIndex::bit(vs)) != 0 : inValueSet(vs, codes);
    }

    const ValueSet& valueSetOf(const Clause& cl) const {
        return cl.valueSetRef != nullptr ? *cl.valueSetRef : c_.valueSets.at(cl.valueSet);
    }

    void indexMeasures() {
        readings_.reserve(c_.measures.size());
        for (const auto& kv : c_.measures)
            readings_.push_back({&kv.first, &kv.second, &c_.valueSets.at(kv.second.valueSet), {}});
        std::vector<CodeIndex::Mask> componentMasks;
        for (const auto& o : r_.observations) {
            if (!observationCounts(o) || !o.when || o.when->date > asOf_) continue;
            const CodeIndex::Mask mask = c_.codeIndex.maskOf(o.codes);
            componentMasks.clear();
            for (const auto& comp : o.components) componentMasks.push_back(c_.codeIndex.maskOf(comp.codes));
            for (auto& mr : readings_) {
                const ValueSet& vs = *mr.valueSet;
                if (in(vs, mask, o.codes)) addReading(mr, o, o.codes, o.quantity);
                for (size_t k = 0; k < o.components.size(); ++k)
                    if (in(vs, componentMasks[k], o.components[k].codes))
                        addReading(mr, o, o.components[k].codes, o.components[k].quantity);
            }
        }
        for (auto& mr : readings_)  // newest first
            std::stable_sort(mr.readings.begin(), mr.readings.end(),
                             [](const Reading& x, const Reading& y) { return x.when->instant > y.when->instant; });
    }

    void addReading(MeasureReadings& mr, const Observation& o, const Codings& codes, const Quantity& q) {
        const Measure& m = *mr.measure;
        Reading rd;
        rd.when = &*o.when;
        rd.observation = &o;
        rd.codes = &codes;
        rd.valueSet = mr.valueSet;
        if (m.unit.empty()) {  // presence-only measure (e.g. lactation status)
            mr.readings.push_back(rd);
            return;
        }
        if (!q.present) return;
        const UnitConversion* conv = nullptr;
        for (const auto& u : m.units)
            if (u.code == q.unit) {
                conv = &u;
                break;
            }
        if (!conv) {
            unitGaps_.emplace_back("unit-" + m.id, m.display + " in " + std::string(o.source.resourceType) + "/" +
                                                       std::string(o.source.id) + " has unit \"" + std::string(q.unit) +
                                                       "\", which ppmg cannot convert to " + m.unit +
                                                       "; the value was not used");
            return;
        }
        rd.value = (q.value + conv->offset) * conv->scale;
        rd.quantity = &q;
        mr.readings.push_back(rd);
    }

    void indexWoundStatus() {
        const ValueSet& vs = c_.valueSets.at(c_.delivery.woundStatusValueSet);
        for (const auto& o : r_.observations) {
            if (!observationCounts(o) || !o.when || o.when->date > asOf_ || !inValueSet(vs, o.codes)) continue;
            if (!latestWound_ || o.when->instant > latestWound_->when->instant) latestWound_ = &o;
        }
    }

    bool withinDays(const DateTime& d, int days) const {
        return d.date <= asOf_ && (days < 0 || asOf_.days - d.date.days <= days);
    }

    const Reading* latestReading(const std::string& measure, int within) const {
        const MeasureReadings* found = nullptr;
        for (const auto& mr : readings_)
            if (*mr.id == measure) {
                found = &mr;
                break;
            }
        if (found == nullptr) throw std::out_of_range("no measure \"" + measure + "\" in the content");
        for (const auto& rd : found->readings)
            if (withinDays(*rd.when, within)) return &rd;  // newest first
        return nullptr;
    }

    // ---- Clauses -----------------------------------------------------------------------

    bool eval(const Clause& cl, std::vector<Evidence>& ev) const {
        using K = Clause::Kind;
        switch (cl.kind) {
            case K::AllOf: {
                std::vector<Evidence> local;
                for (const auto& ch : cl.children)
                    if (!eval(ch, local)) return false;
                ev.insert(ev.end(), std::make_move_iterator(local.begin()), std::make_move_iterator(local.end()));
                return true;
            }
            case K::AnyOf: {
                bool any = false;
                for (const auto& ch : cl.children) any |= eval(ch, ev);
                return any;
            }
            case K::NoneOf: {
                std::vector<Evidence> ignored;
                for (const auto& ch : cl.children)
                    if (eval(ch, ignored)) return false;
                return true;
            }
            case K::Condition: {
                const ValueSet& vs = valueSetOf(cl);
                bool hit = false;
                for (size_t i = 0; i < r_.conditions.size(); ++i) {
                    const Condition& x = r_.conditions[i];
                    if (!in(vs, conditionMasks_[i], x.codes) || !conditionCounts(x)) continue;
                    std::string status(x.clinicalStatus.shown.empty() ? "clinical status not recorded"
                                                                      : x.clinicalStatus.shown);
                    if (!x.verificationStatus.shown.empty()) status.append(", ").append(x.verificationStatus.shown);
                    ev.push_back(evidenceOf(x.source, x.codes, &vs, status, x.when));
                    hit = true;
                }
                return hit;
            }
            case K::Medication: {
                const ValueSet& vs = valueSetOf(cl);
                bool hit = false;
                for (size_t i = 0; i < r_.medications.size(); ++i) {
                    const Medication& m = r_.medications[i];
                    if (!in(vs, medicationMasks_[i], m.codes) || !medicationCounts(m)) continue;
                    ev.push_back(evidenceOf(m.source, m.codes, &vs, m.status, m.when));
                    hit = true;
                }
                return hit;
            }
            case K::Allergy: {
                const ValueSet& vs = valueSetOf(cl);
                bool hit = false;
                for (size_t i = 0; i < r_.allergies.size(); ++i) {
                    const Allergy& x = r_.allergies[i];
                    if (!in(vs, allergyMasks_[i], x.codes) || !allergyCounts(x)) continue;
                    ev.push_back(evidenceOf(x.source, x.codes, &vs,
                                            x.clinicalStatus.shown.empty() ? Text("recorded") : x.clinicalStatus.shown,
                                            x.when));
                    hit = true;
                }
                return hit;
            }
            case K::Observation: {
                const Reading* rd = latestReading(cl.measure, cl.withinDays);
                if (!rd || !meetsBounds(cl, rd->value)) return false;  // missing never meets a bound
                ev.push_back(rd->evidence());
                return true;
            }
            case K::NoObservation: return latestReading(cl.measure, cl.withinDays) == nullptr;
            case K::NoResource: {
                for (const auto& t : cl.resourceTypes)
                    if (countResources(t) > 0) return false;
                return true;
            }
            case K::DeliveryMode: {
                if (!episode_) return false;
                const char* mode = deliveryModeCode(episode_->mode);
                if (std::find(cl.values.begin(), cl.values.end(), mode) == cl.values.end()) return false;
                ev.insert(ev.end(), episode_->records.begin(), episode_->records.end());
                return true;
            }
            case K::PostpartumDay:
                return episode_ && meetsBounds(cl, static_cast<double>(asOf_.days - episode_->date.days));
            case K::WoundStatus: {
                if (!episode_) return false;
                // The latest status in the window; a value the content does not know counts as missing.
                std::string status = "missing";
                if (latestWound_ && withinDays(*latestWound_->when, cl.withinDays))
                    for (const auto& v : latestWound_->valueCodes)
                        if (c_.woundStatusValues.count(std::string(v.code))) {
                            status = v.code;
                            break;
                        }
                if (std::find(cl.values.begin(), cl.values.end(), status) == cl.values.end()) return false;
                if (status != "missing")
                    ev.push_back(
                        evidenceOf(latestWound_->source, latestWound_->codes, nullptr, status, latestWound_->when));
                return true;
            }
            case K::EpisodeProcedure: {
                if (!episode_) return false;
                const ValueSet& vs = valueSetOf(cl);
                bool hit = false;
                for (size_t i = 0; i < r_.procedures.size(); ++i) {
                    const Procedure& p = r_.procedures[i];
                    if (!in(vs, procedureMasks_[i], p.codes) || !p.when ||
                        !(p.status.empty() || std::string_view(p.status) == "completed"))
                        continue;
                    if (std::abs(p.when->date.days - episode_->date.days) > c_.delivery.episodeWindowDays) continue;
                    ev.push_back(
                        evidenceOf(p.source, p.codes, &vs, p.status.empty() ? Text("recorded") : p.status, p.when));
                    hit = true;
                }
                return hit;
            }
            case K::NoDelivery: return !anyDelivery_;
            case K::FutureDelivery: return futureDelivery_;
            case K::LastDeliveryOlderThan: {
                if (!episode_ || asOf_.days - episode_->date.days <= cl.days) return false;
                ev.insert(ev.end(), episode_->records.begin(), episode_->records.end());
                return true;
            }
            case K::PatientGender: {
                const auto& g = r_.patient.gender;
                if (std::find(cl.values.begin(), cl.values.end(), g) == cl.values.end()) return false;
                ev.push_back(patientEvidence("gender", g));
                return true;
            }
            case K::PatientAge: {
                if (!r_.patient.birthDate) return false;
                int age = ageInYears(*r_.patient.birthDate, asOf_);
                if (!meetsBounds(cl, age)) return false;
                ev.push_back(patientEvidence(
                    "age", std::to_string(age) + " years (born " + formatIsoDate(*r_.patient.birthDate) + ")"));
                return true;
            }
        }
        return false;
    }

    // what: a literal ("gender", "age").
    Evidence patientEvidence(const char* what, std::string_view value) const {
        Evidence e;
        e.resourceType = "Patient";
        e.id = r_.patient.source.id;
        e.path = r_.patient.source.pathText() + "." + (std::string_view(what) == "age" ? "birthDate" : what);
        e.display = what;
        e.value = value;
        return e;
    }

    size_t countResources(const std::string& type) const {
        if (type == "Condition") return r_.conditions.size();
        if (type == "Observation") return r_.observations.size();
        if (type == "Procedure") return r_.procedures.size();
        if (type == "AllergyIntolerance") return r_.allergies.size();
        if (type == "Encounter") return r_.encounters.size();
        if (type == "MedicationRequest" || type == "MedicationStatement")
            return static_cast<size_t>(
                std::count_if(r_.medications.begin(), r_.medications.end(),
                              [&](const Medication& m) { return m.source.resourceType == type; }));
        return 0;
    }

    const Content& c_;
    const PatientRecord& r_;
    Date asOf_;
    std::optional<DeliveryEpisode> episode_;
    bool anyDelivery_ = false;
    bool futureDelivery_ = false;
    std::vector<MeasureReadings> readings_;  // in the content's measure order
    std::vector<std::pair<std::string, std::string>> unitGaps_;
    const Observation* latestWound_ = nullptr;
    // CodeIndex masks of each fact's codes, by index in the record's lists.
    std::vector<CodeIndex::Mask> conditionMasks_, medicationMasks_, allergyMasks_, procedureMasks_;
};

}  // namespace

Assessment assess(const Content& content, const PatientRecord& record, Date asOf) {
    return Evaluation(content, record, asOf).run();
}

}  // namespace ppmg::core

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
    std::vector<Reading> unusable;  // values whose unit is missing or not convertible (rule 8)
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
        deliveries_ = findDeliveries(content, rec, asOf);
        episode_ = deliveries_.episode;
        indexMeasures();
        indexWoundStatus();
    }

    Assessment run() {
        Assessment a;
        a.asOf = asOf_;
        a.patient = r_.patient;
        a.text = r_.text;  // the patient's strings live there
        a.episode = episode_;
        a.futureDelivery = !deliveries_.afterAsOf.empty();
        if (episode_) a.postpartumDay = asOf_.days - episode_->date.days;
        a.massages.resize(c_.massageTypes.size());

        for (const auto& rule : c_.rules) {
            std::vector<Evidence> ev;
            anchor_.reset();
            if (!eval(rule.when, ev)) continue;
            Finding f;
            f.rule = &rule;
            f.outcome = rule.outcome;
            f.types = rule.types;
            f.evidence = std::move(ev);
            // A defer counts from the record its clause names (a recent caesarean), else the episode.
            const std::optional<Date> from = anchor_    ? anchor_
                                             : episode_ ? std::optional<Date>(episode_->date)
                                                        : std::nullopt;
            if (rule.outcome == Outcome::Defer && from && rule.earliestDay >= 0)
                f.earliestDate = from->plusDays(rule.earliestDay);
            a.findings.push_back(std::move(f));
            if (!rule.gap.empty()) addGap(a, rule.id, rule.gap, {});
        }

        const auto firstOutOfScope = std::find_if(a.findings.begin(), a.findings.end(),
                                                  [](const Finding& f) { return f.outcome == Outcome::NotApplicable; });
        if (firstOutOfScope != a.findings.end()) {
            // Rule 13: the one reason that applied, the first in the content's order.
            a.applicable = false;
            std::vector<Finding> kept;
            kept.push_back(std::move(*firstOutOfScope));
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
            std::vector<Evidence> named;
            if (eval(gap.when, named)) addGap(a, gap.id, gap.text, gap.namesData ? named : std::vector<Evidence>{});
        }
        for (const auto& g : unitGaps_) addGap(a, g.first, g.second, {});

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

    // A gap whose clause named records lists them after its text ("(Condition/c1, ...)").
    static void addGap(Assessment& a, const std::string& id, const std::string& text,
                       const std::vector<Evidence>& named) {
        std::string full = text;
        if (!named.empty()) {
            full += " (";
            for (size_t i = 0; i < named.size(); ++i) {
                if (i) full += ", ";
                full.append(named[i].resourceType).append("/").append(named[i].id);
                if (!named[i].value.empty() && named[i].value != "recorded") full.append(": ").append(named[i].value);
            }
            full += ")";
        }
        for (const auto& g : a.dataGaps)
            if (g.text == full) return;
        a.dataGaps.push_back({id, full});
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
            readings_.push_back({&kv.first, &kv.second, &c_.valueSets.at(kv.second.valueSet), {}, {}});
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
        if (!conv) {  // rule 8: a value that may be dangerous, which no rule can read
            unitGaps_.emplace_back("unit-" + m.id, m.display + " in " + std::string(o.source.resourceType) + "/" +
                                                       std::string(o.source.id) + " has unit \"" + std::string(q.unit) +
                                                       "\", which ppmg cannot convert to " + m.unit +
                                                       "; the value was not used");
            rd.quantity = &q;
            mr.unusable.push_back(rd);
            return;
        }
        rd.value = (q.value + conv->offset) * conv->scale;
        rd.quantity = &q;
        mr.readings.push_back(rd);
    }

    // The latest wound status (rule 19: of two at the same instant, the worse one; a value the
    // content does not name counts as missing).
    void indexWoundStatus() {
        const ValueSet& vs = c_.valueSets.at(c_.delivery.woundStatusValueSet);
        for (const auto& o : r_.observations) {
            if (!observationCounts(o) || !o.when || o.when->date > asOf_ || !inValueSet(vs, o.codes)) continue;
            const std::string_view value = woundValue(o);
            if (!latestWound_ || o.when->instant > latestWound_->when->instant ||
                (o.when->instant == latestWound_->when->instant && woundRank(value) < woundRank(woundStatus_))) {
                latestWound_ = &o;
                woundStatus_ = value;
            }
        }
    }

    std::string_view woundValue(const Observation& o) const {
        for (const auto& v : o.valueCodes)
            if (c_.woundStatusValues.count(std::string(v.code))) return v.code;
        return "missing";
    }
    // The place of a wound status in the content's order, worst first.
    size_t woundRank(std::string_view v) const {
        const auto& order = c_.delivery.woundStatusOrder;
        return static_cast<size_t>(std::find(order.begin(), order.end(), v) - order.begin());
    }

    // Rule 18: a datum that raises a flag counts when any day it allows falls in the window; one
    // that clears a flag only when every day it allows does. Window: the as-of date and the N days
    // before it (N < 0: no limit).
    bool anyDayWithin(const DateTime& d, int days) const {
        return d.date <= asOf_ && (days < 0 || asOf_.days - d.last.days <= days);
    }
    bool everyDayWithin(const DateTime& d, int days) const {
        return d.last <= asOf_ && (days < 0 || asOf_.days - d.date.days <= days);
    }
    // Rule 1: a fact dated after the as-of date does not count (undated facts do; a partial date
    // that holds the as-of date does).
    bool onOrBefore(const std::optional<DateTime>& when) const { return !when || when->date <= asOf_; }
    // Rule 2: a Condition that has abated on or before the as-of date (every day its abatement
    // allows) does not count, whatever its clinical status.
    bool abated(const Condition& c) const { return c.abatement && c.abatement->last <= asOf_; }
    bool conditionOnRecord(const Condition& c) const { return onOrBefore(c.when) && !abated(c) && conditionCounts(c); }

    const MeasureReadings& readingsOf(const std::string& measure) const {
        for (const auto& mr : readings_)
            if (*mr.id == measure) return mr;
        throw std::out_of_range("no measure \"" + measure + "\" in the content");
    }

    // The latest reading in the window (any day: a reading that may raise a flag; every day: one
    // that may clear one), and the others at the same instant after it.
    const Reading* latestReading(const std::string& measure, int within, bool everyDay = false) const {
        for (const auto& rd : readingsOf(measure).readings)  // newest first
            if (everyDay ? everyDayWithin(*rd.when, within) : anyDayWithin(*rd.when, within)) return &rd;
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
                    if (!in(vs, conditionMasks_[i], x.codes) || !conditionOnRecord(x)) continue;
                    ev.push_back(evidenceOf(x.source, x.codes, &vs, conditionStatus(x), x.when));
                    hit = true;
                }
                return hit;
            }
            case K::Medication: {
                const ValueSet& vs = valueSetOf(cl);
                bool hit = false;
                for (size_t i = 0; i < r_.medications.size(); ++i) {
                    const Medication& m = r_.medications[i];
                    if (!in(vs, medicationMasks_[i], m.codes) || !medicationCounts(m) || !onOrBefore(m.when)) continue;
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
                    if (!in(vs, allergyMasks_[i], x.codes) || !allergyCounts(x) || !onOrBefore(x.when)) continue;
                    ev.push_back(evidenceOf(x.source, x.codes, &vs,
                                            x.clinicalStatus.shown.empty() ? Text("recorded") : x.clinicalStatus.shown,
                                            x.when));
                    hit = true;
                }
                return hit;
            }
            case K::Observation: {
                // The latest reading that may raise the flag; of several at that instant, any that
                // meets the bounds (rule 19: the worse one). Missing never meets a bound.
                const auto& readings = readingsOf(cl.measure).readings;
                const Reading* latest = latestReading(cl.measure, cl.withinDays);
                if (!latest) return false;
                for (const Reading& rd : readings) {
                    if (rd.when->instant != latest->when->instant || !anyDayWithin(*rd.when, cl.withinDays)) continue;
                    if (!meetsBounds(cl, rd.value)) continue;
                    ev.push_back(rd.evidence());
                    return true;
                }
                return false;
            }
            case K::NoObservation:  // a reading clears "none in the window" only when it is surely in it
                return latestReading(cl.measure, cl.withinDays, true) == nullptr;
            case K::UnusableUnit: {
                // Rule 8: the latest value of a measure a rule reads, in the longest window a rule
                // reads it over, has a unit that is missing or not convertible.
                bool hit = false;
                for (const auto& mr : readings_) {
                    if (mr.measure->unit.empty() || mr.measure->ruleWindowDays == Measure::kNotRead) continue;
                    const Reading* usable = latestReading(*mr.id, mr.measure->ruleWindowDays);
                    for (const Reading& rd : mr.unusable) {
                        if (!anyDayWithin(*rd.when, mr.measure->ruleWindowDays)) continue;
                        if (usable && usable->when->instant > rd.when->instant) continue;
                        Evidence e = rd.evidence();
                        e.value = formatNumber(rd.quantity->value) + " " +
                                  (rd.quantity->unit.empty() ? std::string("(no unit)")
                                                             : "\"" + std::string(rd.quantity->unit) + "\"");
                        ev.push_back(std::move(e));
                        hit = true;
                    }
                }
                return hit;
            }
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
                // The latest status in the window: one that raises a flag when any day it allows is in
                // the window, one that clears it (worse than "missing" in the content's order) only
                // when every day is; otherwise missing.
                std::string_view status = "missing";
                if (latestWound_) {
                    const bool clears = woundRank(woundStatus_) > woundRank("missing");
                    const DateTime& when = *latestWound_->when;
                    if (clears ? everyDayWithin(when, cl.withinDays) : anyDayWithin(when, cl.withinDays))
                        status = woundStatus_;
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
                    if (!in(vs, procedureMasks_[i], p.codes) || !p.when || p.when->date > asOf_ ||
                        !(p.status.empty() || std::string_view(p.status) == "completed"))
                        continue;
                    if (std::abs(p.when->date.days - episode_->date.days) > c_.delivery.episodeWindowDays) continue;
                    ev.push_back(
                        evidenceOf(p.source, p.codes, &vs, p.status.empty() ? Text("recorded") : p.status, p.when));
                    hit = true;
                }
                return hit;
            }
            case K::NoDelivery: return !deliveries_.onRecord && deliveries_.afterAsOf.empty();
            case K::FutureDelivery:  // rule 3: dated after the as-of date, within the window
                if (deliveries_.afterAsOf.empty()) return false;
                ev.insert(ev.end(), deliveries_.afterAsOf.begin(), deliveries_.afterAsOf.end());
                return true;
            case K::LaterPregnancy:  // rule 3: beyond it, a later pregnancy
                if (deliveries_.laterPregnancy.empty()) return false;
                ev.insert(ev.end(), deliveries_.laterPregnancy.begin(), deliveries_.laterPregnancy.end());
                return true;
            case K::UndatedDelivery:  // rule 5
                if (deliveries_.undated.empty()) return false;
                ev.insert(ev.end(), deliveries_.undated.begin(), deliveries_.undated.end());
                return true;
            case K::CaesareanWithin: {  // rule 17: any caesarean record less than N days old
                bool hit = false;
                for (const auto& cs : deliveries_.caesareans) {
                    if (asOf_.days - cs.date.days >= cl.days) continue;
                    if (!anchor_ || cs.date > *anchor_) anchor_ = cs.date;
                    ev.push_back(cs.evidence);
                    hit = true;
                }
                return hit;
            }
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
            case K::UncodedCondition: {  // rule 9: an active problem without any coding
                bool hit = false;
                for (const auto& x : r_.conditions) {
                    if (!x.codes.empty() || !conditionOnRecord(x)) continue;
                    Evidence e = evidenceOf(x.source, x.codes, nullptr, conditionStatus(x), x.when);
                    e.display = x.codeText.empty() ? Text("(no text)") : x.codeText;
                    e.value = "\"" + std::string(x.codeText) + "\" (" + e.value + ")";
                    ev.push_back(std::move(e));
                    hit = true;
                }
                return hit;
            }
            case K::UnknownSubject: {  // rule 20: facts whose subject names no patient of the record
                const bool several = r_.patientCount > 1;
                if (several != (cl.values.front() == "several")) return false;
                const size_t before = ev.size();
                auto name = [&](const auto& facts, auto&& codes, auto&& counts) {
                    for (const auto& f : facts)
                        if (f.whose == Whose::Unknown && onOrBefore(f.when) && counts(f))
                            ev.push_back(evidenceOf(
                                f.source, codes(f), nullptr,
                                f.subject.empty() ? std::string("no subject") : "subject " + std::string(f.subject),
                                f.when));
                };
                auto all = [](const auto&) { return true; };
                name(
                    r_.conditions, [](const Condition& c) { return c.codes; },
                    [&](const Condition& c) { return conditionOnRecord(c); });
                name(
                    r_.medications, [](const Medication& m) { return m.codes; },
                    [](const Medication& m) { return medicationCounts(m); });
                name(
                    r_.allergies, [](const Allergy& a) { return a.codes; },
                    [](const Allergy& a) { return allergyCounts(a); });
                name(
                    r_.procedures, [](const Procedure& p) { return p.codes; }, all);
                name(
                    r_.observations, [](const Observation& o) { return o.codes; },
                    [](const Observation& o) { return observationCounts(o); });
                name(
                    r_.encounters, [](const Encounter& e) { return e.types; }, all);
                return ev.size() > before;
            }
            case K::UnknownMedication: {  // rule 20: a medication whose medicine is unknown
                bool hit = false;
                for (const auto& m : r_.medications) {
                    if (!m.unresolved || !medicationCounts(m) || !onOrBefore(m.when)) continue;
                    Evidence e = evidenceOf(m.source, m.codes, nullptr, m.status, m.when);
                    e.display =
                        m.medicationReference.empty() ? Text("medication without a code") : m.medicationReference;
                    ev.push_back(std::move(e));
                    hit = true;
                }
                return hit;
            }
            case K::UnreadableStatus: {  // rule 19: a status that cannot be read counts as active
                bool hit = false;
                auto unreadable = [](const StatusReading& s) { return s.state == StatusReading::State::Unreadable; };
                for (const auto& x : r_.conditions)
                    if ((unreadable(x.clinicalStatus) || unreadable(x.verificationStatus)) && onOrBefore(x.when)) {
                        ev.push_back(evidenceOf(x.source, x.codes, nullptr, conditionStatus(x), x.when));
                        hit = true;
                    }
                for (const auto& x : r_.allergies)
                    if ((unreadable(x.clinicalStatus) || unreadable(x.verificationStatus)) && onOrBefore(x.when)) {
                        ev.push_back(evidenceOf(x.source, x.codes, nullptr, x.clinicalStatus.shown, x.when));
                        hit = true;
                    }
                return hit;
            }
        }
        return false;
    }

    // How a Condition's statuses read, for its evidence.
    static std::string conditionStatus(const Condition& x) {
        std::string status(x.clinicalStatus.shown.empty() ? "clinical status not recorded" : x.clinicalStatus.shown);
        if (x.clinicalStatus.state == StatusReading::State::Unreadable) status += " (unreadable: counts as active)";
        if (!x.verificationStatus.shown.empty()) status.append(", ").append(x.verificationStatus.shown);
        if (x.verificationStatus.state == StatusReading::State::Unreadable) status += " (unreadable)";
        return status;
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

    // The resources of a type on record by the as-of date (rule 1: one dated after it is not).
    size_t countResources(const std::string& type) const {
        auto count = [&](const auto& facts) {
            return static_cast<size_t>(
                std::count_if(facts.begin(), facts.end(), [&](const auto& f) { return onOrBefore(f.when); }));
        };
        if (type == "Condition") return count(r_.conditions);
        if (type == "Observation") return count(r_.observations);
        if (type == "Procedure") return count(r_.procedures);
        if (type == "AllergyIntolerance") return count(r_.allergies);
        if (type == "Encounter") return count(r_.encounters);
        if (type == "MedicationRequest" || type == "MedicationStatement")
            return static_cast<size_t>(std::count_if(
                r_.medications.begin(), r_.medications.end(),
                [&](const Medication& m) { return m.source.resourceType == type && onOrBefore(m.when); }));
        return 0;
    }

    const Content& c_;
    const PatientRecord& r_;
    Date asOf_;
    DeliveryFindings deliveries_;
    std::optional<DeliveryEpisode> episode_;
    mutable std::optional<Date> anchor_;     // the date a rule's defer counts from, when a clause names one
    std::vector<MeasureReadings> readings_;  // in the content's measure order
    std::vector<std::pair<std::string, std::string>> unitGaps_;
    const Observation* latestWound_ = nullptr;
    std::string_view woundStatus_ = "missing";  // its value (the worse of two at one instant)
    // CodeIndex masks of each fact's codes, by index in the record's lists.
    std::vector<CodeIndex::Mask> conditionMasks_, medicationMasks_, allergyMasks_, procedureMasks_;
};

}  // namespace

Assessment assess(const Content& content, const PatientRecord& record, Date asOf) {
    return Evaluation(content, record, asOf).run();
}

}  // namespace ppmg::core

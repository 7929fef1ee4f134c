// Finding the delivery (clinical-rules.md "Finding the delivery", and 1.1 rules 3, 4, 5, 14, 17,
// 18): delivery procedures, delivery-coded Conditions and Observations, the delivery-date and
// delivery-method observations, and (for older Synthea output) an obstetric admission followed by
// a postnatal visit. Codes, windows and day counts come from the content.
#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "assess/evidence.hpp"
#include "assess/rule_engine.hpp"

namespace ppmg::core {
namespace {

struct DeliveryRecord {
    Date date;
    DeliveryMode mode;
    Evidence evidence;
    std::string heuristic;
};

// A caesarean procedure counts unless it was not done or entered in error: whether the incision
// was made cannot be known from unknown, in-progress, preparation, on-hold or stopped (rule 17).
// Other delivery procedures count when completed, or without a status.
bool procedureCounts(const Procedure& p, DeliveryMode mode) {
    const std::string_view s = p.status;
    if (mode == DeliveryMode::Caesarean) return s != "not-done" && s != "entered-in-error";
    return s.empty() || s == "completed";
}

bool observationCounts(const Observation& o) {
    const std::string_view s = o.status;
    return s.empty() || s == "final" || s == "amended" || s == "corrected";
}

bool refuted(const StatusReading& s) {
    return s.state == StatusReading::State::Read && (s.code == "refuted" || s.code == "entered-in-error");
}

}  // namespace

Evidence evidenceOf(const Source& s, const Codings& codes, const ValueSet* vs, std::string_view value,
                    const std::optional<DateTime>& when) {
    Evidence e;
    e.resourceType = s.resourceType;
    e.id = s.id;
    e.path = s.pathText();
    e.document = s.document;
    const Coding* pick = codes.empty() ? nullptr : &codes.front();
    if (vs)
        for (const auto& c : codes)
            if (codingInValueSet(*vs, c.system, c.code)) {
                pick = &c;
                break;
            }
    if (pick) {
        e.code = pick->code;
        e.codeSystem = pick->system;
        e.display = pick->display;
    }
    e.value = value;
    if (when) e.date = when->text;
    return e;
}

const char* deliveryModeCode(DeliveryMode m) {
    switch (m) {
        case DeliveryMode::Vaginal: return "vaginal";
        case DeliveryMode::Caesarean: return "caesarean";
        default: return "unknown";
    }
}

Date deliveryDate(const DateTime& when, Date asOf) {
    if (!when.partial()) return when.date;
    if (when.date <= asOf && asOf <= when.last) return asOf;  // the partial date holds the as-of date
    return when.last;
}

DeliveryFindings findDeliveries(const Content& content, const PatientRecord& rec, Date asOf) {
    const DeliveryConfig& dc = content.delivery;
    const ValueSet& caesarean = content.valueSets.at(dc.caesareanValueSet);
    const ValueSet& vaginal = content.valueSets.at(dc.vaginalValueSet);
    const ValueSet& dateObs = content.valueSets.at(dc.dateObservationValueSet);
    const ValueSet& admission = content.valueSets.at(dc.obstetricAdmissionValueSet);
    const ValueSet& postnatal = content.valueSets.at(dc.postnatalVisitValueSet);
    const ValueSet* unspecified =
        dc.unspecifiedValueSet.empty() ? nullptr : &content.valueSets.at(dc.unspecifiedValueSet);
    const ValueSet* method =
        dc.methodObservationValueSet.empty() ? nullptr : &content.valueSets.at(dc.methodObservationValueSet);

    DeliveryFindings out;
    std::vector<DeliveryRecord> records;
    // The mode a set of codes names, with the value set that named it; false when none.
    auto modeOf = [&](const Codings& codes, DeliveryMode& mode, const ValueSet*& vs) {
        if (inValueSet(caesarean, codes)) return mode = DeliveryMode::Caesarean, vs = &caesarean, true;
        if (inValueSet(vaginal, codes)) return mode = DeliveryMode::Vaginal, vs = &vaginal, true;
        if (unspecified && inValueSet(*unspecified, codes)) return mode = DeliveryMode::Unknown, vs = unspecified, true;
        return false;
    };
    auto add = [&](const std::optional<DateTime>& when, DeliveryMode mode, Evidence evidence) {
        if (!when) {  // rule 5: an undated delivery record is a data gap, not a delivery
            out.undated.push_back(std::move(evidence));
            return;
        }
        records.push_back({deliveryDate(*when, asOf), mode, std::move(evidence), ""});
    };

    static const char* const kModeValue[] = {"vaginal", "caesarean", "mode not stated"};
    for (const auto& p : rec.procedures) {
        DeliveryMode mode;
        const ValueSet* vs;
        if (!modeOf(p.codes, mode, vs) || !procedureCounts(p, mode)) continue;
        std::string value = kModeValue[static_cast<int>(mode)];
        if (!p.status.empty() && p.status != "completed") value.append(" (status ").append(p.status).append(")");
        add(p.when, mode, evidenceOf(p.source, p.codes, vs, value, p.when));
    }
    for (const auto& c : rec.conditions) {  // e.g. the finding 200144004 "Deliveries by cesarean"
        DeliveryMode mode;
        const ValueSet* vs;
        if (!modeOf(c.codes, mode, vs) || refuted(c.verificationStatus)) continue;
        add(c.when, mode, evidenceOf(c.source, c.codes, vs, kModeValue[static_cast<int>(mode)], c.when));
    }
    for (const auto& o : rec.observations) {
        if (!observationCounts(o)) continue;
        DeliveryMode mode;
        const ValueSet* vs;
        if (inValueSet(dateObs, o.codes)) {
            if (o.valueDateTime)
                records.push_back({deliveryDate(*o.valueDateTime, asOf), DeliveryMode::Unknown,
                                   evidenceOf(o.source, o.codes, &dateObs, o.valueDateTime->text, o.valueDateTime),
                                   ""});
        } else if (modeOf(o.codes, mode, vs)) {
            add(o.when, mode, evidenceOf(o.source, o.codes, vs, kModeValue[static_cast<int>(mode)], o.when));
        } else if (method && inValueSet(*method, o.codes) && modeOf(o.valueCodes, mode, vs)) {
            add(o.when, mode, evidenceOf(o.source, o.valueCodes, vs, kModeValue[static_cast<int>(mode)], o.when));
        }
    }
    // Older Synthea output: an obstetric admission followed, within the window, by a postnatal visit
    // (both on record by the as-of date) marks a birth whose mode the record does not state.
    // The visit is the first in record order dated within (admission, admission + window], found
    // by a range-minimum table over the visits sorted by date: trying every visit for every
    // admission is quadratic (40 s for a record with 30,000 of each).
    std::vector<std::pair<int32_t, size_t>> visits;  // (date, index in rec.encounters), by date
    for (size_t i = 0; i < rec.encounters.size(); ++i) {
        const Encounter& v = rec.encounters[i];
        if (v.when && v.when->date <= asOf && inValueSet(postnatal, v.types)) visits.push_back({v.when->date.days, i});
    }
    std::sort(visits.begin(), visits.end());
    // firstIn[k][j]: the smallest record index among visits[j .. j + 2^k).
    std::vector<std::vector<size_t>> firstIn(1);
    for (const auto& v : visits) firstIn[0].push_back(v.second);
    for (size_t k = 1; (size_t{1} << k) <= visits.size(); ++k) {
        const size_t half = size_t{1} << (k - 1);
        std::vector<size_t> level(visits.size() - (size_t{1} << k) + 1);
        for (size_t j = 0; j < level.size(); ++j) level[j] = std::min(firstIn[k - 1][j], firstIn[k - 1][j + half]);
        firstIn.push_back(std::move(level));
    }
    for (const auto& adm : rec.encounters) {
        if (!adm.when || !inValueSet(admission, adm.types)) continue;
        const int32_t day = adm.when->date.days;
        auto byDate = [](const std::pair<int32_t, size_t>& v, int32_t d) { return v.first <= d; };
        const size_t lo =
            static_cast<size_t>(std::lower_bound(visits.begin(), visits.end(), day, byDate) - visits.begin());
        const size_t hi = static_cast<size_t>(
            std::lower_bound(visits.begin(), visits.end(), day + dc.postnatalWindowDays, byDate) - visits.begin());
        if (lo >= hi) continue;
        size_t k = 0;
        while ((size_t{1} << (k + 1)) <= hi - lo) ++k;
        const Encounter& visit = rec.encounters[std::min(firstIn[k][lo], firstIn[k][hi - (size_t{1} << k)])];
        records.push_back({adm.when->date, DeliveryMode::Unknown,
                           evidenceOf(adm.source, adm.types, &admission, "obstetric admission", adm.when),
                           "obstetric admission " + std::string(adm.source.id) + " on " +
                               formatIsoDate(adm.when->date) + " followed by postnatal visit " +
                               std::string(visit.source.id) + " on " + formatIsoDate(visit.when->date)});
    }

    // Rule 3: after the as-of date, a record within the window is a data error; beyond it, a later
    // pregnancy, outside this assessment.
    const DeliveryRecord* latest = nullptr;
    for (const auto& r : records) {
        if (r.date > asOf) {
            (r.date.days - asOf.days <= dc.laterPregnancyDays ? out.afterAsOf : out.laterPregnancy)
                .push_back(r.evidence);
            continue;
        }
        if (r.mode == DeliveryMode::Caesarean) out.caesareans.push_back({r.date, r.evidence});
        // The most recent record dates the episode; on the same day, the one that decides the mode.
        auto decides = [](DeliveryMode m) { return m == DeliveryMode::Caesarean ? 2 : m == DeliveryMode::Vaginal; };
        if (!latest || r.date > latest->date || (r.date == latest->date && decides(r.mode) > decides(latest->mode)))
            latest = &r;
    }
    out.onRecord = latest != nullptr;
    if (!latest) return out;

    // Rule 4: the records within the episode window of the latest belong to its episode, which the
    // latest dates (the later date is the cautious one). Rule 14: the mode, and the records that
    // decided it first in the evidence (the caesarean for a caesarean, not an episiotomy of the same
    // episode); then the record that dates the episode, then the rest.
    DeliveryEpisode ep;
    ep.date = latest->date;
    std::vector<const DeliveryRecord*> members;
    bool sawCaesarean = false, sawVaginal = false;
    for (const auto& r : records) {
        if (r.date > asOf || std::abs(r.date.days - ep.date.days) > dc.episodeWindowDays) continue;
        members.push_back(&r);
        sawCaesarean |= r.mode == DeliveryMode::Caesarean;
        sawVaginal |= r.mode == DeliveryMode::Vaginal;
        if (!r.heuristic.empty()) ep.heuristics.push_back(r.heuristic);
    }
    ep.mode = sawCaesarean ? DeliveryMode::Caesarean : sawVaginal ? DeliveryMode::Vaginal : DeliveryMode::Unknown;
    auto decided = [&](const DeliveryRecord* r) { return ep.mode != DeliveryMode::Unknown && r->mode == ep.mode; };
    std::stable_sort(members.begin(), members.end(),
                     [&](const DeliveryRecord* x, const DeliveryRecord* y) { return x->date > y->date; });
    for (const DeliveryRecord* r : members)
        if (decided(r)) ep.records.push_back(r->evidence);
    if (!decided(latest)) ep.records.push_back(latest->evidence);
    for (const DeliveryRecord* r : members)
        if (r != latest && !decided(r)) ep.records.push_back(r->evidence);
    out.episode = std::move(ep);
    return out;
}

}  // namespace ppmg::core

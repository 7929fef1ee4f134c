// Finding the delivery: procedures, the delivery-date observation, and (for older Synthea
// output) an obstetric admission followed by a postnatal visit. Codes come from the content.
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

bool procedureDone(const Procedure& p) { return p.status.empty() || std::string_view(p.status) == "completed"; }

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

std::optional<DeliveryEpisode> findDeliveryEpisode(const Content& content, const PatientRecord& rec, Date asOf,
                                                   bool& anyDelivery, bool& futureDelivery) {
    const DeliveryConfig& dc = content.delivery;
    const ValueSet& caesarean = content.valueSets.at(dc.caesareanValueSet);
    const ValueSet& vaginal = content.valueSets.at(dc.vaginalValueSet);
    const ValueSet& dateObs = content.valueSets.at(dc.dateObservationValueSet);
    const ValueSet& admission = content.valueSets.at(dc.obstetricAdmissionValueSet);
    const ValueSet& postnatal = content.valueSets.at(dc.postnatalVisitValueSet);
    const ValueSet* unspecified =
        dc.unspecifiedValueSet.empty() ? nullptr : &content.valueSets.at(dc.unspecifiedValueSet);

    std::vector<DeliveryRecord> records;
    for (const auto& p : rec.procedures) {
        if (!procedureDone(p) || !p.when) continue;
        if (inValueSet(caesarean, p.codes))
            records.push_back({p.when->date, DeliveryMode::Caesarean,
                               evidenceOf(p.source, p.codes, &caesarean, "caesarean", p.when), ""});
        else if (inValueSet(vaginal, p.codes))
            records.push_back(
                {p.when->date, DeliveryMode::Vaginal, evidenceOf(p.source, p.codes, &vaginal, "vaginal", p.when), ""});
        else if (unspecified && inValueSet(*unspecified, p.codes))  // e.g. Synthea's "Childbirth"
            records.push_back({p.when->date, DeliveryMode::Unknown,
                               evidenceOf(p.source, p.codes, unspecified, "mode not stated", p.when), ""});
    }
    for (const auto& o : rec.observations) {
        if (!inValueSet(dateObs, o.codes) || !o.valueDateTime) continue;
        const std::string_view status = o.status;
        if (!status.empty() && status != "final" && status != "amended" && status != "corrected") continue;
        records.push_back({o.valueDateTime->date, DeliveryMode::Unknown,
                           evidenceOf(o.source, o.codes, &dateObs, o.valueDateTime->text, o.valueDateTime), ""});
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
    anyDelivery = !records.empty();
    futureDelivery =
        std::any_of(records.begin(), records.end(), [&](const DeliveryRecord& r) { return r.date > asOf; });

    const DeliveryRecord* latest = nullptr;
    for (const auto& r : records)
        if (r.date <= asOf && (!latest || r.date > latest->date)) latest = &r;
    if (!latest) return std::nullopt;

    DeliveryEpisode ep;
    ep.date = latest->date;
    bool sawCaesarean = false, sawVaginal = false;
    for (const auto& r : records) {
        if (r.date > asOf || std::abs(r.date.days - ep.date.days) > dc.episodeWindowDays) continue;
        sawCaesarean |= r.mode == DeliveryMode::Caesarean;
        sawVaginal |= r.mode == DeliveryMode::Vaginal;
        ep.records.push_back(r.evidence);
        if (!r.heuristic.empty()) ep.heuristics.push_back(r.heuristic);
    }
    ep.mode = sawCaesarean ? DeliveryMode::Caesarean : sawVaginal ? DeliveryMode::Vaginal : DeliveryMode::Unknown;
    return ep;
}

}  // namespace ppmg::core

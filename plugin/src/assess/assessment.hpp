// The result of assessing one patient: per massage type an outcome, its findings and, for
// defer, the earliest date. Writers (CDA, JSON, text) read only this and the content.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clinical_date.hpp"
#include "content/content.hpp"
#include "read/patient_record.hpp"

namespace ppmg::core {

enum class DeliveryMode { Vaginal, Caesarean, Unknown };
const char* deliveryModeCode(DeliveryMode m);  // "vaginal", "caesarean", "unknown"

// The patient datum that triggered a finding. The Text fields view the record's arena (which the
// Assessment keeps: Assessment::text) or literals; path and value are built for the finding.
struct Evidence {
    Text resourceType;
    Text id;
    std::string path;
    Text code;
    Text codeSystem;  // FHIR system uri
    Text display;
    std::string value;                        // "38.9 Cel", "active", "healed"
    Text date;                                // as written in the record ("" when none)
    const DocumentEntry* document = nullptr;  // a C-CDA entry: its id, section and template (Source::document)
};

struct Finding {
    const Rule* rule = nullptr;  // content-owned
    Outcome outcome = Outcome::NoFlag;
    std::vector<size_t> types;         // massage type indexes it affects
    std::optional<Date> earliestDate;  // defer only
    std::vector<Evidence> evidence;
};

struct DataGap {
    std::string id;
    std::string text;
};

struct MassageAssessment {
    Outcome outcome = Outcome::NoFlag;
    std::optional<Date> earliestDate;  // defer only
    std::vector<size_t> findings;      // indexes into Assessment::findings
};

struct DeliveryEpisode {
    Date date;
    DeliveryMode mode = DeliveryMode::Unknown;
    std::vector<Evidence> records;        // the records that make up the episode
    std::vector<std::string> heuristics;  // how the delivery was found when not by a delivery code
};

// What the delivery records say as of a date (assess/delivery_episode.cpp).
struct DeliveryFindings {
    std::optional<DeliveryEpisode> episode;
    bool onRecord = false;                 // a delivery record on or before the as-of date
    std::vector<Evidence> afterAsOf;       // dated after it, within the later-pregnancy window
    std::vector<Evidence> laterPregnancy;  // dated beyond that window: ignored
    std::vector<Evidence> undated;         // delivery-coded records without a date: a data gap
    struct Caesarean {
        Date date;
        Evidence evidence;
    };
    std::vector<Caesarean> caesareans;  // caesarean records on or before the as-of date
};

struct Assessment {
    bool applicable = true;
    Date asOf;
    std::optional<DeliveryEpisode> episode;
    std::optional<int> postpartumDay;
    bool futureDelivery = false;
    std::vector<Finding> findings;
    std::vector<MassageAssessment> massages;  // by Content::massageTypes index
    std::vector<DataGap> dataGaps;
    std::optional<Date> latestDataDate;  // newest datum the rules could read
    std::optional<Date> earliestDataDate;
    Patient patient;
    std::shared_ptr<const TextArena> text;  // holds the patient's strings (the record's arena)
    bool escalated() const;
};

}  // namespace ppmg::core

// The rule engine: evaluates the content's rules over one patient's record as of a date.
#pragma once

#include "assess/assessment.hpp"
#include "content/content.hpp"
#include "read/patient_record.hpp"

namespace ppmg::core {

// Pure function of (content, record, as-of date): no state, safe from many threads.
Assessment assess(const Content& content, const PatientRecord& record, Date asOf);

// The delivery records as of the date (exposed for tests): the episode (the most recent delivery
// record not after asOf, with the records within the content's episode window), the records after
// asOf (within the later-pregnancy window: a data error; beyond: a later pregnancy), undated
// delivery records, and the caesarean records on or before asOf.
DeliveryFindings findDeliveries(const Content& content, const PatientRecord& record, Date asOf);

// The date a delivery record counts from (rule 18): its date; a partial date's last day, or the
// as-of date when the partial date holds it.
Date deliveryDate(const DateTime& when, Date asOf);

}  // namespace ppmg::core

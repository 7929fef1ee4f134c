// The rule engine: evaluates the content's rules over one patient's record as of a date.
#pragma once

#include "assess/assessment.hpp"
#include "content/content.hpp"
#include "read/patient_record.hpp"

namespace ppmg::core {

// Pure function of (content, record, as-of date): no state, safe from many threads.
Assessment assess(const Content& content, const PatientRecord& record, Date asOf);

// The delivery episode as of the date (exposed for tests): the most recent delivery record not
// after asOf, with the records within the content's episode window; futureDelivery is set when
// any delivery record is dated after asOf.
std::optional<DeliveryEpisode> findDeliveryEpisode(const Content& content, const PatientRecord& record, Date asOf,
                                                   bool& anyDelivery, bool& futureDelivery);

}  // namespace ppmg::core

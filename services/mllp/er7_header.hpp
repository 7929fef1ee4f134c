// What the listener reads of a frame itself, before the plugin reads the record: the header of
// its first message (MSH), or of its batch (BHS, then the first MSH), to acknowledge it; and the
// acknowledgement (ACK) it sends back, in the sender's own separators.
#pragma once

#include <string>
#include <string_view>

namespace ppmg::mllp {

struct Header {
    bool found = false;  // an MSH (or a BHS) was read
    char field = '|';
    std::string encoding = "^~\\&";  // the sender's encoding characters, as written
    std::string sendingApplication, sendingFacility, receivingApplication, receivingFacility;  // raw
    std::string messageCode, triggerEvent;                                                     // MSH-9.1, MSH-9.2
    std::string controlId;       // MSH-10 (the first message's)
    std::string processingId;    // MSH-11.1
    std::string version;         // MSH-12.1
    bool batch = false;          // FHS/BHS
    std::string batchControlId;  // BHS-11
    size_t messages = 0;         // MSH segments in the frame
    // The id an acknowledgement names: BHS-11 of a batch, else the first MSH-10.
    const std::string& acknowledgedId() const { return batch && !batchControlId.empty() ? batchControlId : controlId; }
};

Header readHeader(std::string_view frame);

// An error's place for ERR (ERL): "SEG[n]-f" or "SEG[n]-f.c" as the plugin reports it.
struct ErrorPlace {
    std::string segment;
    int sequence = 0, field = 0, component = 0;
};
ErrorPlace parsePlace(std::string_view path);

struct Ack {
    std::string code;   // AA, AE or AR
    std::string text;   // MSA-3 / ERR text; "" for AA
    int errorCode = 0;  // HL7 table 0357 (ERR-3), 0 for none
    ErrorPlace place;   // ERR-2
};

// The ACK message for the header: MSH (sender and receiver swapped, ACK^<trigger>^ACK, a new
// control id, the sender's version), MSA (code, acknowledged id, text) and, for an error, ERR
// (v2.5+: ERR-2 location, ERR-3 code, ERR-4 severity E, ERR-8 text; v2.3/2.4: ERR-1).
std::string buildAck(const Header& h, const Ack& ack, std::string_view application, std::string_view facility,
                     std::string_view controlId, std::string_view timestamp);

// A value escaped for ER7 with the header's separators.
std::string escapeFor(const Header& h, std::string_view v);

}  // namespace ppmg::mllp

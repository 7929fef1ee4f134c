// The HL7 v2 parser (read/hl7v2_parser.hpp): ER7 bytes into the neutral form, deciding nothing.
#include "read/hl7v2_parser.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "base/errors.hpp"
#include "base/hl7_datetime.hpp"
#include "read/record_mapping.hpp"

namespace ppmg::core {

namespace {

using std::string_view;

// The HL7 systems of FHIR's status codes (the mapping reads statuses by them).
constexpr string_view kConditionClinical = status_system::kConditionClinical;
constexpr string_view kConditionVerification = status_system::kConditionVerification;
constexpr string_view kAllergyClinical = status_system::kAllergyClinical;
constexpr string_view kAllergyVerification = status_system::kAllergyVerification;

bool isSegmentIdChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Splits s at each sep; calls f(part, index from 0) until f returns false.
template <class F>
void eachPart(string_view s, char sep, F&& f) {
    size_t start = 0, i = 0;
    while (true) {
        const size_t end = s.find(sep, start);
        if (!f(s.substr(start, end == string_view::npos ? string_view::npos : end - start), i++)) return;
        if (end == string_view::npos) return;
        start = end + 1;
    }
}

// The n-th part (1-based) of s split at sep, "" when absent.
string_view part(string_view s, char sep, size_t n) {
    size_t start = 0;
    for (size_t i = 1; i < n; ++i) {
        const size_t end = s.find(sep, start);
        if (end == string_view::npos) return {};
        start = end + 1;
    }
    const size_t end = s.find(sep, start);
    return s.substr(start, end == string_view::npos ? string_view::npos : end - start);
}

string_view trim(string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct Delimiters {
    char field = '|', component = '^', repetition = '~', escape = '\\', subcomponent = '&';
    bool hasEscape = true;
};

// One segment: its fields as views of the input. fields[n] is SEG-n; for MSH/FHS/BHS fields[1] is
// the field separator itself and fields[2] the encoding characters, as the standard numbers them.
struct Segment {
    string_view id;
    std::vector<string_view> fields;
    size_t line = 0;        // 1-based segment number in the input
    size_t occurrence = 1;  // the n-th segment with this id in its message
    string_view field(size_t n) const { return n < fields.size() ? fields[n] : string_view(); }
};

// One message's context while its segments are read.
struct Message {
    Text controlId;                                    // MSH-10
    Text subject;                                      // the fullUrl of the patient of the last PID
    std::optional<DateTime> observed;                  // the last OBR's observation date/time (OBR-7)
    std::optional<DateTime> reported;                  // the last OBR's results report/status change (OBR-22)
    std::optional<DateTime> authored;                  // the current order group's ORC-9
    const Segment* orc{};                              // the ORC of the current order group
    size_t orderMedication = static_cast<size_t>(-1);  // the request an RXO of this group made
    std::vector<std::pair<string_view, size_t>> counts;
    size_t occurrence(string_view id) {
        for (auto& c : counts)
            if (c.first == id) return ++c.second;
        counts.emplace_back(id, 1);
        return 1;
    }
};

class Parser {
public:
    Parser(const ReadLimits& limits, const std::string& sourceName, RawRecord& out)
        : limits_(limits), source_(sourceName), out_(out), text_(*out.text) {}

    void parse(string_view data) {
        // An MLLP frame's start and end bytes, when a file was saved with them.
        while (!data.empty() && (data.front() == '\x0b' || data.front() == ' ' || data.front() == '\t'))
            data.remove_prefix(1);
        while (!data.empty() && (data.back() == '\x1c' || data.back() == '\r' || data.back() == '\n' ||
                                 data.back() == ' ' || data.back() == '\t'))
            data.remove_suffix(1);
        size_t pos = 0, line = 0;
        bool sawMessage = false;
        while (pos < data.size()) {
            size_t end = data.find_first_of("\r\n", pos);
            if (end == string_view::npos) end = data.size();
            const string_view text = data.substr(pos, end - pos);
            pos = end;
            if (pos < data.size() && data[pos] == '\r') ++pos;
            if (pos < data.size() && data[pos] == '\n') ++pos;
            ++line;
            if (trim(text).empty()) continue;
            split(text, line);
            const string_view id = seg_.id;
            if (id == "MSH") {
                beginMessage();
                sawMessage = true;
                continue;
            }
            if (id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS") continue;  // the batch envelope
            if (!sawMessage)
                fail(PPMG_E_PARSE,
                     "the segment " + std::string(id) + " comes before any MSH (a message starts with MSH)", 0);
            seg_.occurrence = msg_.occurrence(id);
            read();
        }
        if (!sawMessage)
            throw Error(PPMG_E_PARSE, "the input holds no HL7 v2 message (no MSH segment)",
                        Location{source_, "", "", 1});
    }

private:
    // ---- syntax ------------------------------------------------------------------------------

    // Reads a header's separator and encoding characters (MSH, FHS, BHS), which then hold for the
    // segments that follow.
    void header(string_view text, size_t line) {
        seg_.line = line;
        seg_.id = text.substr(0, 3);
        seg_.occurrence = 1;
        if (text.size() < 8)
            fail(PPMG_E_PARSE, std::string(seg_.id) + " is too short to hold its separator and encoding characters", 1);
        const char f = text[3];
        if (isSegmentIdChar(f) || (f >= 'a' && f <= 'z') || f == ' ')
            fail(PPMG_E_PARSE, std::string(seg_.id) + "-1 (the field separator) is a letter, digit or space", 1);
        size_t encEnd = text.find(f, 4);
        if (encEnd == string_view::npos) encEnd = text.size();
        string_view enc = text.substr(4, encEnd - 4);
        // "^~\\&": a doubled escape character, as a source-code string literal writes it (one of the
        // published samples carries it): read as "^~\&".
        if (enc == "^~\\\\&") enc = "^~\\&";
        if (enc.size() < 2 || enc.size() > 5)
            fail(PPMG_E_PARSE,
                 std::string(seg_.id) + "-2 (the encoding characters) must hold 2 to 5 characters, got \"" +
                     std::string(enc) + "\"",
                 2);
        Delimiters d;
        d.field = f;
        d.component = enc[0];
        d.repetition = enc[1];
        d.hasEscape = enc.size() >= 3;
        d.escape = d.hasEscape ? enc[2] : '\0';
        d.subcomponent = enc.size() >= 4 ? enc[3] : '\0';
        const char chars[] = {d.field, d.component, d.repetition, d.escape, d.subcomponent};
        for (size_t i = 0; i < 5; ++i)
            for (size_t j = i + 1; j < 5; ++j)
                if (chars[i] != '\0' && chars[i] == chars[j])
                    fail(PPMG_E_PARSE,
                         std::string(seg_.id) + "-2 (the encoding characters \"" + std::string(enc) +
                             "\") uses one character for two separators",
                         2);
        delims_ = d;
        seg_.fields.clear();
        seg_.fields.push_back(seg_.id);
        seg_.fields.push_back(text.substr(3, 1));
        seg_.fields.push_back(enc);
        if (encEnd < text.size())
            eachPart(text.substr(encEnd + 1), f, [&](string_view p, size_t) {
                seg_.fields.push_back(p);
                return true;
            });
    }

    void split(string_view text, size_t line) {
        const string_view id = text.substr(0, 3);
        const bool idOk = text.size() >= 3 && std::all_of(id.begin(), id.end(), isSegmentIdChar);
        if (idOk && (id == "MSH" || id == "FHS" || id == "BHS") && text.size() > 3) {
            header(text, line);
            return;
        }
        seg_.line = line;
        seg_.id = id;
        if (!idOk || (text.size() > 3 && text[3] != delims_.field)) {
            seg_.id = {};
            throw Error(PPMG_E_PARSE,
                        "line " + std::to_string(line) + " is not an HL7 v2 segment (\"" +
                            std::string(text.substr(0, 40)) +
                            "\"): a segment starts with a three-character id and the field separator",
                        Location{source_, "", std::string(msg_.controlId), static_cast<long>(line)});
        }
        seg_.fields.clear();
        eachPart(text, delims_.field, [&](string_view p, size_t) {
            seg_.fields.push_back(p);
            return true;
        });
    }

    [[noreturn]] void fail(ppmg_status status, const std::string& message, size_t field, size_t component = 0) const {
        std::string at(seg_.id);
        at += "[" + std::to_string(seg_.occurrence) + "]";
        if (field) at += "-" + std::to_string(field);
        if (field && component) at += "." + std::to_string(component);
        throw Error(status, "line " + std::to_string(seg_.line) + ", " + at + ": " + message,
                    Location{source_, at, std::string(msg_.controlId), static_cast<long>(seg_.line)});
    }

    // A field of the current segment, checked against the string limit.
    string_view field(size_t n) const {
        const string_view v = seg_.field(n);
        if (v.size() > limits_.maxStringBytes) fail(PPMG_E_LIMIT, "the field is longer than the string limit", n);
        return v;
    }
    string_view firstRep(string_view v) const { return part(v, delims_.repetition, 1); }
    string_view comp(string_view v, size_t n) const { return part(v, delims_.component, n); }
    string_view sub(string_view v, size_t n) const {
        return delims_.subcomponent ? part(v, delims_.subcomponent, n) : (n == 1 ? v : string_view());
    }

    // A leaf value (no separators left in it) decoded into the arena: escapes replaced; "" (an
    // explicit null) and an empty value give "".
    Text decode(string_view raw, size_t fieldNo) const {
        if (raw == "\"\"" || raw.empty()) return {};
        if (!delims_.hasEscape || raw.find(delims_.escape) == string_view::npos) return text_.keep(raw);
        std::string& out = scratch_;
        out.clear();
        bool hex = false;
        for (size_t i = 0; i < raw.size(); ++i) {
            const char c = raw[i];
            if (c != delims_.escape) {
                out += c;
                continue;
            }
            const size_t close = raw.find(delims_.escape, i + 1);
            if (close == string_view::npos) {  // no closing escape: the text as written
                out.append(raw.substr(i));
                break;
            }
            const string_view seq = raw.substr(i + 1, close - i - 1);
            if (seq == "F")
                out += delims_.field;
            else if (seq == "S")
                out += delims_.component;
            else if (seq == "T")
                out += delims_.subcomponent;
            else if (seq == "R")
                out += delims_.repetition;
            else if (seq == "E")
                out += delims_.escape;
            else if (seq == ".br")
                out += '\n';
            else if (!seq.empty() && seq[0] == 'X' && seq.size() % 2 == 1 && seq.size() > 1 &&
                     seq.find_first_not_of("0123456789ABCDEFabcdef", 1) == string_view::npos) {
                for (size_t k = 1; k < seq.size(); k += 2) {
                    unsigned v = 0;
                    std::from_chars(seq.data() + k, seq.data() + k + 2, v, 16);
                    if (v == 0)
                        fail(PPMG_E_ENCODING, "the escape \\" + std::string(seq) + "\\ holds a NUL byte", fieldNo);
                    out += static_cast<char>(v);
                }
                hex = true;
            } else if (seq == "H" || seq == "N" ||
                       (!seq.empty() && (seq[0] == 'C' || seq[0] == 'M' || seq[0] == 'Z')) ||
                       (seq.size() >= 2 && seq[0] == '.')) {
                // Highlighting, character-set switches (the input is UTF-8), local escapes and
                // formatting commands: no text of their own.
                if (seq.size() >= 2 && seq[0] == '.' && seq != ".fi" && seq != ".nf") out += ' ';
            } else {
                out.append(raw.substr(i, close - i + 1));  // unknown: kept as written
            }
            i = close;
        }
        if (hex && !simdjson::validate_utf8(out.data(), out.size()))
            fail(PPMG_E_ENCODING, "a \\X..\\ escape decodes to bytes that are not UTF-8", fieldNo);
        return text_.keep(out);
    }

    // ---- data types ----------------------------------------------------------------------------

    // A CWE/CE/CNE value (one repetition) as codings: each triplet with a code (1-3, 4-6, and
    // v2.7's 10-12); the system as written (CWE-3: a table 0396 name, or an OID).
    void codingsOf(string_view cwe, size_t fieldNo, std::vector<Coding>& list) const {
        static constexpr size_t kTriplets[] = {1, 4, 10};
        for (size_t first : kTriplets) {
            const Text code = decode(sub(comp(cwe, first), 1), fieldNo);
            if (code.empty()) continue;
            list.push_back(Coding{decode(sub(comp(cwe, first + 2), 1), fieldNo), code,
                                  decode(sub(comp(cwe, first + 1), 1), fieldNo)});
        }
    }
    Codings inArena(const std::vector<Coding>& list) const {
        if (list.empty()) return {};
        Coding* out = text_.make<Coding>(list.size());
        std::copy(list.begin(), list.end(), out);
        return Codings(out, list.size());
    }
    // Every repetition's codings.
    Codings codings(size_t fieldNo) const {
        codings_.clear();
        eachPart(field(fieldNo), delims_.repetition, [&](string_view rep, size_t) {
            codingsOf(rep, fieldNo, codings_);
            return true;
        });
        return inArena(codings_);
    }
    // A coded field's text, for a concept without codes: CWE-9 (original text), else CWE-2.
    Text conceptText(size_t fieldNo) const {
        const string_view v = firstRep(field(fieldNo));
        Text t = decode(sub(comp(v, 9), 1), fieldNo);
        if (t.empty()) t = decode(sub(comp(v, 2), 1), fieldNo);
        return t;
    }

    std::optional<DateTime> dateTime(size_t fieldNo) const {
        // TS: DTM^degree of precision (the second component is deprecated and ignored).
        const string_view v = trim(sub(comp(firstRep(field(fieldNo)), 1), 1));
        if (v.empty() || v == "\"\"") return std::nullopt;
        auto dt = parseHl7DateTime(text_.keep(v));  // its text views the arena
        if (!dt) fail(PPMG_E_NOT_FHIR, "\"" + std::string(v.substr(0, 40)) + "\" is not an HL7 date/time", fieldNo);
        return dt;
    }

    // A code of an HL7 table (an ID/IS, or a CWE's identifier), decoded.
    string_view tableCode(size_t fieldNo) const {
        return trim(decode(sub(comp(firstRep(field(fieldNo)), 1), 1), fieldNo));
    }

    // One coding in an HL7 system, in the arena (system and code are literals).
    Codings statusCoding(string_view system, string_view code) const {
        Coding* one = text_.make<Coding>(1);
        one->system = system;
        one->code = code;
        return Codings(one, 1);
    }

    // A PRB status field (PRB-13 confirmation, PRB-14 life cycle): each coding that names FHIR's
    // code system, or carries one of its codes with no system, as FHIR's; HL7 table codes
    // translated (`letters`); anything else as written (the mapping cannot read it: it counts,
    // and is a data gap).
    template <size_t N, size_t M>
    Codings problemStatus(size_t fieldNo, string_view fhirSystem, const string_view (&fhirCodes)[N],
                          const std::pair<string_view, string_view> (&letters)[M]) const {
        std::vector<Coding> list;
        eachPart(field(fieldNo), delims_.repetition, [&](string_view rep, size_t) {
            codingsOf(rep, fieldNo, list);
            return true;
        });
        for (Coding& c : list) {
            const string_view system = c.system, code = c.code;
            if (system == fhirSystem) continue;
            // No system, or an HL7 table's name ("HL70393"): the table's own codes.
            const bool table = system.size() == 7 && system.substr(0, 3) == "HL7" &&
                               system.find_first_not_of("0123456789", 3) == string_view::npos;
            if (!system.empty() && !table) continue;
            for (string_view f : fhirCodes)
                if (code == f) c.system = fhirSystem;
            for (const auto& l : letters)
                if (code == l.first) {
                    c.system = fhirSystem;
                    c.code = l.second;
                }
        }
        return inArena(list);
    }

    // ---- facts ---------------------------------------------------------------------------------

    void count() const {
        if (++out_.resourceCount > limits_.maxResources)
            fail(PPMG_E_LIMIT, "the record holds more facts than the limit of " + std::to_string(limits_.maxResources),
                 0);
    }

    Source source(const char* resourceType) const {
        Source s;
        s.resourceType = resourceType;  // a literal
        std::string id(msg_.controlId);
        id += "/";
        id += seg_.id;
        id += "[" + std::to_string(seg_.occurrence) + "]";
        s.id = text_.keep(id);
        s.path = text_.keep("line " + std::to_string(seg_.line) + ", " + std::string(seg_.id) + "[" +
                            std::to_string(seg_.occurrence) + "] of message " + std::string(msg_.controlId));
        return s;
    }

    void beginMessage() {
        msg_ = Message{};
        msg_.controlId = decode(comp(seg_.field(10), 1), 10);
        seg_.occurrence = msg_.occurrence("MSH");
        const string_view version = trim(comp(seg_.field(12), 1));
        static constexpr string_view kVersions[] = {"2.3", "2.3.1", "2.4", "2.5",   "2.5.1", "2.6",
                                                    "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"};
        if (std::find(std::begin(kVersions), std::end(kVersions), version) == std::end(kVersions))
            fail(PPMG_E_UNSUPPORTED,
                 version.empty()
                     ? std::string("the message names no HL7 version (MSH-12); ppmg reads 2.3 to 2.8")
                     : "HL7 version " + std::string(version.substr(0, 20)) + " is not supported; ppmg reads 2.3 to 2.8",
                 12);
    }

    void read() {
        const string_view id = seg_.id;
        if (id == "PID")
            readPid();
        else if (id == "PV1")
            readPv1();
        else if (id == "OBR") {
            msg_.observed = dateTime(7);
            msg_.reported = dateTime(22);
        } else if (id == "OBX")
            readObx();
        else if (id == "DG1")
            readDg1();
        else if (id == "PRB")
            readPrb();
        else if (id == "PR1")
            readPr1();
        else if (id == "ORC") {
            orc_ = seg_;
            msg_.orc = &orc_;
            msg_.authored = dateTime(9);
            msg_.orderMedication = static_cast<size_t>(-1);
        } else if (id == "RXO" || id == "RXE")
            readOrder(id == "RXE");
        else if (id == "RXA")
            readRxa();
        else if (id == "AL1")
            readAl1();
        else if (id == "IAM")
            readIam();
    }

    // PID: the patient of the facts that follow in this message. One Patient per distinct PID-3
    // identifier set (PID-2, then PID-4, when PID-3 is empty: older senders' patient ids).
    void readPid() {
        size_t idField = 3;
        if (trim(field(3)).empty()) idField = !trim(field(2)).empty() ? 2 : 4;
        std::vector<Identifier> ids;
        std::vector<std::string> keys;
        eachPart(field(idField), delims_.repetition, [&](string_view cx, size_t) {
            const Text value = decode(sub(comp(cx, 1), 1), idField);
            if (value.empty()) return true;
            // CX-4 assigning authority (HD): an ISO universal id is an OID, a UUID a UUID, another
            // universal id as written; else its namespace id.
            const string_view hd = comp(cx, 4);
            const Text ns = decode(sub(hd, 1), idField), universal = decode(sub(hd, 2), idField);
            const string_view type = sub(hd, 3);
            std::string system;
            if (!universal.empty())
                system = type == "ISO"    ? "urn:oid:" + std::string(universal)
                         : type == "UUID" ? "urn:uuid:" + std::string(universal)
                                          : std::string(universal);
            else
                system = std::string(ns);
            // CX-5: the identifier type (table 0203, as FHIR's Identifier.type takes it).
            ids.push_back(Identifier{text_.keep(system), value, decode(sub(comp(cx, 5), 1), idField)});
            keys.push_back(system + "|" + std::string(value) + "|" + std::string(comp(cx, 5)));
            return true;
        });
        std::sort(keys.begin(), keys.end());
        std::string key;
        for (const auto& k : keys) key += k + "~";
        if (key.empty()) key = "(no identifier) message " + std::to_string(++anonymous_);
        auto found = patientByKey_.find(key);
        if (found != patientByKey_.end()) {
            msg_.subject = out_.patients[found->second].fullUrl;
            return;
        }
        count();
        Patient& p = out_.patients.emplace_back();
        p.source.resourceType = "Patient";
        p.source.id = ids.empty() ? Text() : ids.front().value;
        p.source.path = text_.keep("line " + std::to_string(seg_.line) + ", PID[" + std::to_string(seg_.occurrence) +
                                   "] of message " + std::string(msg_.controlId));
        p.fullUrl = text_.keep("urn:ppmg:hl7v2:patient:" + std::to_string(out_.patients.size()));
        p.identifiers = std::move(ids);
        // PID-5: the legal name (XPN-7 "L"), else the first.
        string_view name;
        eachPart(field(5), delims_.repetition, [&](string_view xpn, size_t i) {
            if (i == 0 || comp(xpn, 7) == "L") name = xpn;
            return comp(xpn, 7) != "L";
        });
        p.family = decode(sub(comp(name, 1), 1), 5);
        for (size_t c : {2, 3})  // given name, then second and further given names
            if (const Text g = decode(sub(comp(name, c), 1), 5); !g.empty()) p.given.push_back(g);
        // PID-8 (table 0001): F, M, O, U; A (ambiguous) is other, N (not applicable) unknown.
        const string_view sex = tableCode(8);
        p.gender = sex == "F"   ? "female"
                   : sex == "M" ? "male"
                   : sex == "O" ? "other"
                   : sex == "A" ? "other"
                   : sex == "U" ? "unknown"
                   : sex == "N" ? "unknown"
                                : "";
        if (auto birth = dateTime(7)) p.birthDate = birth->date;
        patientByKey_.emplace(std::move(key), out_.patients.size() - 1);
        msg_.subject = p.fullUrl;
    }

    // PV1: an Encounter; types from PV1-4 (admission type) and PV1-18 (patient type), started at
    // PV1-44 (admit date/time).
    void readPv1() {
        count();
        Encounter& e = out_.encounters.emplace_back();
        e.source = source("Encounter");
        e.subject = msg_.subject;
        codings_.clear();
        for (size_t f : {4, 18}) codingsOf(firstRep(field(f)), f, codings_);
        e.types = inArena(codings_);
        e.start = dateTime(44);
    }

    // OBX: an Observation. Value by OBX-2; status OBX-11 (table 0085); time OBX-14, else the
    // order's OBR-7; issued OBR-22.
    void readObx() {
        count();
        Observation& o = out_.observations.emplace_back();
        o.source = source("Observation");
        o.subject = msg_.subject;
        o.codes = codings(3);
        const string_view status = tableCode(11);
        o.status = observationStatus(status);
        o.effective = dateTime(14);
        if (!o.effective) o.effective = msg_.observed;
        o.issued = msg_.reported;
        const string_view type = tableCode(2);
        const string_view value = field(5);
        if (value.empty() || value == "\"\"") return;
        if (type == "NM" || type == "SN") {
            const string_view v = firstRep(value);
            string_view number = v;
            if (type == "SN") {  // comparator^num1^separator^num2: only a plain "=" number is a value
                const string_view cmp = trim(comp(v, 1));
                if ((!cmp.empty() && cmp != "=") || !comp(v, 3).empty() || !comp(v, 4).empty()) return;
                number = comp(v, 2);
            }
            const Text decoded = decode(trim(number), 5);
            if (decoded.empty()) return;
            o.quantity.value = parseNumber(trim(decoded), 5);
            o.quantity.present = true;
            const string_view unit = firstRep(field(6));
            o.quantity.unit = decode(sub(comp(unit, 1), 1), 6);
            if (o.quantity.unit.empty()) o.quantity.unit = decode(sub(comp(unit, 2), 1), 6);
        } else if (type == "CE" || type == "CWE" || type == "CNE" || type == "CF") {
            o.valueCodes = codings(5);
        } else if (type == "TS" || type == "DTM" || type == "DT") {
            o.valueDateTime = dateTime(5);
        } else if (type == "ST" || type == "TX" || type == "FT") {
            std::string text;
            eachPart(value, delims_.repetition, [&](string_view rep, size_t i) {
                if (i) text += '\n';
                text.append(decode(rep, 5));
                return true;
            });
            o.valueText = text_.keep(text);
        }
    }

    double parseNumber(string_view s, size_t fieldNo) const {
        string_view digits = s;
        if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
        double v = 0;
        const char* end = digits.data() + digits.size();
        const auto r = std::from_chars(digits.data(), end, v, std::chars_format::fixed);
        if (r.ec != std::errc() || r.ptr != end || digits.find_first_not_of("-0123456789.") != string_view::npos)
            fail(PPMG_E_NOT_FHIR, "\"" + std::string(s.substr(0, 40)) + "\" is not a number (OBX-2 says NM)", fieldNo);
        return v;
    }

    // Table 0085 (observation result status) in FHIR's ObservationStatus codes.
    static Text observationStatus(string_view s) {
        if (s.empty()) return {};
        switch (s.size() == 1 ? s[0] : '?') {
            case 'F': return "final";
            case 'C': return "corrected";
            case 'A': return "amended";
            case 'U': return "final";  // status changed to final, results not sent again
            case 'P':
            case 'R':
            case 'S': return "preliminary";
            case 'I':
            case 'O': return "registered";
            case 'X':
            case 'N': return "cancelled";
            case 'D':
            case 'W': return "entered-in-error";
            default: return "unknown";
        }
    }

    // DG1: a Condition. Code DG1-3 (else its text, else DG1-4); onset DG1-5; recorded DG1-19;
    // verification from DG1-6 (A admitting, W working: provisional; F final: confirmed) and
    // DG1-21 (D, deleted: entered-in-error).
    void readDg1() {
        count();
        Condition& c = out_.conditions.emplace_back();
        c.source = source("Condition");
        c.subject = msg_.subject;
        c.codes = codings(3);
        c.codeText = decode(sub(comp(firstRep(field(3)), 9), 1), 3);
        if (c.codeText.empty() && c.codes.empty()) {
            c.codeText = conceptText(3);
            if (c.codeText.empty()) c.codeText = decode(firstRep(field(4)), 4);
        }
        c.onset = dateTime(5);
        c.recorded = dateTime(19);
        const string_view type = tableCode(6), action = tableCode(21);
        if (action == "D")
            c.verificationStatusCodings = statusCoding(kConditionVerification, "entered-in-error");
        else if (type == "A" || type == "W")
            c.verificationStatusCodings = statusCoding(kConditionVerification, "provisional");
        else if (type == "F")
            c.verificationStatusCodings = statusCoding(kConditionVerification, "confirmed");
    }

    // PRB: a Condition from the problem list. Code PRB-3; recorded PRB-7; abatement PRB-9; onset
    // PRB-16; PRB-13 confirmation status and PRB-14 life cycle status (FHIR's codes, or table
    // 0393's: C confirmed, D differential, P provisional); PRB-1 DE (deleted): entered-in-error.
    void readPrb() {
        count();
        Condition& c = out_.conditions.emplace_back();
        c.source = source("Condition");
        c.subject = msg_.subject;
        c.codes = codings(3);
        c.codeText = decode(sub(comp(firstRep(field(3)), 9), 1), 3);
        if (c.codeText.empty() && c.codes.empty()) c.codeText = conceptText(3);
        c.recorded = dateTime(7);
        c.abatement = dateTime(9);
        c.onset = dateTime(16);
        static constexpr string_view kVerification[] = {"unconfirmed", "provisional", "differential",
                                                        "confirmed",   "refuted",     "entered-in-error"};
        static constexpr std::pair<string_view, string_view> kTable0393[] = {
            {"C", "confirmed"}, {"D", "differential"}, {"P", "provisional"}};
        static constexpr string_view kClinical[] = {"active",   "recurrence", "relapse",
                                                    "inactive", "remission",  "resolved"};
        static constexpr std::pair<string_view, string_view> kNoLetters[] = {{"", ""}};
        if (tableCode(1) == "DE")
            c.verificationStatusCodings = statusCoding(kConditionVerification, "entered-in-error");
        else
            c.verificationStatusCodings = problemStatus(13, kConditionVerification, kVerification, kTable0393);
        c.clinicalStatusCodings = problemStatus(14, kConditionClinical, kClinical, kNoLetters);
    }

    // PR1: a Procedure. Code PR1-3; performed PR1-5. PR1 carries no status (a procedure that
    // was done): none is written, except PR1-20 D (deleted): entered-in-error.
    void readPr1() {
        count();
        Procedure& p = out_.procedures.emplace_back();
        p.source = source("Procedure");
        p.subject = msg_.subject;
        p.codes = codings(3);
        p.performed = dateTime(5);
        if (tableCode(20) == "D") p.status = "entered-in-error";
    }

    // The order group's status for a MedicationRequest: ORC-5 (table 0038), else ORC-1's order
    // control (table 0119) for a group without one.
    Text orderStatus(bool request) const {
        if (!msg_.orc) return {};
        const Segment& o = *msg_.orc;
        const string_view status = trim(comp(firstRep(o.field(5)), 1));
        if (!status.empty()) {
            if (status == "IP" || status == "SC" || status == "A") return "active";
            if (status == "HD") return "on-hold";
            if (status == "CM") return "completed";
            if (status == "DC") return "stopped";
            if (status == "CA") return request ? "cancelled" : "not-taken";
            if (status == "ER") return "entered-in-error";
            return "unknown";  // RP (replaced) and anything else
        }
        const string_view control = trim(comp(firstRep(o.field(1)), 1));
        if (control == "NW" || control == "OK" || control == "XO" || control == "XX" || control == "RL" ||
            control == "SN" || control == "RO" || control == "RE" || control == "PA" || control == "CH")
            return "active";
        if (control == "HD" || control == "OH") return "on-hold";
        if (control == "CA" || control == "OC" || control == "CR") return request ? "cancelled" : "not-taken";
        if (control == "DC" || control == "OD" || control == "DR") return "stopped";
        return {};
    }

    // RXO, RXE: a MedicationRequest of the order group; code RXO-1 / RXE-2; status from the ORC;
    // authored ORC-9. An RXE after an RXO of the same group is the same order: its codes join.
    void readOrder(bool rxe) {
        const size_t codeField = rxe ? 2 : 1;
        const Codings codes = codings(codeField);
        if (rxe && msg_.orderMedication != static_cast<size_t>(-1)) {
            Medication& m = out_.medications[msg_.orderMedication];
            std::vector<Coding> all(codes.begin(), codes.end());
            all.insert(all.end(), m.codes.begin(), m.codes.end());
            m.codes = inArena(all);
            msg_.orderMedication = static_cast<size_t>(-1);
            return;
        }
        count();
        Medication& m = out_.medications.emplace_back();
        m.source = source("MedicationRequest");
        m.subject = msg_.subject;
        m.codes = codes;
        m.status = orderStatus(true);
        m.authoredOn = msg_.authored;
        if (!rxe) msg_.orderMedication = out_.medications.size() - 1;
    }

    // RXA: a MedicationStatement (what was given). Code RXA-5; effective RXA-3; status from the
    // ORC, else RXA-21 D (deleted): entered-in-error, else RXA-20 (table 0322: CP complete, PA
    // partial: completed; RE refused, NA not given: not-taken).
    void readRxa() {
        count();
        Medication& m = out_.medications.emplace_back();
        m.source = source("MedicationStatement");
        m.subject = msg_.subject;
        m.codes = codings(5);
        m.effective = dateTime(3);
        m.status = orderStatus(false);
        const string_view action = tableCode(21), completion = tableCode(20);
        if (action == "D")
            m.status = "entered-in-error";
        else if (m.status.empty()) {
            if (completion == "CP" || completion == "PA") m.status = "completed";
            if (completion == "RE" || completion == "NA") m.status = "not-taken";
        }
    }

    // AL1: an AllergyIntolerance; code AL1-3; onset AL1-6. AL1 carries no status.
    void readAl1() {
        count();
        Allergy& a = out_.allergies.emplace_back();
        a.source = source("AllergyIntolerance");
        a.subject = msg_.subject;
        a.codes = codings(3);
        a.onset = dateTime(6);
    }

    // IAM: an AllergyIntolerance; code IAM-3; onset IAM-11; recorded IAM-13; IAM-17 allergy
    // clinical status (table 0438) as verification (U, P, S, D: unconfirmed; C: confirmed; I:
    // confirmed and clinically inactive; E: entered-in-error); IAM-6 D (deleted):
    // entered-in-error.
    void readIam() {
        count();
        Allergy& a = out_.allergies.emplace_back();
        a.source = source("AllergyIntolerance");
        a.subject = msg_.subject;
        a.codes = codings(3);
        a.onset = dateTime(11);
        a.recorded = dateTime(13);
        const string_view status = tableCode(17);
        if (tableCode(6) == "D" || status == "E")
            a.verificationStatusCodings = statusCoding(kAllergyVerification, "entered-in-error");
        else if (status == "C" || status == "I")
            a.verificationStatusCodings = statusCoding(kAllergyVerification, "confirmed");
        else if (status == "U" || status == "P" || status == "S" || status == "D")
            a.verificationStatusCodings = statusCoding(kAllergyVerification, "unconfirmed");
        if (status == "I") a.clinicalStatusCodings = statusCoding(kAllergyClinical, "inactive");
    }

    const ReadLimits& limits_;
    const std::string& source_;
    RawRecord& out_;
    TextArena& text_;
    Delimiters delims_;
    Segment seg_;
    Segment orc_;  // the current order group's ORC (its views stay valid: they view the input)
    Message msg_;
    std::unordered_map<std::string, size_t> patientByKey_;
    size_t anonymous_ = 0;
    mutable std::string scratch_;
    mutable std::vector<Coding> codings_;
};

}  // namespace

bool looksLikeHl7v2(std::string_view s) {
    if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
    const size_t first = s.find_first_not_of(" \t\r\n\x0b");
    if (first == std::string_view::npos || s.size() < first + 4) return false;
    const std::string_view id = s.substr(first, 3);
    const char sep = s[first + 3];
    return (id == "MSH" || id == "FHS" || id == "BHS") && !isSegmentIdChar(sep) && sep != ' ' &&
           !(sep >= 'a' && sep <= 'z') && sep != '\r' && sep != '\n';
}

RawRecord readHl7v2(std::string_view data, const ReadLimits& limits, const std::string& sourceName) {
    RawRecord out;
    Parser(limits, sourceName, out).parse(data);
    return out;
}

}  // namespace ppmg::core

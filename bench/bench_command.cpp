// `ppmg bench`: the cost of one document, measured as a host sees it.
//
// It loads the plugin and creates an engine (both timed), reads the files into memory, then
// calls the C ABI (ppmg_core_api_v1) in a loop. The default unit is one document: one
// assess_and_render call on one file, both buffers freed included: parse, rules, the JSON
// assessment and the CDA document. --unit render times one render call (parse, rules, CDA: what a
// host that only shows the guidance calls, and the same work the Node peer does); --unit two-calls
// an assess call and then a render call (a host on ABI 1.0). Warm-up is excluded. It
// reports per-unit p50/p99 latency, units per second, peak RSS and bytes out; and, in the same
// run, the floor: reading the same bytes with simdjson alone (libxml2 alone for XML input) and
// writing a document of the same size and element density with libxml2's xmlTextWriter alone, so
// the product's cost over the floor shows as a ratio. docs/performance.md describes the method.
#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <simdjson.h>
#include <sys/resource.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench_command.hpp"
#include "cli_common.hpp"
#include "json_writer.hpp"

namespace ppmg::cli {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
uint64_t nanosBetween(Clock::time_point a, Clock::time_point b) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// Resident set size now, in KiB (from /proc/self/statm).
long currentRssKb() {
    std::ifstream f("/proc/self/statm");
    long pages = 0, resident = 0;
    if (!(f >> pages >> resident)) return 0;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

long peakRssKb() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;  // KiB on Linux
}

// Percentiles the way ../shared/bench/harness.js takes them: a[min(n-1, floor(p*n))].
struct Stats {
    size_t n = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // microseconds
};

Stats statsOf(std::vector<uint64_t> ns) {
    Stats s;
    s.n = ns.size();
    if (ns.empty()) return s;
    std::sort(ns.begin(), ns.end());
    auto q = [&](double p) {
        size_t i = std::min(ns.size() - 1, static_cast<size_t>(std::floor(p * static_cast<double>(ns.size()))));
        return static_cast<double>(ns[i]) / 1e3;
    };
    double sum = 0;
    for (uint64_t v : ns) sum += static_cast<double>(v);
    s.p50 = q(0.5);
    s.p90 = q(0.9);
    s.p99 = q(0.99);
    s.p999 = q(0.999);
    s.max = static_cast<double>(ns.back()) / 1e3;
    s.mean = sum / static_cast<double>(ns.size()) / 1e3;
    return s;
}

struct Input {
    std::string path;
    std::string data;
    ppmg_request request{};
    bool json = true;
    bool hl7v2 = false;  // HL7 v2 ER7: the floor is splitting it into segments and fields
    // Shape of the product's CDA for this input, to size the writing floor.
    size_t cdaBytes = 0, jsonBytes = 0, elements = 0, attributes = 0, textBytes = 0;
    bool applicable = true;
};

struct Failure {
    ppmg_status status = PPMG_OK;
    std::string file, message;
};

// What one measured unit is.
enum class Unit {
    Render,    // one render call: the CDA document
    Both,      // one assess_and_render call: the JSON assessment and the CDA document
    TwoCalls,  // an assess call, then a render call: both outputs, the record read twice
};

const char* unitName(Unit u) {
    switch (u) {
        case Unit::Render: return "render";
        case Unit::Both: return "assess_and_render";
        default: return "assess+render";
    }
}

// Fills failure from a failed call's status and error (and frees the error); returns false.
bool failed(const ppmg_core_api_v1& api, const Input& in, ppmg_status s, ppmg_error* err, Failure& failure) {
    failure.status = s;
    failure.file = in.path;
    failure.message = err && err->message ? err->message : api.status_name(s);
    if (err && err->fhir_path) failure.message += std::string(" (at ") + err->fhir_path + ")";
    api.error_free(err);
    return false;
}

// One unit through the ABI; returns false (and fills failure) on an error. assessNs and renderNs
// are the two calls' times (TwoCalls); otherwise assessNs is 0 and renderNs the one call's time.
bool document(const ppmg_core_api_v1& api, const ppmg_engine* engine, const Input& in, Unit unit, uint64_t& assessNs,
              uint64_t& renderNs, size_t& bytesOut, Failure& failure) {
    const bool renderOnly = unit != Unit::TwoCalls;
    ppmg_buffer* out = nullptr;
    ppmg_error* err = nullptr;
    const auto t0 = Clock::now();
    if (unit == Unit::Both) {
        ppmg_buffer* doc = nullptr;
        const ppmg_status s = api.assess_and_render(engine, &in.request, &out, &doc, &err);
        if (s == PPMG_OK) {
            bytesOut += out->size + doc->size;
            api.buffer_free(out);
            api.buffer_free(doc);
        }
        const auto t1 = Clock::now();
        if (s != PPMG_OK) return failed(api, in, s, err, failure);
        assessNs = 0;
        renderNs = nanosBetween(t0, t1);
        return true;
    }
    ppmg_status s = renderOnly ? PPMG_OK : api.assess(engine, &in.request, &out, &err);
    if (s == PPMG_OK && !renderOnly) {
        bytesOut += out->size;
        api.buffer_free(out);
    }
    const auto t1 = Clock::now();
    if (s == PPMG_OK) {
        s = api.render(engine, &in.request, &out, &err);
        if (s == PPMG_OK) {
            bytesOut += out->size;
            api.buffer_free(out);
        }
    }
    const auto t2 = Clock::now();
    if (s != PPMG_OK) return failed(api, in, s, err, failure);
    assessNs = renderOnly ? 0 : nanosBetween(t0, t1);  // so that a render run's p50 is render_p50
    renderNs = nanosBetween(t1, t2);
    return true;
}

// Counts start tags, attributes and character-data bytes of a serialised XML document.
void measureShape(const std::string& xml, Input& in) {
    in.cdaBytes = xml.size();
    bool inTag = false;
    for (size_t i = 0; i < xml.size(); ++i) {
        const char c = xml[i];
        if (!inTag) {
            if (c == '<') {
                inTag = true;
                if (i + 1 < xml.size() && std::isalpha(static_cast<unsigned char>(xml[i + 1]))) ++in.elements;
            } else {
                ++in.textBytes;
            }
        } else if (c == '>') {
            inTag = false;
        } else if (c == '=' && i + 1 < xml.size() && xml[i + 1] == '"') {
            ++in.attributes;
        }
    }
}

// ---- the floor -------------------------------------------------------------------------------

// A document with the product's byte size, element count, attribute count and text share, written
// with xmlTextWriter into a memory buffer (the same writer set-up as the product's CDA writer).
class WriterFloor {
public:
    explicit WriterFloor(const Input& in) : elements_(std::max<size_t>(in.elements, 1)) {
        attrsPerElement_ = static_cast<double>(in.attributes) / static_cast<double>(elements_);
        // Start from the product's own text share, then correct the lengths until the size matches.
        textPerElement_ = in.textBytes / elements_;
        attrLength_ = 12;
        for (int round = 0; round < 6; ++round) {
            const size_t got = write();
            if (got == 0 || in.cdaBytes == 0) break;
            const double ratio = static_cast<double>(in.cdaBytes) / static_cast<double>(got);
            if (std::fabs(ratio - 1) < 0.01) break;
            const double extra =
                (static_cast<double>(in.cdaBytes) - static_cast<double>(got)) / static_cast<double>(elements_);
            const double perElement = static_cast<double>(textPerElement_) + extra * 0.7;
            textPerElement_ = static_cast<size_t>(std::max(0.0, perElement));
            if (attrsPerElement_ > 0) {
                const double perAttr = static_cast<double>(attrLength_) + extra * 0.3 / attrsPerElement_;
                attrLength_ = static_cast<size_t>(std::max(1.0, perAttr));
            }
        }
    }

    // Writes the document; returns its size in bytes (0 on a libxml2 failure).
    size_t write() const {
        static const char* kNames[] = {"component", "section",   "entry",   "observation", "code",
                                       "value",     "paragraph", "content", "td",          "item"};
        static const char* kAttrs[] = {"code", "codeSystem", "displayName", "root", "extension", "value"};
        static const std::string kText(4096, 'x');
        static const std::string kValue = [] {
            std::string v;
            while (v.size() < 4096) v += "2.16.840.1.113883.6.96 ";
            return v;
        }();
        xmlBufferPtr buf = xmlBufferCreateSize(32 * 1024);
        if (!buf) return 0;
        xmlBufferCat(buf, BAD_CAST "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
        if (!w) {
            xmlBufferFree(buf);
            return 0;
        }
        const std::string text = kText.substr(0, std::min(textPerElement_, kText.size()));
        const std::string value = kValue.substr(0, std::min(attrLength_, kValue.size()));
        xmlTextWriterStartElement(w, BAD_CAST "ClinicalDocument");
        xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST "urn:hl7-org:v3");
        double attrCredit = 0;
        int depth = 0;
        for (size_t i = 1; i < elements_; ++i) {
            // Nest four deep, then climb back: roughly the CDA's mix of containers and leaves.
            xmlTextWriterStartElement(w, BAD_CAST kNames[i % 10]);
            attrCredit += attrsPerElement_;
            for (int a = 0; attrCredit >= 1; ++a, attrCredit -= 1)
                xmlTextWriterWriteAttribute(w, BAD_CAST kAttrs[a % 6], BAD_CAST value.c_str());
            if (!text.empty()) xmlTextWriterWriteString(w, BAD_CAST text.c_str());
            if (++depth == 4) {
                for (; depth > 0; --depth) xmlTextWriterEndElement(w);
            }
        }
        xmlTextWriterEndDocument(w);
        xmlFreeTextWriter(w);
        const size_t size = static_cast<size_t>(xmlBufferLength(buf));
        xmlBufferFree(buf);
        return size;
    }

private:
    size_t elements_;
    double attrsPerElement_ = 0;
    size_t textPerElement_ = 0;
    size_t attrLength_ = 12;
};

// Reading the same bytes with the parser alone: simdjson DOM (JSON) or libxml2 (XML); for HL7 v2,
// which has no library parser here, finding every segment and field boundary (memchr).
class ReaderFloor {
public:
    bool read(const Input& in) {
        if (in.hl7v2) {
            const char* p = in.data.data();
            const char* end = p + in.data.size();
            size_t fields = 0;
            while (p < end) {
                const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
                const char* segEnd = cr ? cr : end;
                for (const char* f = p;
                     (f = static_cast<const char*>(std::memchr(f, '|', static_cast<size_t>(segEnd - f)))); ++f)
                    ++fields;
                p = segEnd + 1;
            }
            fields_ += fields;  // kept, so the count is made
            return fields > 0;
        }
        if (in.json) {
            simdjson::dom::element root;
            return !parser_.parse(in.data.data(), in.data.size()).get(root);
        }
        xmlDocPtr doc =
            xmlReadMemory(in.data.data(), static_cast<int>(in.data.size()), "input.xml", nullptr, XML_PARSE_NONET);
        if (!doc) return false;
        xmlFreeDoc(doc);
        return true;
    }

private:
    simdjson::dom::parser parser_;
    size_t fields_ = 0;
};

struct FloorResult {
    Stats read, write;
    double writeBytesMean = 0;
};

FloorResult measureFloor(const std::vector<Input>& inputs, size_t iterations, double warmupSeconds) {
    FloorResult r;
    ReaderFloor reader;
    std::vector<WriterFloor> writers;
    double bytes = 0;
    for (const Input& in : inputs) {
        writers.emplace_back(in);
        bytes += static_cast<double>(writers.back().write());
    }
    r.writeBytesMean = bytes / static_cast<double>(inputs.size());
    std::vector<uint64_t> ns(iterations);
    auto run = [&](auto&& fn) {
        const auto w0 = Clock::now();
        for (size_t k = 0; secondsSince(w0) < warmupSeconds || k < inputs.size(); ++k) fn(k % inputs.size());
        for (size_t k = 0; k < iterations; ++k) {
            const auto t0 = Clock::now();
            fn(k % inputs.size());
            ns[k] = nanosBetween(t0, Clock::now());
        }
        return statsOf(ns);
    };
    r.read = run([&](size_t i) { reader.read(inputs[i]); });
    r.write = run([&](size_t i) { writers[i].write(); });
    return r;
}

// ---- output ------------------------------------------------------------------------------------

std::string num(double v, int decimals = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string jsonString(const std::string& s) {
    std::string out;
    tools::appendJsonString(out, s);
    return out;
}

const char* kBenchUsage =
    "usage: ppmg bench [--as-of YYYY-MM-DD] [--json] [--iterations N] [--threads N] [--warmup-ms MS]\n"
    "                  [--unit document|render|two-calls] [--no-floor] [--patient ID]\n"
    "                  [--input-format auto|json|xml|ccda|hl7v2] FILE...\n"
    "The unit (default document) is one assess_and_render call on one file through the C ABI: parse,\n"
    "rules, the JSON assessment and the CDA document. --unit render times one render call (parse,\n"
    "rules, CDA); --unit two-calls an assess call, then a render call (the record read twice).\n"
    "Warm-up is excluded. The floor: the same bytes read by simdjson (libxml2 for XML) alone, and a\n"
    "document of the same size and element density written by libxml2's xmlTextWriter alone.\n";

}  // namespace

int runBench(int argc, char** argv) {
    std::vector<std::string> valued = engineOptions();
    for (const char* o :
         {"--as-of", "--iterations", "--threads", "--warmup-ms", "--patient", "--input-format", "--unit"})
        valued.push_back(o);
    Args args;
    try {
        args = parseArgs(argc, argv, 2, valued, {"--json", "--no-floor", "--help"});
    } catch (const std::invalid_argument& e) {
        printError("", std::string(e.what()) + " (see ppmg bench --help)");
        return kBadInput;
    }
    if (args.has("--help")) {
        std::cout << kBenchUsage;
        return kOk;
    }
    if (args.positional.empty()) {
        printError("", "expected at least one FILE: ppmg bench [options] FILE... (see ppmg bench --help)");
        return kBadInput;
    }
    auto positiveInt = [&](const char* key, long dflt, long max, long& out) {
        const std::string v = args.get(key);
        if (v.empty()) {
            out = dflt;
            return true;
        }
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (errno || end == v.c_str() || *end != '\0' || n < 1 || n > max) {
            printError("", std::string(key) + " must be a whole number from 1 to " + std::to_string(max) + ", got \"" +
                               v + "\"");
            return false;
        }
        out = n;
        return true;
    };
    long iterations = 0, threads = 1, warmupMs = 0;
    if (!positiveInt("--iterations", 0, 100000000, iterations) || !positiveInt("--threads", 1, 256, threads) ||
        !positiveInt("--warmup-ms", 500, 600000, warmupMs))
        return kBadInput;
    const bool explicitIterations = args.has("--iterations");
    const std::string asOf = args.get("--as-of");
    if (!asOf.empty() && (asOf.size() != 10 || asOf[4] != '-' || asOf[7] != '-')) {
        printError("", "--as-of must be YYYY-MM-DD, got \"" + asOf + "\"");
        return kBadInput;
    }
    const std::string patient = args.get("--patient");
    const std::string inputFormat = args.get("--input-format", "auto");
    ppmg_input_format format = PPMG_INPUT_AUTO;
    if (inputFormat == "json")
        format = PPMG_INPUT_FHIR_JSON;
    else if (inputFormat == "xml")
        format = PPMG_INPUT_FHIR_XML;
    else if (inputFormat == "ccda")
        format = PPMG_INPUT_CCDA;
    else if (inputFormat == "hl7v2")
        format = PPMG_INPUT_HL7V2;
    else if (inputFormat != "auto") {
        printError("", "--input-format must be auto, json, xml, ccda or hl7v2");
        return kBadInput;
    }
    const bool json = args.has("--json");
    const std::string unitArg = args.get("--unit", "document");
    Unit unit;
    if (unitArg == "render")
        unit = Unit::Render;
    else if (unitArg == "document")
        unit = Unit::Both;
    else if (unitArg == "two-calls")
        unit = Unit::TwoCalls;
    else {
        printError("", "--unit must be document, render or two-calls, got \"" + unitArg + "\"");
        return kBadInput;
    }

    // 1. The files, into memory.
    std::vector<Input> inputs(args.positional.size());
    size_t inputBytes = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        Input& in = inputs[i];
        in.path = args.positional[i];
        try {
            in.data = readFile(in.path);
        } catch (const std::exception& e) {
            printError(in.path, e.what());
            return kBadInput;
        }
        inputBytes += in.data.size();
        const size_t first = in.data.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
        in.hl7v2 = format == PPMG_INPUT_HL7V2 ||
                   (format == PPMG_INPUT_AUTO && first != std::string::npos &&
                    (in.data.compare(first, 3, "MSH") == 0 || in.data.compare(first, 3, "FHS") == 0 ||
                     in.data.compare(first, 3, "BHS") == 0));
        in.json = !in.hl7v2 && (format == PPMG_INPUT_FHIR_JSON ||
                                (format == PPMG_INPUT_AUTO && first != std::string::npos && in.data[first] != '<'));
        ppmg_request& r = in.request;
        r.struct_size = sizeof r;
        r.data = in.data.data();
        r.size = in.data.size();
        r.input_format = format;
        r.output_format = PPMG_OUTPUT_DEFAULT;
        r.as_of = asOf.empty() ? nullptr : asOf.c_str();
        r.patient_id = patient.empty() ? nullptr : patient.c_str();
        r.source_name = in.path.c_str();
    }

    // 2. The plugin and the engine, as a host loads them (timed once, cold in this process).
    std::unique_ptr<host::Plugin> plugin;
    const auto l0 = Clock::now();
    try {
        plugin = host::Plugin::find(args.get("--plugin"));
    } catch (const host::LoadError& e) {
        printError("", e.what());
        return kFailure;
    }
    const double loadMs = secondsSince(l0) * 1e3;
    const ppmg_core_api_v1& api = plugin->core();
    if (unit == Unit::Both && !PPMG_CORE_API_HAS(&api, assess_and_render)) {
        printError("", "the plugin has no assess_and_render (ABI 1.1); use --unit two-calls");
        return kFailure;
    }
    ppmg_engine_options opts{};
    opts.struct_size = sizeof opts;
    const std::string content = args.get("--content"), custodian = args.get("--custodian"),
                      oid = args.get("--custodian-oid");
    if (!content.empty()) opts.content_dir = content.c_str();
    if (!custodian.empty()) opts.custodian_name = custodian.c_str();
    if (!oid.empty()) opts.custodian_oid = oid.c_str();
    ppmg_engine* engine = nullptr;
    ppmg_error* err = nullptr;
    const auto e0 = Clock::now();
    const ppmg_status created = api.engine_create(&opts, &engine, &err);
    const double createMs = secondsSince(e0) * 1e3;
    if (created != PPMG_OK) {
        printError(err && err->file ? err->file : "", err && err->message ? err->message : api.status_name(created));
        api.error_free(err);
        return kFailure;
    }
    struct EngineGuard {
        const ppmg_core_api_v1& api;
        ppmg_engine* e;
        ~EngineGuard() { api.engine_destroy(e); }
    } guard{api, engine};

    // 3. The first document of each file (cold caches), and the shape of what it writes.
    Failure failure;
    auto fail = [&](const Failure& f) {
        printError(f.file, f.message + " [" + api.status_name(f.status) + "]");
        return isInputError(f.status) ? kBadInput : kFailure;
    };
    double firstDocUs = 0;
    for (Input& in : inputs) {
        ppmg_buffer* out = nullptr;
        const auto t0 = Clock::now();
        ppmg_status s = api.assess(engine, &in.request, &out, &err);
        if (s == PPMG_OK) {
            in.jsonBytes = out->size;
            in.applicable = std::strncmp(out->data, "{\"applicable\":false", 19) != 0;
            api.buffer_free(out);
            s = api.render(engine, &in.request, &out, &err);
        }
        if (s != PPMG_OK) {
            Failure f{s, in.path, err && err->message ? err->message : api.status_name(s)};
            api.error_free(err);
            return fail(f);
        }
        if (&in == &inputs.front()) firstDocUs = secondsSince(t0) * 1e6;
        measureShape(std::string(out->data, out->size), in);
        api.buffer_free(out);
    }

    // 4. Warm-up on this thread, which also sizes the run when --iterations is not given.
    const double warmupSeconds = static_cast<double>(warmupMs) / 1e3;
    size_t warmDocs = 0;
    double warmSeconds = 0;
    {
        uint64_t a = 0, r = 0;
        size_t bytes = 0;
        const auto w0 = Clock::now();
        while ((warmSeconds = secondsSince(w0)) < warmupSeconds || warmDocs < inputs.size()) {
            if (!document(api, engine, inputs[warmDocs % inputs.size()], unit, a, r, bytes, failure))
                return fail(failure);
            ++warmDocs;
        }
    }
    const double warmDocUs = warmSeconds * 1e6 / static_cast<double>(warmDocs);
    if (!explicitIterations) {
        // About three seconds of measuring per thread, within [1000, 1000000] documents.
        const double perThread = 3e6 / std::max(warmDocUs, 0.001);
        iterations = static_cast<long>(std::clamp(perThread * static_cast<double>(threads), 1000.0, 1e6));
    }

    // 5. The measured run: `threads` threads share the engine, each after its own warm-up.
    const size_t total = static_cast<size_t>(iterations);
    const size_t nThreads = static_cast<size_t>(threads);
    struct Worker {
        std::vector<uint64_t> assessNs, renderNs;
        size_t bytesOut = 0;
        Failure failure;
        bool ok = true;
    };
    std::vector<Worker> workers(nThreads);
    for (size_t t = 0; t < nThreads; ++t) {
        const size_t share = total / nThreads + (t < total % nThreads ? 1 : 0);
        workers[t].assessNs.assign(share, 0);  // touched now, so RSS does not grow with the samples
        workers[t].renderNs.assign(share, 0);
    }
    std::atomic<size_t> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    const double threadWarmup = nThreads > 1 ? std::min(warmupSeconds, 0.2) : 0.0;
    for (size_t t = 0; t < nThreads; ++t) {
        pool.emplace_back([&, t] {
            Worker& w = workers[t];
            uint64_t a = 0, r = 0;
            size_t scratch = 0;
            const auto w0 = Clock::now();
            for (size_t k = t; w.ok && (secondsSince(w0) < threadWarmup || k < t + inputs.size()); ++k)
                w.ok = document(api, engine, inputs[k % inputs.size()], unit, a, r, scratch, w.failure);
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            for (size_t i = 0; w.ok && i < w.assessNs.size(); ++i)
                w.ok = document(api, engine, inputs[(t + i * nThreads) % inputs.size()], unit, w.assessNs[i],
                                w.renderNs[i], w.bytesOut, w.failure);
        });
    }
    while (ready.load() < nThreads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const long rssStart = currentRssKb();
    const auto m0 = Clock::now();
    go.store(true, std::memory_order_release);
    for (auto& th : pool) th.join();
    const double wallSeconds = secondsSince(m0);
    const long rssEnd = currentRssKb();
    for (const Worker& w : workers)
        if (!w.ok) return fail(w.failure);

    std::vector<uint64_t> docNs, assessNs, renderNs;
    docNs.reserve(total);
    size_t bytesOut = 0;
    for (const Worker& w : workers) {
        for (size_t i = 0; i < w.assessNs.size(); ++i) docNs.push_back(w.assessNs[i] + w.renderNs[i]);
        assessNs.insert(assessNs.end(), w.assessNs.begin(), w.assessNs.end());
        renderNs.insert(renderNs.end(), w.renderNs.begin(), w.renderNs.end());
        bytesOut += w.bytesOut;
    }
    workers.clear();
    const Stats doc = statsOf(docNs), as = statsOf(assessNs), rs = statsOf(renderNs);
    const double docsPerSecond = static_cast<double>(total) / wallSeconds;

    // 6. The floor, on this thread, after the product.
    const bool withFloor = !args.has("--no-floor");
    FloorResult floor;
    if (withFloor) floor = measureFloor(inputs, std::min<size_t>(total, 20000), std::min(warmupSeconds, 0.3));
    const double floorP50 = floor.read.p50 + floor.write.p50;
    const double peakRss = static_cast<double>(peakRssKb());

    double cdaMean = 0, jsonMean = 0;
    size_t applicable = 0;
    for (const Input& in : inputs) {
        cdaMean += static_cast<double>(in.cdaBytes);
        jsonMean += static_cast<double>(in.jsonBytes);
        applicable += in.applicable;
    }
    cdaMean /= static_cast<double>(inputs.size());
    jsonMean /= static_cast<double>(inputs.size());
    const double inputMean = static_cast<double>(inputBytes) / static_cast<double>(inputs.size());
    const std::string asOfShown = asOf.empty() ? "today" : asOf;

    if (json) {
        std::ostringstream o;
        o << "{\"p50_us\":" << num(doc.p50, 2) << ",\"p99_us\":" << num(doc.p99, 2)
          << ",\"docs_per_s\":" << num(docsPerSecond, 0) << ",\"peak_rss_kb\":" << num(peakRss, 0) << ",\"unit\":\""
          << unitName(unit) << "\",\"as_of\":" << jsonString(asOfShown) << ",\"files\":" << inputs.size()
          << ",\"applicable_files\":" << applicable << ",\"input_bytes_mean\":" << num(inputMean, 0)
          << ",\"iterations\":" << total << ",\"threads\":" << nThreads << ",\"p90_us\":" << num(doc.p90, 2)
          << ",\"p999_us\":" << num(doc.p999, 2) << ",\"max_us\":" << num(doc.max, 2)
          << ",\"mean_us\":" << num(doc.mean, 2);
        // For the record, what else the run measured: a two-calls run times its assess and render
        // calls apart; a render run's render_* are its own p50/p99; a document run (one
        // assess_and_render call) has no separate calls to time.
        if (unit == Unit::TwoCalls)
            o << ",\"assess_p50_us\":" << num(as.p50, 2) << ",\"assess_p99_us\":" << num(as.p99, 2);
        if (unit != Unit::Both) o << ",\"render_p50_us\":" << num(rs.p50, 2) << ",\"render_p99_us\":" << num(rs.p99, 2);
        o << ",\"bytes_out_per_doc\":" << num(static_cast<double>(bytesOut) / static_cast<double>(total), 0)
          << ",\"cda_bytes_mean\":" << num(cdaMean, 0) << ",\"json_bytes_mean\":" << num(jsonMean, 0)
          << ",\"plugin_load_ms\":" << num(loadMs, 3) << ",\"engine_create_ms\":" << num(createMs, 3)
          << ",\"first_doc_us\":" << num(firstDocUs, 1) << ",\"rss_start_kb\":" << rssStart
          << ",\"rss_end_kb\":" << rssEnd << ",\"wall_s\":" << num(wallSeconds, 3);
        if (withFloor) {
            o << ",\"floor\":{\"reader\":\""
              << (inputs.front().hl7v2  ? "er7-split"
                  : inputs.front().json ? "simdjson"
                                        : "libxml2")
              << "\",\"read_p50_us\":" << num(floor.read.p50, 2) << ",\"write_p50_us\":" << num(floor.write.p50, 2)
              << ",\"write_bytes_mean\":" << num(floor.writeBytesMean, 0) << ",\"total_p50_us\":" << num(floorP50, 2)
              << ",\"ratio\":" << num(floorP50 > 0 ? doc.p50 / floorP50 : 0, 2) << "}";
        }
        o << "}\n";
        std::cout << o.str();
    } else {
        auto row = [](const std::string& name, const Stats& s) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "  %-30s p50 %9.1f us  p99 %9.1f us  mean %9.1f us  max %9.1f us\n",
                          name.c_str(), s.p50, s.p99, s.mean, s.max);
            return std::string(buf);
        };
        std::cout << "ppmg bench: " << inputs.size() << " file(s), " << num(inputMean / 1024, 1)
                  << " KiB mean input, as of " << asOfShown << ", " << nThreads << " thread(s), " << total
                  << " documents measured (warm-up excluded)\n"
                  << (unit == Unit::Render
                          ? "  one document = a render call on one file through the C ABI (parse, rules, CDA)\n"
                      : unit == Unit::Both ? "  one document = an assess_and_render call on one file through the C ABI "
                                             "(parse, rules, JSON and CDA)\n"
                                           : "  one document = an assess call and a render call on one file through "
                                             "the C ABI (--unit two-calls)\n")
                  << row(std::string("document (") + unitName(unit) + ")", doc)
                  << (unit == Unit::TwoCalls ? row("  assess (JSON)", as) + row("  render (CDA)", rs) : std::string())
                  << "  throughput                     " << num(docsPerSecond, 0) << " documents/s ("
                  << num(docsPerSecond / static_cast<double>(nThreads), 0) << " per thread)\n"
                  << "  bytes out                      "
                  << num(static_cast<double>(bytesOut) / static_cast<double>(total), 0) << " per document (CDA "
                  << num(cdaMean, 0) << ", JSON " << num(jsonMean, 0) << ")\n"
                  << "  memory                         peak RSS " << num(peakRss / 1024, 1) << " MiB; RSS "
                  << num(static_cast<double>(rssStart) / 1024, 1) << " -> "
                  << num(static_cast<double>(rssEnd) / 1024, 1) << " MiB over the measured run\n"
                  << "  start-up                       plugin load " << num(loadMs, 2) << " ms, engine create "
                  << num(createMs, 2) << " ms, first document " << num(firstDocUs, 0) << " us\n";
        if (withFloor) {
            std::cout << "  floor: "
                      << (inputs.front().hl7v2  ? "er7-split"
                          : inputs.front().json ? "simdjson"
                                                : "libxml2")
                      << " read p50 " << num(floor.read.p50, 1) << " us + xmlTextWriter write of "
                      << num(floor.writeBytesMean, 0) << " bytes p50 " << num(floor.write.p50, 1)
                      << " us = " << num(floorP50, 1) << " us\n"
                      << "  cost over the floor            " << num(floorP50 > 0 ? doc.p50 / floorP50 : 0, 2) << "x\n";
        }
        if (applicable < inputs.size())
            std::cout << "  note: " << inputs.size() - applicable << " of " << inputs.size()
                      << " file(s) were out of scope as of " << asOfShown
                      << " (short documents); pass --as-of for the record's own date\n";
    }
    return kOk;
}

}  // namespace ppmg::cli
